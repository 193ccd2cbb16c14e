"""Host keys through rsync: sync, backup and find get check the key as every other command does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from wacket.paths import known_hosts_path


def _unknown(fleet):
    known_hosts_path().write_text("")


def _changed(fleet, tmp_path: Path):
    other = tmp_path / "other_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
        check=True,
        capture_output=True,
    )
    hid = fleet.hosts[0].known_hosts_line().split()[0]
    known_hosts_path().write_text(
        hid + " " + " ".join(Path(f"{other}.pub").read_text().split()[:2]) + "\n"
    )


def _line(res) -> str:
    err = res.stderr.decode()
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def _reference(run_wacket) -> str:
    """What `wacket run h1 -- true` says for the same known_hosts, as a one-line error."""
    res = run_wacket("run", "h1", "--", "true")
    assert res.returncode == 3
    found = re.search(r"unreachable \(host key [a-z]+\): .*", res.stderr.decode())
    assert found, res.stderr
    return "wacket: error: h1: " + found.group(0)


def _commands(tmp_path: Path, fleet) -> dict:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "a.txt").write_text("a\n")
    remote = fleet.hosts[0].home / "hk-src"
    remote.mkdir(exist_ok=True)
    (remote / "r.txt").write_text("r\n")
    return {
        "sync to": ["sync", f"{src}/", "h1:hk-dest/"],
        "sync from": ["sync", f"h1:{remote}/", str(tmp_path / "sync-back")],
        "backup from": [
            "backup", "run", "--source", f"h1:{remote}", "--target", str(tmp_path / "bk"),
            "--name", "hk", "--create-target",
        ],
        "find get": ["find", "get", f"h1:{remote}/r.txt", str(tmp_path / "got.txt")],
    }  # fmt: skip


@pytest.mark.parametrize("what", ["sync to", "sync from", "backup from", "find get"])
@pytest.mark.parametrize("key", ["unknown", "changed"])
def test_host_key_errors_match_the_paramiko_ones(fleet, run_wacket, tmp_path, what, key):
    if key == "unknown":
        _unknown(fleet)
        reason = "host key unknown"
    else:
        _changed(fleet, tmp_path)
        reason = "host key changed"
    ref = _reference(run_wacket)
    assert f"unreachable ({reason})" in ref and "SHA256:" in ref
    argv = _commands(tmp_path, fleet)[what]
    res = run_wacket(*argv)
    assert res.returncode == 3, (res.returncode, res.stderr)
    line = _line(res)
    # The same reason, fingerprint and hint as `wacket run`.
    assert line == ref, (line, ref)
    assert "Host key verification failed" not in res.stderr.decode()
    if key == "changed":
        # Refused even with --accept-new, with the same words.
        res = run_wacket(*argv, "--accept-new")
        assert res.returncode == 3 and _line(res) == ref


@pytest.mark.parametrize("what", ["sync to", "sync from", "backup from", "find get"])
def test_accept_new_records_the_key_then_rsync_runs(fleet, run_wacket, tmp_path, what):
    _unknown(fleet)
    argv = _commands(tmp_path, fleet)[what]
    res = run_wacket(*argv, "--accept-new")
    assert res.returncode == 0, res.stderr
    recorded = known_hosts_path().read_text().split()
    assert recorded[:3] == fleet.hosts[0].known_hosts_line().split()[:3]
    # Recorded once: a second run needs no opt-in.
    res = run_wacket(*argv)
    assert res.returncode == 0, res.stderr
    assert len(known_hosts_path().read_text().splitlines()) == 1
