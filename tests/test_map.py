"""`wacket map` over real sshd hosts: every item exactly once, transfers, failures, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sshbed

from wacket.map import joblog
from wacket.map.items import Item, build_command, read_items


def items(n: int) -> bytes:
    return b"".join(f"item {i}\n".encode() for i in range(n))


def test_placeholders_and_quoting():
    it = Item(7, "dir/my photo.tar.gz")
    assert build_command(["cwebp", "{}", "-o", "{.}.webp"], it) == (
        "cwebp 'dir/my photo.tar.gz' -o 'dir/my photo.tar.webp'"
    )
    assert build_command(["echo {/} {//} {/.} {#}"], it) == (
        "echo 'my photo.tar.gz' dir 'my photo.tar' 7"
    )
    assert build_command(["gzip"], Item(1, "-x y")) == "gzip '-x y'"
    assert build_command(["wc -c"], Item(1, "it's")) == "wc -c 'it'\"'\"'s'"
    (j,) = read_items(['{"item": "a.jpg", "q": 80}\n'], jsonl=True)
    assert build_command(["cwebp", "-q", "{q}", "{}"], j) == "cwebp -q 80 a.jpg"


def test_two_hundred_items_each_exactly_once_in_order(fleet, run_wacket, tmp_path):
    res = run_wacket("map", "h1,h2,h3", "-k", "--jsonl", "--", "echo {}; echo {} >> \"$HOME\"/done.log",
                     input=items(200))  # fmt: skip
    assert res.returncode == 0, res.stderr
    recs = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["item"] for r in recs] == [f"item {i}" for i in range(200)]
    assert all(r["stdout"] == r["item"] + "\n" for r in recs)
    assert len({r["host"] for r in recs}) == 3  # spread over all hosts
    # Each host's login directory got exactly the items it ran: no item twice, none lost.
    ran = []
    for h in fleet.hosts:
        log = h.home / "done.log"
        ran += log.read_text().splitlines()
        log.unlink()
    assert sorted(ran) == sorted(f"item {i}" for i in range(200)), res.stderr.decode()
    assert "200 items: 200 done, 0 failed" in res.stderr.decode()


def test_keep_order_plain_output(fleet, run_wacket):
    res = run_wacket("map", "h1,h2", "-k", "--", "sleep 0.0$(( RANDOM % 5 )); echo {#}",
                     input=items(30))  # fmt: skip
    assert res.stdout.decode().split() == [str(i) for i in range(1, 31)]


def test_transfer_return_cleanup_hostile_names(fleet, run_wacket, tmp_path):
    src = tmp_path / "in put"
    src.mkdir()
    names = ["a b.txt", "it's.txt", "-dash.txt", "ünï.txt", os.fsdecode(b"\xffraw.txt")]
    for n in names:
        (src / n).write_bytes(os.fsencode(n))
    listing = "".join(f"{src}/{n}\n" for n in names).encode("utf-8", "surrogateescape")
    workdirs = [h.home / ".cache/wacket/map" for h in fleet.hosts[:2]]
    before = [set(w.iterdir()) if w.exists() else set() for w in workdirs]
    res = run_wacket("map", "h1,h2", "--transfer", "--return", "{.}.up", "--cleanup", "--",
                     "tr", "a-z", "A-Z", "<", "{}", input=listing)  # fmt: skip
    # several words: '<' is quoted too, so tr gets it as an argument and fails
    assert res.returncode == 1
    res = run_wacket("map", "h1,h2", "--transfer", "--return", "{.}.up", "--cleanup", "--",
                     "tr a-z A-Z < {} > {.}.up", input=listing)  # fmt: skip
    assert res.returncode == 0, res.stderr
    for n in names:
        up = src / (os.path.splitext(n)[0] + ".up")
        assert up.read_bytes() == os.fsencode(n).upper()  # tr maps ASCII only, like bytes.upper
    after = [set(w.iterdir()) if w.exists() else set() for w in workdirs]
    assert after == before  # --cleanup left nothing behind


def test_failures_retries_and_exit_code(fleet, run_wacket, tmp_path):
    # Fails on h1 only: with --retries the job moves to another host and succeeds.
    cmd = 'case "$SSH_CONNECTION" in *127.0.0.2\\ *) exit 5;; esac; echo ok'
    res = run_wacket("map", "h1,h2", "--retries", "1", "--jsonl", "--", cmd, input=items(6))
    assert res.returncode == 0, res.stderr
    recs = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(recs) == 6 and all(r["host"] == "h2" and r["rc"] == 0 for r in recs), (
        recs,
        res.stderr.decode(),
    )
    res = run_wacket("map", "h1", "--", "exit 3", input=items(2))
    assert res.returncode == 1 and "2 items: 0 done, 2 failed" in res.stderr.decode()


def test_timeout_and_halt_on_error(fleet, run_wacket):
    res = run_wacket(
        "map", "h1", "--timeout", "1", "--jsonl", "--", "sleep 20; : {}", input=items(1)
    )
    (rec,) = [json.loads(x) for x in res.stdout.splitlines()]
    assert res.returncode == 1 and rec.get("error") == "timeout", rec
    res = run_wacket("map", "h1", "-j", "1", "--halt-on-error", "--", "exit 1", input=items(5))
    assert res.returncode == 1
    assert "5 items: 0 done, 5 failed" in res.stderr.decode()
    assert res.stderr.decode().count("on h1: exit 1") == 1  # one ran, four never started
    assert "halted after a failure" in res.stderr.decode()


def test_no_reachable_host(testbed, isolated_env, closed_port, run_wacket):
    testbed.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]),
                        f'[hosts.down]\naddress = "127.0.0.1"\nport = {closed_port}\n')  # fmt: skip
    res = run_wacket("map", "down", "--", "true", input=items(3))
    assert res.returncode == 3 and b"not used: down (refused)" in res.stderr


def test_empty_stdin_and_bad_jsonl(fleet, run_wacket):
    res = run_wacket("map", "h1", "--", "true", input=b"")
    assert res.returncode == 0 and "0 items" in res.stderr.decode()
    res = run_wacket("map", "h1", "--jsonl-in", "--", "true", input=b'{"item": 1}\nnope\n')
    assert res.returncode == 2 and b"items line 2" in res.stderr


@pytest.fixture
def spare_host(tmp_path, isolated_env, testbed):
    """A fourth sshd of this test's own, which the test may kill."""
    sshd = sshbed.SSHD(tmp_path / "spare", "127.0.0.5", None, [sshbed.pub_of(testbed.client_key)])
    sshd.start()
    extra = (
        f'[hosts.spare]\naddress = "127.0.0.5"\nport = {sshd.port}\nuser = "root"\n'
        f'identity = "{testbed.client_key}"\n'
    )
    testbed.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), extra)
    with open(isolated_env / ".ssh/known_hosts", "a") as fh:
        fh.write(sshd.known_hosts_line() + "\n")
    yield sshd
    sshd.stop()


def _tree_pids(pid: int) -> list[int]:
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            pids += _tree_pids(int(stat.parent.name))
    return pids


def _kill_tree(pid: int) -> None:
    """The machine is gone: sshd and every session process it forked stop at once (all frozen
    first, then killed), so no session can report its command's death before its connection
    goes (that would be a job killed by a signal on a live host: a failed job)."""
    pids = _tree_pids(pid)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass


def test_host_down_mid_batch_jobs_finish_elsewhere(fleet, spare_host, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "map", "h1,spare", "-j", "2", "--jsonl", "--",
         "sleep 0.2; echo {}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdin.write(items(40))
    proc.stdin.close()
    first = []
    while not any(r["host"] == "spare" for r in first):  # the spare host is at work
        first.append(json.loads(proc.stdout.readline()))
    _kill_tree(spare_host.proc.pid)
    spare_host.proc.wait()
    # The rest through the same buffered reader: communicate() would read the pipe itself and
    # lose lines readline() had already read ahead. (stderr is one summary line: no deadlock.)
    out = proc.stdout.read()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    out = b"".join(json.dumps(r).encode() + b"\n" for r in first) + out
    recs = [json.loads(x) for x in out.splitlines()]
    done = sorted(r["item"] for r in recs if r["rc"] == 0)
    assert done == sorted(f"item {i}" for i in range(40)), err
    assert len(recs) == 40 and proc.returncode == 0
    assert b"hosts lost mid-batch: spare" in err


def test_resume_after_sigkill(fleet, tmp_path):
    log = tmp_path / "jobs.tsv"
    marks = tmp_path / "runs"
    marks.mkdir()
    cmd = f"sleep 0.1; echo x >> {marks}/{{#}}"
    argv = [sys.executable, "-m", "wacket", "map", "h1,h2", "-j", "2", "--joblog", str(log),
            "--resume", "--", cmd]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    proc.stdin.write(items(60))
    proc.stdin.close()
    deadline = time.time() + 60
    while len(joblog.succeeded(str(log))) < 10 and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    first = joblog.succeeded(str(log))
    assert 10 <= len(first) < 60
    res = subprocess.run(argv, input=items(60), capture_output=True)
    assert res.returncode == 0, res.stderr
    assert f"{len(first)} skipped" in res.stderr.decode()
    assert joblog.succeeded(str(log)) == {f"item {i}" for i in range(60)}
    # No item that had succeeded ran again: its job number's mark was written once.
    # (Job numbers restart in the second run, so count marks per item through the log.)
    lines = [ln.split("\t") for ln in log.read_text().splitlines()[1:]]
    ok_items = [json.loads(parts[5]) for parts in lines if parts[4] == "0"]
    assert len(ok_items) == len(set(ok_items)) == 60


def test_transfer_on_the_local_host(isolated_env, run_wacket, tmp_path):
    src = tmp_path / "pics"
    src.mkdir()
    (src / "a b.txt").write_text("abc")
    res = run_wacket("map", "local", "--transfer", "--return", "{.}.n", "--cleanup", "--",
                     "wc -c < {} > {.}.n", input=f"{src}/a b.txt\n")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert (src / "a b.n").read_text().strip() == "3"
    assert not any((isolated_env / ".cache/wacket/map").iterdir())


def test_load_max_leaves_busy_hosts_alone(fleet, run_wacket):
    res = run_wacket("map", "h1,h2", "--load-max", "-1", "--", "true", input=items(2))
    assert res.returncode == 3
    assert b"h1 not used: busy (load" in res.stderr and b"h2 not used: busy" in res.stderr
    res = run_wacket("map", "h1", "--load-max", "1000", "--", "true", input=items(2))
    assert res.returncode == 0


def test_progress_shows_running_and_failed_on_a_tty(fleet, tmp_path):
    """On a terminal the bar shows jobs done, running, failed and an ETA; piped, nothing."""
    import pty

    (tmp_path / "items").write_bytes(items(6))
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout and stderr on the pty
        os.execvp(sys.executable, [sys.executable, "-m", "wacket", "map", "h1", "--items",
                                   str(tmp_path / "items"), "--", "exit $(( {#} % 2 ))"])  # fmt: skip
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    assert b"jobs" in out and b"failed 3" in out and b"running" in out
