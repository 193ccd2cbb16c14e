"""wacket sync: awkward names, symlinks, empty files, permission errors and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import syncbed
from syncbed import Proxy, add_proxied_host, by_path, records, tree, write

pair = syncbed.pair  # fixture

NAMES = [
    "with space",
    "quote'single",
    'double"quote',
    "new\nline",
    "-leading-dash",
    "--also-dash",
    "ünïcödé ☃",
    "tab\there",
    "star*?[x]",
    "$(echo pwned)",
    os.fsdecode(b"latin1-\xe9t\xe9"),
    os.fsdecode(b"\xff\xfe"),
]


def seed_names(root: Path):
    for i, name in enumerate(NAMES):
        write(root, name, f"content {i}")
        write(root, f"{name} dir/{name}", f"nested {i}")
    write(root, "empty", b"")
    os.symlink("with space", root / "rel-link")
    os.symlink("/nonexistent/target", root / "dangling")
    os.symlink("with space dir", root / "dir-link")


def test_one_way_awkward_names_both_directions(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    seed_names(local)
    r = run_wacket("sync", f"{local}/", f"{spec}/", "--jsonl")
    assert r.returncode == 0, r.stderr
    assert tree(remote) == tree(local)
    paths = {x["path"] for x in records(r.stdout)}
    assert set(NAMES) <= paths  # each name reported exactly as it is (non-UTF-8 as \udcXX)
    assert os.path.islink(remote / "dangling")
    back = tmp_path / "back"
    r = run_wacket("sync", f"{spec}/", f"{back}/")
    assert r.returncode == 0, r.stderr
    assert tree(back) == tree(local)
    # a remote source path that starts with a dash and holds a space
    r = run_wacket("sync", f"{spec}/-leading-dash", f"{tmp_path}/single/")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "single/-leading-dash").read_bytes() == b"content 4"


def test_two_way_awkward_names(pair, run_wacket):
    local, remote, spec = pair
    seed_names(local)
    write(remote, "new\nline b", "from b")
    write(remote, os.fsdecode(b"b-\xfe"), "from b too")
    r = run_wacket("sync", "--two-way", str(local), spec, "--jsonl")
    assert r.returncode == 0, r.stderr
    assert tree(remote) == tree(local)
    # an edit to an awkward name on B travels back
    write(remote, "-leading-dash", "edited on b")
    write(remote, os.fsdecode(b"\xff\xfe"), "edited bytes")
    r = run_wacket("sync", "--two-way", str(local), spec, "--jsonl")
    assert r.returncode == 0, r.stderr
    assert {x["path"] for x in records(r.stdout)} == {"-leading-dash", os.fsdecode(b"\xff\xfe")}
    assert (local / "-leading-dash").read_bytes() == b"edited on b"
    assert tree(remote) == tree(local)


def test_empty_file_is_not_a_missing_file(pair, run_wacket):
    local, remote, spec = pair
    for i in range(20):
        write(local, f"pad{i}", "p")
    write(local, "zero", b"")
    r = run_wacket("sync", "--two-way", str(local), spec, "--jsonl")
    assert r.returncode == 0
    assert by_path(records(r.stdout))["zero"]["size"] == 0
    assert (remote / "zero").read_bytes() == b""
    write(local, "pad0", b"")  # truncated to 0 bytes: an update, not a delete
    r = run_wacket("sync", "--two-way", str(local), spec, "--jsonl")
    rec = by_path(records(r.stdout))["pad0"]
    assert rec["action"] == "update" and rec["size"] == 0
    assert (remote / "pad0").exists() and (remote / "pad0").read_bytes() == b""
    (remote / "zero").unlink()  # the 0-byte file deleted: a delete
    r = run_wacket("sync", "--two-way", str(local), spec, "--jsonl")
    assert by_path(records(r.stdout))["zero"]["action"] == "delete"
    assert not (local / "zero").exists()


def _chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def test_permission_denied_reported_not_fatal(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    # A minute old, so the same-size v2 writes below get other mtimes (rsync compares seconds).
    for i in range(10):
        write(local, f"f{i}", f"v1 {i}", mtime=time.time() - 60)
    assert run_wacket("sync", "--two-way", str(local), spec).returncode == 0
    mirror = tmp_path / "mirror"
    assert run_wacket("sync", f"{local}/", f"{mirror}/").returncode == 0
    locked = remote / "f3"
    locked_mirror = mirror / "f3"
    if not (_chattr("+i", locked) and _chattr("+i", locked_mirror)):
        import pytest

        pytest.skip("chattr +i is not supported here")
    try:
        for i in (2, 3, 4):
            write(local, f"f{i}", f"v2 {i}")
        r = run_wacket("sync", "--two-way", str(local), spec, "--jsonl")
        assert r.returncode == 1
        recs = by_path(records(r.stdout))
        assert recs["f3"]["action"] == "error" and "not copied" in recs["f3"]["message"]
        assert recs["f2"]["action"] == "update" and recs["f4"]["action"] == "update"
        assert (remote / "f2").read_bytes() == b"v2 2" and (remote / "f3").read_bytes() == b"v1 3"
        r = run_wacket("sync", f"{local}/", f"{mirror}/", "--jsonl")
        assert r.returncode == 1
        recs = records(r.stdout)
        assert any(x["action"] == "error" and "f3" in x["path"] for x in recs)
        assert (mirror / "f2").read_bytes() == b"v2 2"
    finally:
        _chattr("-i", locked)
        _chattr("-i", locked_mirror)
    # once the file can be written, the next run finishes the job
    r = run_wacket("sync", "--two-way", str(local), spec, "--jsonl")
    assert r.returncode == 0, r.stderr
    assert by_path(records(r.stdout))["f3"]["action"] == "update"
    assert (remote / "f3").read_bytes() == b"v2 3"


def test_bad_input(pair, run_wacket, tmp_path, closed_port, isolated_env):
    local, remote, spec = pair
    write(local, "keep", "keep")
    r = run_wacket("sync", str(local), "nosuchhost:/x")
    assert r.returncode == 2 and "unknown host 'nosuchhost'" in r.stderr.decode()
    r = run_wacket("sync", str(tmp_path / "missing") + "/", f"{spec}/")
    assert r.returncode == 2 and "does not exist" in r.stderr.decode()
    r = run_wacket("sync", f"{spec}/missing/", str(tmp_path / "out") + "/")
    assert r.returncode == 2 and "does not exist" in r.stderr.decode(), r.stderr
    r = run_wacket("sync", "--two-way", f"{spec}/missing", str(local))
    assert r.returncode == 2 and "no such directory" in r.stderr.decode(), r.stderr
    r = run_wacket("sync", f"{local}/", f"{local}/inner/")
    assert r.returncode == 2 and "inside" in r.stderr.decode()
    r = run_wacket("sync", "--two-way", str(local), str(local / "sub"))
    assert r.returncode == 2 and "inside" in r.stderr.decode()
    r = run_wacket("sync", f"{spec}/", "h2:/tmp/x/")
    assert r.returncode == 2 and "both sides are remote" in r.stderr.decode()
    r = run_wacket("sync", "nosuchprofile")
    assert r.returncode == 2 and "no sync profile" in r.stderr.decode()
    # an unreachable host: exit 3, one line, nothing touched
    cfg = Path(os.environ["WACKET_CONFIG"])
    with open(cfg, "a") as fh:
        fh.write(f'\n[hosts.down]\naddress = "127.0.0.1"\nport = {closed_port}\nuser = "root"\n')
    for args in (("sync", f"{local}/", "down:/tmp/x/", "--delete"),
                 ("sync", "--two-way", str(local), "down:/tmp/x")):  # fmt: skip
        r = run_wacket(*args)
        assert r.returncode == 3, r.stderr
        err = r.stderr.decode()
        assert "down: unreachable (refused)" in err and "Traceback" not in err
    assert tree(local) == {"keep": ("f", b"keep")}


def _run_until_cut(args, proxy: Proxy, watch: Path, count: int):
    proc = subprocess.Popen([sys.executable, "-m", "wacket", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if watch.exists() and len(list(watch.iterdir())) >= count:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proxy.cut()
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_host_unreachable_mid_way(pair, run_wacket, fleet, isolated_env):
    local, remote, spec = pair
    proxy = Proxy(fleet.hosts[0].address, fleet.hosts[0].port)
    add_proxied_host(fleet, isolated_env, Path(os.environ["WACKET_CONFIG"]), proxy)
    try:
        payload = os.urandom(30_000)
        for i in range(40):
            write(local, f"big/{i:02}", payload + bytes([i]))
        for i in range(40):
            write(remote, f"old/{i:02}", f"old {i}")
        before_remote = tree(remote)
        rc, out, err = _run_until_cut(
            ["sync", "--two-way", str(local), f"flaky:{remote}", "--bwlimit", "100K"],
            proxy, remote / "big", 3,
        )  # fmt: skip
        assert rc == 3, err
        assert b"flaky: unreachable" in err and b"Traceback" not in err, err.decode()
        # nothing deleted on either side; what arrived is complete or absent
        after = tree(remote)
        assert {k: v for k, v in after.items() if k.startswith("old")} == before_remote
        assert all(len(list((local / "big").iterdir())) == 40 for _ in [0])
        for rel, entry in after.items():
            if rel.startswith("big/") and entry[0] == "f":
                assert entry[1] == (local / rel).read_bytes()
        state_dir = Path(os.environ["WACKET_DATA"]) / "sync"
        assert not state_dir.exists() or not list(state_dir.glob("*.state"))
    finally:
        proxy.close()


def test_one_way_host_unreachable_mid_way(pair, run_wacket, fleet, isolated_env):
    local, remote, spec = pair
    proxy = Proxy(fleet.hosts[0].address, fleet.hosts[0].port)
    add_proxied_host(fleet, isolated_env, Path(os.environ["WACKET_CONFIG"]), proxy)
    try:
        payload = os.urandom(30_000)
        for i in range(40):
            write(local, f"{i:02}", payload + bytes([i]))
        for i in range(5):
            write(remote, f"extra{i}", "on the mirror only")
        rc, out, err = _run_until_cut(
            ["sync", f"{local}/", f"flaky:{remote}/", "--delete", "--force", "--bwlimit", "100K"],
            proxy, remote, 8,
        )  # fmt: skip
        assert rc == 3, err
        assert b"flaky: unreachable" in err and b"Traceback" not in err
        assert all((remote / f"extra{i}").exists() for i in range(5))  # deletions never started
    finally:
        proxy.close()


def test_table_names_conflicts_and_errors_on_stderr(pair, run_wacket):
    local, remote, spec = pair
    write(local, "c.txt", "a side", mtime=1_000_000)
    write(remote, "c.txt", "b side", mtime=2_000_000)
    r = run_wacket("sync", "--two-way", str(local), spec, "--table")
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert "conflict: c.txt (the other version is kept as c.conflict-" in err
    assert "conflict" in r.stdout.decode() and "ACTION" in r.stdout.decode()


def _without_root_file_access(*args: str) -> subprocess.CompletedProcess:
    """Run wacket as root without the capability to read what mode bits forbid (real EACCES)."""
    return subprocess.run(
        ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
         "--bounding-set=-dac_override,-dac_read_search",
         sys.executable, "-m", "wacket", *args],
        capture_output=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip


def test_unreadable_files_are_reported_and_never_taken_as_deleted(tmp_path, run_wacket):
    a, b, mirror = tmp_path / "a", tmp_path / "b", tmp_path / "mirror"
    for name in ("ok1", "secret", "sub/inner", "ok2"):
        write(a, name, f"v1 {name}")
    assert run_wacket("sync", "--two-way", str(a), str(b)).returncode == 0
    assert run_wacket("sync", f"{a}/", f"{mirror}/").returncode == 0
    write(a, "ok1", "v2 ok1")
    write(a, "ok2", "v2 ok2")
    for name in ("ok1", "ok2"):  # same size: rsync's quick check compares whole seconds
        st = os.stat(a / name)
        os.utime(a / name, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    (a / "secret").chmod(0)
    (a / "sub").chmod(0)
    try:
        one = _without_root_file_access("sync", "--delete", f"{a}/", f"{mirror}/", "--jsonl")
        two = _without_root_file_access("sync", "--two-way", str(a), str(b), "--jsonl")
    finally:
        (a / "secret").chmod(0o644)
        (a / "sub").chmod(0o755)
    for res in (one, two):
        assert res.returncode == 1, res.stderr
        assert b"Permission denied" in res.stdout + res.stderr
    for side in (mirror, b):  # what could be read went across; nothing unreadable was deleted
        assert (side / "ok1").read_bytes() == b"v2 ok1" and (side / "ok2").read_bytes() == b"v2 ok2"
        assert (side / "secret").read_bytes() == b"v1 secret"
        assert (side / "sub/inner").read_bytes() == b"v1 sub/inner"
