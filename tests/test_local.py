"""The local machine is always in the fleet and is reached without SSH."""

from __future__ import annotations

import json
import os

from wacket import config
from wacket.fleet import Fleet
from wacket.transport.pool import Pool
from wacket.transport.session import LocalSession


def local_session(pool: Pool) -> LocalSession:
    sess = pool.session(Fleet.load(config.load()).get("local"))
    assert isinstance(sess, LocalSession)
    return sess


def test_status_with_no_config_at_all(run_wacket):
    res = run_wacket("hosts", "status", "--json")
    assert res.returncode == 0, res.stderr
    (rec,) = json.loads(res.stdout)
    assert rec["host"] == "local" and rec["state"] == "up" and rec["python"]


def test_local_run_outputs_timeout_and_bytes(tmp_path):
    with Pool() as pool:
        sess = local_session(pool)
        res = sess.run("printf 'a\\377'; echo e >&2; exit 4")
        assert (res.rc, res.stdout, res.stderr) == (4, b"a\xff", b"e\n")
        assert sess.run("sleep 20", timeout=0.5).timed_out
        assert sess.run(["cat"], input=b"in\x00put").stdout == b"in\x00put"
        missing = sess.run(["/nonexistent/tool"])
        assert missing.rc == 127


def test_local_hostile_names_and_files(tmp_path):
    tmp_path = tmp_path / "names"
    tmp_path.mkdir()
    names = ["a b", "-dash", "q'uote", "new\nline", os.fsdecode(b"\xff\xfe")]
    with Pool() as pool:
        sess = local_session(pool)
        for name in names:
            path = os.path.join(tmp_path, name)
            assert sess.run(["touch", "--", path]).rc == 0
            sess.put_bytes(path + ".x", b"data", 0o600)
            assert sess.get_bytes(path + ".x") == b"data"
    assert len(os.listdir(tmp_path)) == 2 * len(names)


def test_local_helper_uses_this_interpreter():
    import sys

    with Pool() as pool:
        hello = local_session(pool).helper().call("hello")
    assert hello["python"] == ".".join(map(str, sys.version_info[:3]))


def test_run_local_needs_no_ssh(run_wacket):
    res = run_wacket("run", "local", "--jsonl", "--", "echo", "x y")
    assert res.returncode == 0
    rec = json.loads(res.stdout)
    assert rec["host"] == "local" and rec["stdout"] == "x y\n"
