"""An empty host set (a shell variable that came out empty, or only commas) is a usage error in
every command that takes one, against the real fleet: it never means "every host"."""

from __future__ import annotations

import pytest

EMPTY = ["", ",", " , ,", " "]

# Each command with the host set as "{}", and a mark on stdout that it ran somewhere.
COMMANDS = [
    ("run", "{}", "--", "echo ran-here"),
    ("map", "{}", "--items", "ITEMS", "--", "echo ran-here {}"),
    ("hosts", "status", "{}"),
    ("hosts", "services", "{}", "--no-systemd"),
    ("backup", "drives", "{}", "--all"),
    ("gpio", "info", "{}"),
    ("find", "index", "{}"),
    ("find", "dupes", "{}"),
    ("find", "--host", "{}", "ran"),
    ("find", "query", "--host", "{}", "ran"),
    ("log", "--from", "{}"),
    ("msg", "send", "{}", "ran-here"),
    ("clip", "backends", "{}"),
    ("links", "sources", "--discover", "{}"),
]


@pytest.mark.parametrize("spec", EMPTY, ids=repr)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_empty_host_set_is_a_usage_error(fleet, run_wacket, tmp_path, command, spec):
    items = tmp_path / "items"
    items.write_text("one\n")
    args = [spec if a == "{}" else str(items) if a == "ITEMS" else a for a in command]
    res = run_wacket(*args, timeout=90)
    err = res.stderr.decode()
    assert res.returncode == 2, (res.returncode, err)
    assert "empty host set" in err and "internal error" not in err
    assert b"ran-here" not in res.stdout and b"indexed" not in res.stdout


def test_all_is_still_every_host(fleet, run_wacket):
    res = run_wacket("run", "all", "--", "echo ran-here")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count(b"ran-here") == 4
    # A stray comma around real names is harmless; ranges keep their inner commas.
    res = run_wacket("run", ",h[1,3],", "--", "echo ran-here")
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.decode().splitlines()) == ["h1: ran-here", "h3: ran-here"]
