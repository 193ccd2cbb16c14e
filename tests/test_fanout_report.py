"""Every fan-out command accounts for every host it asked, against real sshds and a host whose
port is closed: its rows, or that it had none, or why it could not be reached (its name once)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ASKED = ["local", "h1", "gone"]


@pytest.fixture
def with_gone(testbed, isolated_env, closed_port):
    testbed.write_fleet(
        isolated_env,
        Path(os.environ["WACKET_CONFIG"]),
        f'[hosts.gone]\naddress = "127.0.0.1"\nport = {closed_port}\nuser = "root"\n',
    )
    return testbed


COMMANDS = [
    ("backup", "drives", "{}"),
    ("hosts", "services", "{}", "--no-systemd"),
    ("hosts", "status", "{}"),
    ("gpio", "info", "{}"),
    ("gpio", "info", "{}", "--chips"),
    ("links", "sources", "--discover", "{}"),
    ("run", "{}", "--", "echo ran"),
]


def _code(command) -> int:
    return 0 if command[:2] == ("hosts", "status") else 3  # status exits 1 only with --check


def _args(command, fmt):
    args = [",".join(ASKED) if a == "{}" else a for a in command]
    if fmt:
        args.insert(args.index("--") if "--" in args else len(args), fmt)
    return args


@pytest.mark.parametrize("fmt", ["--json", "--jsonl"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_json_has_a_record_for_every_host_asked(with_gone, run_wacket, command, fmt):
    res = run_wacket(*_args(command, fmt), timeout=90)
    assert res.returncode == _code(command), res.stderr
    out = res.stdout.decode()
    records = json.loads(out) if fmt == "--json" else [json.loads(x) for x in out.splitlines()]
    assert {r["host"] for r in records} == set(ASKED), records
    gone = [r for r in records if r["host"] == "gone"]
    if command[:2] != ("hosts", "status"):  # status has its own record: state "down"
        assert gone == [
            {"host": "gone", "state": "unreachable", "error": gone[0]["error"], "reason": "refused"}
        ]
        assert gone[0]["error"].startswith("unreachable (refused)")
    for rec in records:
        if rec.get("state") == "none":
            assert rec == {"host": rec["host"], "state": "none", "rows": 0}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_plain_names_every_host_once(with_gone, run_wacket, command):
    res = run_wacket(*_args(command, "--plain" if command[0] != "run" else None), timeout=90)
    assert res.returncode == _code(command), res.stderr
    err = res.stderr.decode()
    said = [line for line in (err + res.stdout.decode()).splitlines() if "unreachable" in line]
    assert said and all(line.count("gone") == 1 for line in said), said
    row_hosts = {
        line.split("\t")[0].split(":")[0].strip() for line in res.stdout.decode().splitlines()
    }
    for host in ASKED:
        said = [line for line in err.splitlines() if re.match(rf"(wacket: )?{host} *: ", line)]
        assert host in row_hosts or said, (host, res.stdout, err)


def test_backup_drives_no_doubled_name(with_gone, run_wacket):
    res = run_wacket("backup", "drives", "local,gone", timeout=90)
    assert res.returncode == 3
    err = res.stderr.decode()
    assert "gone: unreachable (refused)" in err and "gone: gone" not in err


def test_find_dupes_and_where_account_for_each_catalog(with_gone, run_wacket, tmp_path):
    assert run_wacket("find", "index", "local,h1", timeout=120).returncode == 0
    res = run_wacket("find", "dupes", "local,h1,h2", "--min-size", "1T", "--jsonl")
    assert res.returncode == 0, res.stderr
    records = [json.loads(x) for x in res.stdout.splitlines()]
    by_host = {r["host"]: r for r in records}
    assert by_host["local"] == {"host": "local", "state": "none", "rows": 0}
    assert by_host["h1"] == {"host": "h1", "state": "none", "rows": 0}
    assert by_host["h2"]["state"] == "failed" and "no catalog" in by_host["h2"]["error"]
    res = run_wacket("find", "dupes", "local,h1,h2", "--min-size", "1T", "--plain")
    err = res.stderr.decode()
    assert "wacket: local: no duplicates" in err and "wacket: h1: no duplicates" in err
    assert "wacket: h2: no catalog yet" in err

    lonely = tmp_path / "lonely.bin"
    lonely.write_bytes(os.urandom(8192))
    res = run_wacket("find", "where", str(lonely), "--jsonl")
    records = [json.loads(x) for x in res.stdout.splitlines()]
    assert {"host": "h1", "state": "none", "rows": 0} in records


def test_log_from_accounts_for_each_machine(with_gone, run_wacket):
    res = run_wacket("log", "--from", "h1,gone", "--command", "no-such-command", "--jsonl")
    assert res.returncode == 3
    records = [json.loads(x) for x in res.stdout.splitlines()]
    assert records[0] == {"host": "h1", "state": "none", "rows": 0}
    assert records[1]["host"] == "gone" and records[1]["state"] == "unreachable"
    err = res.stderr.decode()
    assert "wacket: gone: unreachable (refused)" in err and "gone: gone" not in err
