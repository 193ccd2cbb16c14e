"""`run` and `map`: options between HOSTS and `--` are wacket's (an unknown one is a usage error);
everything after `--`, or from the first word of the command on, is the command's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def weird(tmp_path: Path) -> dict[str, str]:
    """An executable named `--weird-cmd` on PATH (a command wacket must never parse)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "--weird-cmd"
    script.write_text('#!/bin/sh\necho "weird $*"\n')
    script.chmod(0o755)
    return {"PATH": f"{bindir}:{os.environ['PATH']}"}


@pytest.mark.parametrize("command", ["run", "map"])
def test_unknown_option_before_dashdash_is_a_usage_error(run_wacket, tmp_path, command):
    marker = tmp_path / "ran"
    r = run_wacket(command, "local", "--bogus", "--", "touch", str(marker), input=b"item\n")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert b"No such option '--bogus'" in r.stderr
    assert not marker.exists() and r.stdout == b""


def test_unknown_option_suggests_the_right_one(run_wacket):
    r = run_wacket("run", "local", "--timout", "5", "--", "true")
    assert r.returncode == 2 and b"--timout" in r.stderr and b"--timeout" in r.stderr


def test_unknown_option_before_the_command_word_without_dashdash(run_wacket):
    r = run_wacket("run", "local", "--bogus", "echo", "hi")
    assert r.returncode == 2 and b"--bogus" in r.stderr and r.stdout == b""


def test_options_of_the_command_pass_through(fleet, run_wacket, weird):
    # without `--`: from the command's first word on, everything is the command's
    r = run_wacket("run", "local", "--timeout", "30", "echo", "-n", "hi", "--bogus")
    assert (r.returncode, r.stdout) == (0, b"local: hi --bogus\n"), r.stderr
    r = run_wacket("run", "local", "echo", "-n", "--", "-x")  # a `--` of the command's own
    assert (r.returncode, r.stdout) == (0, b"local: -- -x\n"), r.stderr
    for host in ("local", "h1"):
        env = weird if host == "local" else {}
        path = "" if host == "local" else f"PATH={weird['PATH']} "
        # after `--`, one word (a shell command line) and several (quoted one by one)
        r = run_wacket("run", host, "--", f"{path}--weird-cmd" if path else "--weird-cmd", env=env)
        assert (r.returncode, r.stdout) == (0, f"{host}: weird \n".encode()), r.stderr
        if not path:
            r = run_wacket("run", host, "-t", "30", "--", "--weird-cmd", "-x", "--y", env=env)
            assert (r.returncode, r.stdout) == (0, f"{host}: weird -x --y\n".encode()), r.stderr


def test_dash_command_line_reaches_the_host_shell(fleet, run_wacket, weird):
    """A command line that starts with '-' is not taken by the host's `sh -c` for its option."""
    r = run_wacket("run", "local,h1", "--", "-true", env=weird)
    assert b"Illegal option" not in r.stderr and b"option requires" not in r.stderr, r.stderr
    assert b"failed: local(127),h1(127)" in r.stderr  # the shell looked for a command "-true"


def test_map_options_and_command_options(run_wacket, tmp_path):
    r = run_wacket("map", "local", "-k", "--", "echo", "-n", "{}", "--x", input=b"a\nb\n")
    assert (r.returncode, r.stdout) == (0, b"a --xb --x"), r.stderr  # echo -n: no newlines
    r = run_wacket("map", "local", "--jobs-per-hots", "2", "--", "true", input=b"a\n")
    assert r.returncode == 2 and b"--jobs-per-host" in r.stderr


def test_help_still_works(run_wacket):
    for command in ("run", "map"):
        r = run_wacket(command, "--help")
        assert r.returncode == 0 and b"Usage:" in r.stdout
        r = run_wacket(command, "local", "--help")
        assert r.returncode == 0 and b"Usage:" in r.stdout
