"""The SSH transport against real sshd: host keys, auth, timeouts, quoting, SFTP, helper, rsync."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wacket import config
from wacket.errors import UnreachableError
from wacket.fleet import Fleet, Host
from wacket.paths import known_hosts_path
from wacket.remote.client import HelperError, helper_hash
from wacket.transport import rsync
from wacket.transport.pool import Pool

HOSTILE = ["with space", 'it\'s "quoted"', "new\nline", "-leading-dash", "tab\there", "ünï"]
NON_UTF8 = b"bytes-\xff\xfe"


def host(fleet_bed, name="h1") -> Host:
    return Fleet.load(config.load()).get(name)


def extra_host(testbed, isolated_env, toml):
    testbed.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), toml)
    return Fleet.load(config.load())


def test_run_returns_outputs_and_status(fleet):
    with Pool() as pool:
        res = pool.session(host(fleet)).run("echo out; echo err >&2; exit 7")
    assert (res.rc, res.stdout, res.stderr) == (7, b"out\n", b"err\n")


def test_one_connection_reused_for_many_commands(fleet):
    with Pool() as pool:
        sess = pool.session(host(fleet))
        ports = {sess.run('echo "$SSH_CONNECTION"').stdout.split()[1] for _ in range(5)}
    assert len(ports) == 1


def test_non_utf8_output_survives(fleet):
    with Pool() as pool:
        res = pool.session(host(fleet)).run(["printf", "a\\377\\376b"])
    assert res.stdout == b"a\xff\xfeb"


def test_hostile_names_through_argv_and_sftp(fleet, tmp_path):
    h = host(fleet)
    target = fleet.hosts[0].home / "hostile"
    target.mkdir(exist_ok=True)
    with Pool() as pool:
        sess = pool.session(h)
        for name in HOSTILE:
            path = f"{target}/{name}"
            assert sess.run(["touch", "--", path]).rc == 0
            sess.put_bytes(path + ".sftp", name.encode() + b"\x00data")
            assert sess.get_bytes(path + ".sftp") == name.encode() + b"\x00data"
            res = sess.run(["cat", "--", path + ".sftp"])
            assert res.stdout == name.encode() + b"\x00data"
        raw = os.fsencode(str(target)) + b"/" + NON_UTF8
        assert sess.run([b"touch", b"--", raw]).rc == 0
    names = set(os.listdir(os.fsencode(target)))
    assert NON_UTF8 in names
    for name in HOSTILE:
        assert name.encode() in names and (name + ".sftp").encode() in names


def test_sftp_tilde_is_the_remote_home(fleet):
    with Pool() as pool:
        pool.session(host(fleet)).put_bytes("~/note.txt", b"hello", 0o600)
    note = fleet.hosts[0].home / "note.txt"
    assert note.read_bytes() == b"hello" and (note.stat().st_mode & 0o777) == 0o600


def test_unknown_host_key_refused_then_accept_new_records_it(fleet):
    kh = known_hosts_path()
    kh.write_text("")
    with Pool() as pool, pytest.raises(UnreachableError) as err:
        pool.session(host(fleet)).run("true")
    assert err.value.reason == "host key unknown" and "--accept-new" in str(err.value)
    with Pool(accept_new=True) as pool:
        assert pool.session(host(fleet)).run("true").rc == 0
    line = fleet.hosts[0].known_hosts_line().split()[:2]
    assert kh.read_text().split()[:2] == line
    with Pool() as pool:  # recorded: no opt-in needed any more
        assert pool.session(host(fleet)).run("true").rc == 0


def test_changed_host_key_always_refused(fleet, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
    hid = fleet.hosts[0].known_hosts_line().split()[0]
    known_hosts_path().write_text(
        hid + " " + " ".join(Path(f"{other}.pub").read_text().split()[:2])
    )
    for accept in (False, True):
        with Pool(accept_new=accept) as pool, pytest.raises(UnreachableError) as err:
            pool.session(host(fleet)).run("true")
        assert err.value.reason == "host key changed" and "ssh-keygen -R" in str(err.value)


def test_wrong_key_is_auth_failure(testbed, isolated_env):
    toml = f'[hosts.bad]\naddress = "127.0.0.2"\nport = {testbed.hosts[0].port}\n'
    toml += f'user = "root"\nidentity = "{testbed.wrong_key}"\n'
    fl = extra_host(testbed, isolated_env, toml)
    with Pool() as pool, pytest.raises(UnreachableError) as err:
        pool.session(fl.get("bad")).run("true")
    assert err.value.reason == "auth"


def test_closed_port_is_refused(testbed, isolated_env, closed_port):
    fl = extra_host(
        testbed, isolated_env, f'[hosts.down]\naddress = "127.0.0.1"\nport = {closed_port}\n'
    )
    with Pool() as pool, pytest.raises(UnreachableError) as err:
        pool.session(fl.get("down")).run("true")
    assert err.value.reason == "refused"


def test_hanging_host_times_out(testbed, isolated_env, hang_server):
    fl = extra_host(
        testbed, isolated_env, f'[hosts.hang]\naddress = "127.0.0.1"\nport = {hang_server.port}\n'
    )
    with Pool(connect_timeout=1) as pool, pytest.raises(UnreachableError) as err:
        pool.session(fl.get("hang")).run("true")
    assert err.value.reason == "timeout"


def test_command_timeout(fleet):
    with Pool() as pool:
        res = pool.session(host(fleet)).run("sleep 20", timeout=1)
    assert res.timed_out and res.rc is None and not res.ok


def test_proxy_jump_through_another_host(testbed, isolated_env, closed_port):
    h1, h3 = testbed.hosts[0], testbed.hosts[2]

    def behind(jump):
        toml = (
            f'[hosts.behind]\naddress = "{h3.address}"\nport = {h3.port}\nuser = "root"\n'
            f'identity = "{testbed.client_key}"\nproxy_jump = "{jump}"\n'
        )
        return extra_host(testbed, isolated_env, toml).get("behind")

    with Pool() as pool:
        res = pool.session(behind(f"root@{h1.address}:{h1.port}")).run('echo "$SSH_CONNECTION"')
    assert res.rc == 0 and res.stdout.split()[2] == h3.address.encode()
    # The same target through a jump host that is down: the jump is really used.
    with Pool() as pool, pytest.raises(UnreachableError) as err:
        pool.session(behind(f"root@127.0.0.1:{closed_port}")).run("true")
    assert err.value.reason == "refused"


def test_helper_is_sent_once_and_cached(fleet):
    cached = fleet.hosts[1].home / ".cache/wacket" / f"helper-{helper_hash()}.py"
    for old in cached.parent.glob(f"helper-{helper_hash()}*"):
        old.unlink()
    with Pool() as pool:
        hello = pool.session(host(fleet, "h2")).helper().call("hello")
    assert cached.exists() and "tree.scan" in hello["ops"]
    compiled = list(cached.parent.glob(f"helper-{helper_hash()}.*.code"))
    assert len(compiled) == 1  # later starts load the compiled code instead of compiling
    mtime = cached.stat().st_mtime_ns
    with Pool() as pool:
        assert pool.session(host(fleet, "h2")).helper().call("hello")["pid"] > 0
    assert cached.stat().st_mtime_ns == mtime


def test_helper_starts_without_site_and_loads_it_when_an_op_needs_it(fleet):
    """The helper runs with -S (half the start-up; no .pth file of the host's site-packages
    runs); site_import still finds a module that lives in site-packages (libgpiod's bindings,
    here click)."""
    import wacket.remote

    with Pool() as pool:
        assert pool.session(host(fleet)).helper().call("hello")["site"] is False
    runtime = (Path(wacket.remote.__file__).parent / "helper.py").read_text()
    probe = runtime + (
        "\ntry:\n    import click\nexcept ImportError:\n    print('not yet')\n"
        "print(site_import('click').__name__)\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True)
    assert out.stdout.split() == ["not", "yet", "click"], out.stderr


def test_helper_errors_are_data(fleet):
    with Pool() as pool:
        helper = pool.session(host(fleet)).helper()
        with pytest.raises(HelperError, match="unknown op"):
            helper.call("no.such.op")
        with pytest.raises(HelperError, match="No such file"):
            list(helper.stream("tree.scan", root="/nonexistent/dir"))
        assert helper.call("hello")["python"]  # still usable afterwards


def test_host_without_python_gets_clear_message(testbed, isolated_env):
    h1 = testbed.hosts[0]
    toml = (
        f'[hosts.nopy]\naddress = "{h1.address}"\nport = {h1.port}\nuser = "root"\n'
        f'identity = "{testbed.client_key}"\npython = "/nonexistent/python3"\n'
    )
    fl = extra_host(testbed, isolated_env, toml)
    with Pool() as pool, pytest.raises(HelperError) as err:
        pool.session(fl.get("nopy")).helper()
    assert "not installed" in str(err.value) and err.value.kind == "no-python"


def test_helper_runs_on_python_37(tmp_path):
    from wacket.remote.client import helper_source

    src = tmp_path / "helper.py"
    src.write_bytes(helper_source())
    res = subprocess.run(
        ["vermin", "-t=3.7-", "--violations", "--no-tips", str(src)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_rsync_uses_the_same_settings(fleet, tmp_path):
    h = host(fleet, "h3")
    src = tmp_path / "src"
    src.mkdir()
    for name in HOSTILE:
        (src / name).write_text(name)
    (src / os.fsdecode(NON_UTF8)).write_text("x")
    dest = fleet.hosts[2].home / "rsync-dest"
    res = subprocess.run(
        ["rsync", "-a", "-s", "-e", rsync.rsh(h), f"{src}/", rsync.remote_spec(h, f"{dest}/")],
        capture_output=True,
    )
    assert res.returncode == 0, res.stderr
    assert set(os.listdir(os.fsencode(dest))) == set(os.listdir(os.fsencode(src)))


def test_put_and_get_file_keep_bytes_mode_and_time(fleet, tmp_path):
    src = os.path.join(os.fsencode(tmp_path), NON_UTF8 + b" big")
    data = os.urandom(3 * 1024 * 1024) + b"\x00end"
    with open(src, "wb") as fh:
        fh.write(data)
    os.chmod(src, 0o640)
    os.utime(src, (1_600_000_000, 1_600_000_000))
    remote = os.fsencode(fleet.hosts[1].home) + b"/" + NON_UTF8 + b"-copy"
    back = os.fsencode(tmp_path) + b"/back"
    with Pool() as pool:
        sess = pool.session(host(fleet, "h2"))
        sess.put_file(src, remote)
        sess.get_file(remote, back)
    for path in (remote, back):
        st = os.stat(path)
        assert (st.st_mode & 0o777, int(st.st_mtime)) == (0o640, 1_600_000_000)
        with open(path, "rb") as fh:
            assert fh.read() == data


def test_ssh_agent_provides_the_key(testbed, isolated_env, tmp_path, monkeypatch):
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
        subprocess.run(["ssh-add", "-q", str(testbed.client_key)], env=env, check=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        h1 = testbed.hosts[0]
        # No identity configured and none in ~/.ssh: only the agent holds the key.
        fl = extra_host(testbed, isolated_env,
                        f'[hosts.agent]\naddress = "{h1.address}"\nport = {h1.port}\nuser = "root"\n')  # fmt: skip
        with Pool() as pool:
            assert pool.session(fl.get("agent")).run("true").rc == 0
        monkeypatch.delenv("SSH_AUTH_SOCK")
        with Pool() as pool, pytest.raises(UnreachableError) as err:
            pool.session(fl.get("agent")).run("true")
        assert err.value.reason == "auth"
    finally:
        agent.terminate()
        agent.wait()


def test_helper_bytes_items_whole_and_cut(tmp_path):
    """The client's side of bytes items ({"id", "bin": n} then n raw bytes), against a peer
    that writes them in pieces, sends one for another request first, then dies half way
    through one: the whole items come out as sent, the cut one is a lost connection."""
    from wacket.transport.session import LocalSession

    peer = tmp_path / "peer.py"
    peer.write_text(
        "import sys, time\n"
        "out, inp = sys.stdout.buffer, sys.stdin.buffer\n"
        "def put(b):\n    out.write(b); out.flush()\n"
        'put(b\'{"id":0,"ok":{"ready":true}}\\n\')\n'
        "inp.readline()\n"
        'put(b\'{"id":7,"bin":3}\\nzzz\')\n'
        "data = bytes(range(256)) * 1000 + b'\\n{\"id\":1}\\n'\n"
        'put(b\'{"id":1,"bin":%d}\\n\' % len(data) + data[:1000])\n'
        "time.sleep(0.2)\n"
        'put(data[1000:] + b\'{"id":1,"bin":0}\\n{"id":1,"ok":5}\\n\')\n'
        "inp.readline()\n"
        'put(b\'{"id":2,"bin":10}\\nabcd\')\n'
    )

    class Scripted(LocalSession):
        def open_process(self, argv):
            return super().open_process([sys.executable, str(peer)])

    session = Scripted(Host("local", "localhost"))
    helper = session.helper()
    done = []
    items = list(helper.stream("any", on_done=done.append))
    assert items == [bytes(range(256)) * 1000 + b'\n{"id":1}\n', b""] and done == [5]
    with pytest.raises(HelperError, match="lost in the middle") as err:
        list(helper.stream("any"))
    assert err.value.kind == "lost"
    session.close()


def test_many_quick_commands_on_one_connection_in_parallel(fleet):
    """Commands that end at once, from several threads on one connection: the end of their
    input (EOF) never follows the channel's close (OpenSSH would drop the whole connection:
    paramiko#1115), so every command reports its status and the connection stays up."""
    from concurrent.futures import ThreadPoolExecutor

    with Pool() as pool:
        session = pool.session(host(fleet))
        with ThreadPoolExecutor(6) as ex:
            results = list(ex.map(lambda i: session.run(f"echo {i}"), range(600)))
        assert [r.stdout for r in results] == [b"%d\n" % i for i in range(600)]
        assert all(r.rc == 0 for r in results) and session.alive
        # With input: fed, then its end; the command may end before reading it all.
        fed = [session.run("head -c 1", input=b"x" * 100_000) for _ in range(30)]
        assert all(r.rc == 0 and r.stdout == b"x" for r in fed) and session.alive


def test_connection_has_nagle_off(fleet):
    """TCP_NODELAY on the SSH socket (as OpenSSH's client sets it): with Nagle's algorithm on,
    each small SSH message waited for the server's delayed ACK, 40 ms a command."""
    import socket

    with Pool() as pool:
        sock = pool.session(host(fleet)).client.get_transport().sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
