"""wacket clip across real sshd hosts: the ring on a remote hub, copy on one machine and paste on
another, and the system clipboards of other machines (each with its own Xvfb display)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import xbed


@pytest.fixture
def hub(fleet, isolated_env: Path, tmp_path: Path):
    """h1 is the hub; its ring lives in a fresh directory for this test."""
    store = tmp_path / "hub-store"
    extra = f'[clip]\nhub = "h1"\nstore = "{store}"\nname = "here"\n'
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), extra)
    return store


PAYLOADS = {
    "unicode": "Grüße aus Köln — 日本語 — ✓\n".encode(),
    "link": b"https://example.org/a/b?c=d&e=f#g",
    "html": b"<p>Some <b>bold</b> and <a href='https://example.org'>a link</a></p>",
    "binary": (b"\x00\xff\x00" + os.urandom(4096)) * 1200,  # ~5 MB with NUL bytes
}
KINDS = {"unicode": "text", "link": "link", "html": "html", "binary": "binary"}


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_round_trip_through_remote_hub(run_wacket, hub: Path, name: str) -> None:
    payload = PAYLOADS[name]
    r = run_wacket("clip", "copy", "--jsonl", input=payload)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert (rec["kind"], rec["size"], rec["hub"], rec["source"]) == (
        KINDS[name],
        len(payload),
        "h1",
        "here",
    )
    r = run_wacket("clip", "paste")
    assert r.returncode == 0, r.stderr
    assert r.stdout == payload
    # The entry lives on the hub, not here.
    assert [p.read_bytes() for p in (hub / "blobs").iterdir()] == [payload]
    assert not (Path(os.environ["WACKET_DATA"]) / "clip").exists()


def test_copy_on_one_host_paste_on_another(fleet, isolated_env: Path, tmp_path: Path) -> None:
    """wacket runs on h2 (copy) and on h3 (paste), each logged in over SSH; the hub is h1."""
    hosts = fleet.by_name()
    store = tmp_path / "hub-store"
    machines = {
        name: xbed.make_machine(
            fleet, tmp_path, name, f'[clip]\nhub = "h1"\nstore = "{store}"\nname = "{name}"\n'
        )
        for name in ("h2", "h3")
    }
    payload = os.urandom(5 * 1024 * 1024 - 7) + b"\x00\x00\x00tail\x00\x00\x00"
    r = xbed.remote_wacket(
        fleet, isolated_env, hosts["h2"], machines["h2"], "clip", "copy", input=payload
    )
    assert r.returncode == 0, r.stderr
    r = xbed.remote_wacket(fleet, isolated_env, hosts["h3"], machines["h3"], "clip", "paste")
    assert r.returncode == 0, r.stderr
    assert r.stdout == payload
    # A file keeps its name on the way.
    src = machines["h2"]["home"] / "notes – März.txt"
    src.write_text("file body\n")
    r = xbed.remote_wacket(
        fleet, isolated_env, hosts["h2"], machines["h2"], "clip", "copy", str(src)
    )
    assert r.returncode == 0, r.stderr
    out = machines["h3"]["home"] / "Downloads"
    r = xbed.remote_wacket(
        fleet, isolated_env, hosts["h3"], machines["h3"], "clip", "paste", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr
    assert (out / src.name).read_text() == "file body\n"
    r = xbed.remote_wacket(
        fleet, isolated_env, hosts["h3"], machines["h3"], "clip", "list", "--jsonl"
    )
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(e["kind"], e["source"]) for e in rows] == [("file", "h2"), ("binary", "h2")]


@pytest.fixture
def two_displays():
    with xbed.Xvfb() as a, xbed.Xvfb() as b:
        yield a, b


def test_system_clipboards_of_other_machines(run_wacket, fleet, isolated_env, two_displays):
    a, b = two_displays
    extra = (
        f'[clip.hosts.h2]\ndisplay = "{a.display}"\n'
        f'[clip.hosts.h3]\ndisplay = "{b.display}"\nbackend = "xsel"\n'
    )
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), extra)
    text = "über alles ✓".encode()
    r = run_wacket("clip", "copy", "--to", "h2,h3", "--jsonl", input=text, timeout=90)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["placed_on"] == ["h2", "h3"]
    assert a.xclip_get() == text
    assert b.xclip_get() == text
    # Read another machine's clipboard as it is now.
    a.xclip_set(b"<b>changed on h2</b>", "text/html")
    r = run_wacket("clip", "paste", "--system-of", "h2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"<b>changed on h2</b>"
    r = run_wacket("clip", "copy", "--system-of", "h2", "--jsonl")
    assert json.loads(r.stdout)["kind"] == "html"
    # Formatted text goes to another machine as text/html.
    assert run_wacket("clip", "copy", "--to", "h2", input=b"<p>x <i>y</i></p>").returncode == 0
    assert a.xclip_get("text/html") == b"<p>x <i>y</i></p>"
    r = run_wacket("clip", "backends", "h2,h3", "--jsonl")
    assert [json.loads(line)["backend"] for line in r.stdout.splitlines()] == ["xclip", "xsel"]


def test_remote_machine_without_display(run_wacket, fleet) -> None:
    r = run_wacket("clip", "paste", "--system-of", "h2")
    assert r.returncode == 1
    assert b"h2: no system clipboard here" in r.stderr
    assert b"[clip.hosts.NAME] display" in r.stderr


def test_hub_unreachable(run_wacket, fleet, isolated_env: Path, closed_port: int) -> None:
    extra = (
        f'[hosts.nas]\naddress = "127.0.0.1"\nport = {closed_port}\nuser = "root"\n'
        f'identity = "{fleet.client_key}"\n[clip]\nhub = "nas"\n'
    )
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), extra)
    for args in (("clip", "copy"), ("clip", "paste"), ("clip", "list"), ("msg", "list")):
        r = run_wacket(*args, input=b"data")
        assert r.returncode == 3, (args, r.stderr)
        assert r.stderr.startswith(b"wacket: error: clipboard hub nas: unreachable (refused)")
        assert b"Traceback" not in r.stderr


def test_other_rings_with_hub_and_from(run_wacket, fleet, isolated_env: Path, tmp_path) -> None:
    """--hub and --from reach a ring on another machine than the configured hub (local here)."""
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]))
    assert run_wacket("clip", "copy", input=b"kept here").returncode == 0
    assert run_wacket("clip", "copy", "--hub", "h3", input=b"kept on h3").returncode == 0
    assert run_wacket("clip", "paste").stdout == b"kept here"
    assert run_wacket("clip", "paste", "--from", "h3").stdout == b"kept on h3"
    r = run_wacket("clip", "list", "--hub", "h3", "--jsonl")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(e["preview"], e["hub"]) for e in rows[:1]] == [("kept on h3", "h3")]
    assert run_wacket("clip", "rm", "1", "--hub", "h3").returncode == 0
    r = run_wacket("clip", "backends", "local,h2", "--jsonl", env={"DISPLAY": None})
    assert r.returncode == 1
    assert [json.loads(line)["backend"] for line in r.stdout.splitlines()] == [None, None]


def test_place_on_an_unreachable_machine(run_wacket, fleet, isolated_env, closed_port) -> None:
    """The entry is stored; the machine that cannot be reached is named; exit 3."""
    extra = (
        f'[hosts.gone]\naddress = "127.0.0.1"\nport = {closed_port}\nuser = "root"\n'
        f'identity = "{fleet.client_key}"\n'
    )
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), extra)
    r = run_wacket("clip", "copy", "--to", "gone", input=b"still stored")
    assert r.returncode == 3
    assert b"gone: unreachable (refused)" in r.stderr
    assert run_wacket("clip", "paste").stdout == b"still stored"
    r = run_wacket("log", "--command", "clip copy", "--jsonl")
    assert json.loads(r.stdout)["outcome"] == "partial"
