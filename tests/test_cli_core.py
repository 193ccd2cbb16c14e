"""`wacket run`, `hosts status|services` and `log --from` end to end against real sshd hosts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wacket import journal


@pytest.fixture
def fleet_with_down(testbed, isolated_env, closed_port):
    """The three real hosts plus one whose port is closed."""
    testbed.write_fleet(
        isolated_env,
        Path(os.environ["WACKET_CONFIG"]),
        f'[hosts.down]\naddress = "127.0.0.1"\nport = {closed_port}\ntags = ["a"]\n',
    )
    return testbed


def lines(data: bytes) -> list[str]:
    return data.decode().splitlines()


def test_run_prefixes_output_and_summarises(fleet, run_wacket):
    res = run_wacket("run", "h1,h2,local", "--", "echo", "a  b")
    assert res.returncode == 0, res.stderr
    assert sorted(lines(res.stdout)) == ["h1   : a  b", "h2   : a  b", "local: a  b"]
    assert "ok: h1,h2,local" in res.stderr.decode()


def test_run_exit_codes_partial_and_unreachable(fleet_with_down, run_wacket):
    res = run_wacket(
        "run",
        "h1,h2",
        "--",
        "sh",
        "-c",
        'test "$SSH_CONNECTION" != "${SSH_CONNECTION#*127.0.0.2 }"',
    )
    assert res.returncode == 1
    assert "failed: h2(1)" in res.stderr.decode() and "ok: h1" in res.stderr.decode()
    res = run_wacket("run", "@a", "--", "true")
    assert res.returncode == 3
    err = res.stderr.decode()
    assert "unreachable: down(refused)" in err and "ok: h1,h2" in err


def test_run_gather_merges_identical_output(fleet, run_wacket):
    res = run_wacket("run", "all", "--gather", "--", "echo same")
    assert res.returncode == 0
    out = res.stdout.decode()
    assert "local,h1,h2,h3 (4)" in out and out.count("same") == 1


def test_run_jsonl_records_keep_bytes(fleet, run_wacket):
    res = run_wacket("run", "h1,h3", "--jsonl", "--", "printf 'x\\377'; echo e >&2; exit 2")
    assert res.returncode == 1
    recs = {r["host"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert set(recs) == {"h1", "h3"}
    for r in recs.values():
        assert r["rc"] == 2 and os.fsencode(r["stdout"]) == b"x\xff" and r["stderr"] == "e\n"
        assert set(r) >= {"host", "rc", "stdout", "stderr", "seconds"}


def test_run_hostile_file_name_arguments(fleet, run_wacket):
    target = fleet.hosts[0].home / "names"
    target.mkdir(exist_ok=True)
    name = '-it\'s a "file"\nwith newline'
    res = run_wacket("run", "h1", "--", "touch", "--", f"{target}/{name}")
    assert res.returncode == 0, res.stderr
    assert (target / name).exists()


def test_run_timeout_counts_as_failure(fleet, run_wacket):
    res = run_wacket("run", "h1", "--timeout", "1", "--", "sleep 30")
    assert res.returncode == 1 and "failed: h1(timeout)" in res.stderr.decode()


def test_run_is_journaled(fleet, run_wacket):
    run_wacket("run", "h1,h2", "--", "true")
    rows = journal.query(command="run")
    assert rows and json.loads(rows[-1]["hosts"]) == ["h1", "h2"] and rows[-1]["outcome"] == "ok"


def test_run_never_reads_stdin(fleet, run_wacket):
    # stdin is an open pipe that never ends: a command that read it would hang.
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "run", "h1", "--", "echo", "done"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out == b"h1: done\n"


def test_status_reports_up_and_down(fleet_with_down, run_wacket):
    res = run_wacket("hosts", "status", "all", "--jsonl")
    assert res.returncode == 0, res.stderr
    recs = {r["host"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert recs["down"]["state"] == "down" and recs["down"]["reason"] == "refused"
    for name in ("local", "h1", "h2", "h3"):
        r = recs[name]
        assert r["state"] == "up" and r["kernel"] and r["python"].startswith("3.")
        assert "rsync" in r["tools"] and r["mem_total"] > 0 and r["root_free_bytes"] > 0
        assert r["home_free_bytes"] > 0 and r["cpus"] >= 1 and len(r["load"].split()) == 3
    assert run_wacket("hosts", "status", "all", "--check").returncode == 1
    assert run_wacket("hosts", "status", "h1,h2", "--check").returncode == 0


def test_status_timeout_and_auth_reasons(testbed, isolated_env, hang_server, run_wacket):
    toml = f'[hosts.hang]\naddress = "127.0.0.1"\nport = {hang_server.port}\n'
    toml += f'[hosts.bad]\naddress = "127.0.0.2"\nport = {testbed.hosts[0].port}\nuser = "root"\n'
    toml += f'identity = "{testbed.wrong_key}"\n'
    testbed.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), toml)
    res = run_wacket("hosts", "status", "hang,bad", "--connect-timeout", "1", "--json")
    recs = {r["host"]: r for r in json.loads(res.stdout)}
    assert recs["hang"]["reason"] == "timeout" and recs["bad"]["reason"] == "auth"


def test_status_unknown_key_then_accept_new(testbed, isolated_env, run_wacket):
    testbed.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]))
    (isolated_env / ".ssh/known_hosts").write_text("")
    res = run_wacket("hosts", "status", "h1", "--json")
    rec = json.loads(res.stdout)[0]
    assert rec["reason"] == "host key unknown" and "--accept-new" in rec["error"]
    rec = json.loads(run_wacket("hosts", "status", "h1", "--json", "--accept-new").stdout)[0]
    assert rec["state"] == "up"


def test_services_lists_sshd(fleet, run_wacket):
    res = run_wacket("hosts", "services", "h2", "--jsonl")
    assert res.returncode == 0, res.stderr
    recs = [json.loads(x) for x in res.stdout.splitlines()]
    mine = [r for r in recs if r["kind"] == "listen" and r["port"] == fleet.hosts[1].port]
    assert mine and mine[0]["process"] == "sshd" and mine[0]["address"] == "127.0.0.3"


def test_log_from_merges_remote_journals(fleet, run_wacket):
    local_data = os.environ["WACKET_DATA"]
    os.environ["WACKET_DATA"] = str(fleet.hosts[0].home / ".local/share/wacket")
    try:  # write h1's own journal, where the helper on h1 will find it
        journal.record("backup", ["nas"], "remote entry from h1", "ok", started=1_000.0)
    finally:
        os.environ["WACKET_DATA"] = local_data

    run_wacket("run", "h2", "--", "true")
    res = run_wacket("log", "--from", "h1", "--jsonl")
    assert res.returncode == 0, res.stderr
    recs = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["machine"] for r in recs][:1] == ["h1"]
    assert recs[0]["summary"] == "remote entry from h1" and recs[-1]["command"] == "run"
    only = run_wacket("log", "--from", "h1", "--command", "backup", "--jsonl").stdout.splitlines()
    assert len(only) >= 1 and all(json.loads(x)["command"] == "backup" for x in only)


@pytest.mark.parametrize(
    "args",
    [["--help"], ["hosts", "list", "--help"], ["hosts", "status", "--help"],
     ["hosts", "services", "--help"], ["run", "--help"], ["log", "--help"]],
)  # fmt: skip
def test_help_has_examples(run_wacket, args):
    res = run_wacket(*args)
    assert res.returncode == 0 and b"Example" in res.stdout


def test_version(run_wacket):
    from wacket import __version__

    res = run_wacket("--version")
    assert res.returncode == 0 and __version__ in res.stdout.decode()


def test_usage_error_exit_2_without_traceback(run_wacket):
    res = run_wacket("run")
    assert res.returncode == 2 and b"Traceback" not in res.stderr
    res = run_wacket("hosts", "status", "--forks", "0")
    assert res.returncode == 2
