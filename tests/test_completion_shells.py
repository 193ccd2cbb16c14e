"""The committed completions in the real shells: paths complete as paths, names from the config
(and snapshots from the backup target), and an argument with nothing to offer offers nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from probe import run_probe
from test_docs import ZSH_PROBE, bash_complete

COMPLETIONS = Path(__file__).resolve().parent.parent / "completions"


@pytest.fixture
def env(tmp_path: Path, isolated_env: Path) -> dict[str, str]:
    """`wacket` on PATH, a config with a backup set that has one snapshot, a sync profile, a
    mail account and named GPIO pins; the shells start in a directory holding Documents/ and
    Docs/ (and HOME holds them too)."""
    home = isolated_env
    for where in (home, tmp_path / "cwd"):
        (where / "Documents").mkdir(parents=True)
        (where / "Docs").mkdir()
        (where / "Doc notes.txt").write_text("x")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    (tmp_path / "backups").mkdir()  # a backup target is never created implicitly
    config = Path(os.environ["WACKET_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[hosts.box]\naddress = "127.0.0.9"\n'
        f'[backup.home]\nsources = ["{tmp_path / "src"}"]\ntarget = "{tmp_path / "backups"}"\n'
        '[sync.docs]\na = "/tmp/a"\nb = "/tmp/b"\n'
        '[mail.work]\nhost = "127.0.0.1"\nuser = "me"\n'
        '[gpio.box]\nbackend = "sim"\nheater = { line = "GPIO17" }\ndoor = { line = "GPIO27" }\n'
    )
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "wacket"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m wacket "$@"\n')
    wrapper.chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    res = subprocess.run(
        ["wacket", "-q", "backup", "run", "home"], env=env, capture_output=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    return env


def snapshots(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "backups" / "home").iterdir() if p.is_dir()}


# What each shell must offer: (command line, expected, exact?). Paths are relative to the shell's
# directory or to ~; a subset check where the shell may add more (the names of other files).
CASES = [
    ("wacket sync ~/Doc", {"~/Documents", "~/Docs", "~/Doc notes.txt"}, True),
    ("wacket sync Doc", {"Documents", "Docs", "Doc notes.txt"}, True),
    ("wacket sync do", {"docs"}, False),
    ("wacket sync Docs ~/Doc", {"~/Documents", "~/Docs", "~/Doc notes.txt"}, True),
    ("wacket backup run --source ~/Doc", {"~/Documents", "~/Docs", "~/Doc notes.txt"}, True),
    ("wacket find index --root Doc", {"Documents", "Docs", "Doc notes.txt"}, True),
    ("wacket mail import ~/Doc", {"~/Documents", "~/Docs", "~/Doc notes.txt"}, True),
    ("wacket links merge Doc", {"Documents", "Docs", "Doc notes.txt"}, True),
    ("wacket backup run ", {"home"}, True),
    ("wacket backup list ", {"home"}, True),
    ("wacket mail login ", {"work"}, True),
    ("wacket mail search --account ", {"work"}, True),
    ("wacket gpio get box ", {"door", "heater"}, True),
    ("wacket gpio toggle box heater ", {"door", "heater"}, True),
    ("wacket backup restore home ", "SNAPSHOTS", True),
    # nothing to offer: not every shell command, not files
    ("wacket gpio set box ", set(), True),
    ("wacket backup restore home latest ", set(), True),
    ("wacket mail show ", set(), True),
    ("wacket links search ", set(), True),
    ("wacket backup run --name ", set(), True),
]


def want(expected, tmp_path: Path) -> set[str]:
    return snapshots(tmp_path) | {"latest"} if expected == "SNAPSHOTS" else expected


def normal(names: set[str]) -> set[str]:
    """fish ends a directory with /, bash and zsh do not: compare without it."""
    return {n.rstrip("/") for n in names}


def check(got: set[str], expected: set[str], exact: bool, line: str) -> None:
    got = normal(got)
    if exact:
        assert got == expected, line
    else:
        assert expected <= got, line


def test_snapshot_exists(env, tmp_path):
    assert len(snapshots(tmp_path)) == 1


@pytest.mark.parametrize("line,expected,exact", CASES, ids=[c[0] for c in CASES])
def test_bash(env, tmp_path, line, expected, exact, monkeypatch):
    monkeypatch.chdir(tmp_path / "cwd")
    words = line.split(" ")
    check(
        bash_complete(COMPLETIONS / "wacket.bash", words, env),
        want(expected, tmp_path),
        exact,
        line,
    )


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh not installed")
@pytest.mark.parametrize("line,expected,exact", CASES, ids=[c[0] for c in CASES])
def test_zsh(env, tmp_path, line, expected, exact):
    res = subprocess.run(
        ["zsh", "-f", "-c", ZSH_PROBE, "probe", str(COMPLETIONS), line],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path / "cwd",
        timeout=60,
    )
    got = set(res.stdout.split("\n")) - {""}
    # zsh offers the last path component (it keeps the typed directory part itself)
    expected = {e.removeprefix("~/") for e in want(expected, tmp_path)}
    check(got, expected, exact, line)


@pytest.mark.skipif(not shutil.which("fish"), reason="fish not installed")
@pytest.mark.parametrize("line,expected,exact", CASES, ids=[c[0] for c in CASES])
def test_fish(env, tmp_path, line, expected, exact):
    script = f"source {COMPLETIONS / 'wacket.fish'}; complete -C {line!r}"
    res = subprocess.run(
        ["fish", "--no-config", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path / "cwd",
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    got = {ln.split("\t")[0] for ln in res.stdout.splitlines()}
    if not exact:  # fish matches case-insensitively: Docs/ for do
        got = {g for g in got if g.startswith(line.rsplit(" ", 1)[1])}
    check(got, want(expected, tmp_path), exact, line)


def test_complete_command_lists_names_without_click(env):
    lines, loaded = run_probe(
        "from wacket.cli.entry import main", "main(['complete', 'pin', 'box'])"
    )
    assert lines == ["door", "heater", "EXIT 0"]
    assert "click" not in loaded and "paramiko" not in loaded
    lines, _ = run_probe("from wacket.cli.entry import main", "main(['complete', 'profile'])")
    assert lines == ["docs", "EXIT 0"]


def test_snapshots_come_from_a_remote_target(fleet, run_wacket, tmp_path, isolated_env):
    """`backup verify SET <TAB>` lists the snapshots on the set's target host (a real sshd)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    target = fleet.hosts[0].home / f"bk-{tmp_path.name}"
    target.mkdir()
    config = Path(os.environ["WACKET_CONFIG"])
    fleet.write_fleet(
        isolated_env, config, f'[backup.r]\nsources = ["{src}"]\ntarget = "h1:{target}"\n'
    )
    assert run_wacket("-q", "backup", "run", "r").returncode == 0
    snaps = sorted(p.name for p in (target / "r").iterdir() if p.is_dir())
    assert len(snaps) == 1
    assert run_wacket("complete", "snapshot", "r").stdout.decode().split() == [*snaps, "latest"]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "wacket").write_text(f'#!/bin/sh\nexec {sys.executable} -m wacket "$@"\n')
    (bindir / "wacket").chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    words = ["wacket", "backup", "verify", "r", ""]
    assert bash_complete(COMPLETIONS / "wacket.bash", words, env) == {*snaps, "latest"}
