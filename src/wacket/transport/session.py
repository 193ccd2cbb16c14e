"""Sessions: run commands, move small files and talk to the helper on one host, local or over SSH.

One SSH connection per host is opened on first use and reused for all work in one command.
"""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from wacket import children, interrupt
from wacket.errors import UnreachableError, WacketError
from wacket.fleet import Host
from wacket.paths import known_hosts_path
from wacket.transport.command import Argv, encode, to_shell
from wacket.transport.result import Result

OutputCallback = Callable[[str, bytes], None]  # (stream name "stdout"/"stderr", chunk)

DEFAULT_CONNECT_TIMEOUT = 10.0
KILL_GRACE = 0.3  # seconds between SIGTERM and SIGKILL when a command is ended

# sshd starts every command of a connection as a session and process group leader, a child of
# the sshd process that serves the connection. On interrupt one more command, run by /bin/sh as
# a child of that same process, ends the process groups of all its siblings: every command of
# this run on the host, whole (a remote `sleep` or `rsync` does not run on). SIGTERM first, SIGKILL
# after KILL_GRACE. So the command lines are sent as given and the normal path costs nothing.
END_SIBLINGS = (
    # pid and parent of every process: ps, else (a ps without -e, as busybox's may be) /proc
    "_procs() { ps -e -o pid= -o ppid= 2>/dev/null && return; for d in /proc/[0-9]*; do"
    ' read -r l < "$d/stat" || continue; l=${l##*) }; set -- $l; echo "${d#/proc/} $2";'
    " done 2>/dev/null; };"
    " p=$PPID; kids=$(_procs | while read -r pid ppid; do"
    ' [ "$ppid" = "$p" ] && [ "$pid" != "$$" ] && echo "$pid"; done);'
    ' [ -n "$kids" ] || exit 0;'
    # is a process of those groups still running? kill -0 says so of a zombie too (an orphan
    # whose init does not reap): /proc, where there is one, tells them apart
    ' _live() { a=; for k in $kids; do kill -0 -$k 2>/dev/null && a=1; done; [ -n "$a" ] ||'
    " return 1; [ -r /proc/self/stat ] || return 0; for d in /proc/[0-9]*; do"
    ' read -r l < "$d/stat" || continue; l=${l##*) }; set -- $l; [ "$1" = Z ] && continue;'
    ' for k in $kids; do [ "$3" = "$k" ] && return 0; done; done 2>/dev/null; return 1; };'
    " for k in $kids; do kill -TERM -$k 2>/dev/null || kill -TERM $k 2>/dev/null; done;"
    " n=0; while _live && [ $n -lt {tries} ]; do sleep 0.1; n=$((n+1)); done;"
    " _live && for k in $kids; do kill -KILL -$k 2>/dev/null; done; exit 0"
)


class Session:
    host: Host

    def run(
        self,
        argv: Argv,
        *,
        input: bytes | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> Result:
        raise NotImplementedError

    def open_process(self, argv: Argv) -> Process:
        raise NotImplementedError

    def put_bytes(self, path: str, data: bytes, mode: int = 0o600) -> None:
        raise NotImplementedError

    def get_bytes(self, path: str) -> bytes:
        raise NotImplementedError

    def lexists(self, path: str | bytes) -> bool:
        """Whether `path` exists there (a dangling symlink does); `~` is that host's home."""
        raise NotImplementedError

    def put_file(self, local: str | bytes, remote: str | bytes) -> None:
        """Copy a local file of any size to `remote` (streamed; times and mode kept)."""
        raise NotImplementedError

    def get_file(self, remote: str | bytes, local: str | bytes) -> None:
        """Copy a remote file of any size to `local`, crash-safely (temporary name, rename)."""
        raise NotImplementedError

    def helper(self):
        """The remote helper on this host, started on first use and kept for the session."""
        with self._helper_lock:
            if self._helper is None:
                from wacket.remote.client import HelperClient

                self._helper = HelperClient(self)
            return self._helper

    def close(self) -> None:
        if self._helper is not None:
            self._helper.close()
            self._helper = None

    def __init__(self, host: Host):
        self.host = host
        self._helper = None
        self._helper_lock = threading.Lock()


class Process:
    """A long-running command with pipes: stdin writable, stdout readable (the helper's channel)."""

    stdin = None
    stdout = None

    def stderr_text(self) -> str:
        return ""

    pgid: int | None = None  # a local child's process group (a second signal kills it)

    def wait(self) -> int | None:
        raise NotImplementedError

    def stop(self) -> None:
        """On interrupt: end the command's whole process group (a helper mid-op must not run
        on after wacket exits, walking a tree or watching a line for nobody)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class LocalSession(Session):
    """The local machine: commands run directly, no SSH."""

    def run(self, argv, *, input=None, timeout=None, on_output=None) -> Result:
        start = time.monotonic()
        args = (
            ["/bin/sh", "-c", to_shell(argv)]
            if isinstance(argv, str)
            else [os.fsencode(a) for a in argv]
        )
        try:
            proc = children.popen(
                args,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return Result(self.host.name, 127, b"", os.fsencode(f"{args[0]!r}: {exc.strerror}\n"))
        with interrupt.running(lambda: _end_group(proc), proc.pid):
            out, err, timed_out = _pump_local(proc, input, timeout, on_output)
        return Result(
            self.host.name,
            proc.returncode if not timed_out else None,
            out,
            err,
            time.monotonic() - start,
            timed_out,
        )

    def open_process(self, argv) -> Process:
        args = (
            ["/bin/sh", "-c", to_shell(argv)]
            if isinstance(argv, str)
            else [os.fsencode(a) for a in argv]
        )
        return _LocalProcess(args)

    def put_bytes(self, path, data, mode=0o600):
        from wacket.fsutil import atomic_write

        atomic_write(Path(os.path.expanduser(path)), data, mode)

    def get_bytes(self, path):
        return Path(os.path.expanduser(path)).read_bytes()

    def lexists(self, path):
        return os.path.lexists(os.path.expanduser(path))

    def put_file(self, local, remote):
        _copy_local(local, os.path.expanduser(os.fsencode(remote)))

    def get_file(self, remote, local):
        _copy_local(os.path.expanduser(os.fsencode(remote)), local)


def _copy_local(src, dst) -> None:
    import shutil

    from wacket.fsutil import adopt

    tmp = os.fsencode(dst) + b".wacket-tmp"
    shutil.copy2(os.fsencode(src), tmp)
    adopt(tmp, os.fsencode(dst))


def _pump_local(proc, input, timeout, on_output):
    """Feed stdin and collect both outputs without deadlock, honouring a timeout."""
    chunks = {"stdout": [], "stderr": []}
    streams = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    deadline = time.monotonic() + timeout if timeout else None
    if input is not None:
        threading.Thread(target=_feed, args=(proc.stdin, input), daemon=True).start()
    open_fds = set(streams)
    timed_out = False
    while open_fds:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select(list(open_fds), [], [], wait)
        if not ready:
            timed_out = True
            _kill_group(proc)
            break
        for fd in ready:
            data = os.read(fd, 65536)
            if not data:
                open_fds.discard(fd)
                continue
            chunks[streams[fd]].append(data)
            if on_output:
                on_output(streams[fd], data)
    if timed_out:
        proc.wait()
    else:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            proc.wait(remaining)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            timed_out = True
    proc.stdout.close()
    proc.stderr.close()
    return b"".join(chunks["stdout"]), b"".join(chunks["stderr"]), timed_out


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, ValueError):
        pass


def _kill_group(proc) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _end_group(proc) -> None:
    """On interrupt: SIGTERM to the child's whole process group, SIGKILL after a short grace."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        proc.wait(KILL_GRACE)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group may outlive its leader
    except (ProcessLookupError, PermissionError):
        pass


class _LocalProcess(Process):
    def __init__(self, args):
        self.proc = children.popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.stdin = self.proc.stdin
        self.stdout = self.proc.stdout
        self.pgid = self.proc.pid  # children.popen makes it a group leader
        self._err: list[bytes] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self._err.append(chunk)

    def stderr_text(self):
        return b"".join(self._err).decode("utf-8", "replace")

    def wait(self):
        return self.proc.wait()

    def stop(self):
        _end_group(self.proc)

    def close(self):
        try:
            self.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class SSHSession(Session):
    """A paramiko connection to one host, opened lazily and reused."""

    def __init__(
        self, host: Host, *, accept_new: bool = False, connect_timeout: float | None = None
    ):
        super().__init__(host)
        self.accept_new = accept_new or host.accept_new
        self.connect_timeout = connect_timeout or DEFAULT_CONNECT_TIMEOUT
        self._client = None
        self._sftp = None
        self._sftp_stop = None  # the interrupt hook of the open SFTP channel
        self._jump = None
        self._home: bytes | None = None
        self._sftp_lock = threading.RLock()
        self._lock = threading.Lock()
        self._end_lock = threading.Lock()
        self._ended_at = -1.0  # when an interrupt last ended this connection's commands

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def connect(self) -> None:
        self.client  # noqa: B018 - opens the connection

    def _connect(self):
        import socket

        from wacket.transport import hostkeys
        from wacket.transport.sshlib import paramiko

        host = self.host
        client = paramiko.SSHClient()
        kh = known_hosts_path()
        if kh.exists():
            try:
                client.load_host_keys(str(kh))
            except (OSError, paramiko.SSHException) as exc:
                raise WacketError(f"{kh}: cannot read known_hosts: {exc}") from None
        client.set_missing_host_key_policy(
            hostkeys.AcceptNew() if self.accept_new else hostkeys.RefuseUnknown()
        )
        jump = self._jump_channel() if host.proxy_jump else None
        agent = bool(os.environ.get("SSH_AUTH_SOCK"))
        try:
            sock = (
                jump
                if jump is not None
                else _tcp_connect(host.address, host.port, self.connect_timeout)
            )
            client.connect(
                host.address,
                port=host.port,
                username=host.user or None,
                key_filename=host.identity or None,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout,
                channel_timeout=self.connect_timeout,
                allow_agent=agent,
                look_for_keys=not host.identity,
                sock=sock,
            )
        except paramiko.BadHostKeyException as exc:
            raise UnreachableError(
                host.name,
                "host key changed",
                f"the key of {exc.hostname} is {hostkeys.fingerprint(exc.key)}, not the one in "
                f"{kh}; if the change is expected, remove the old key with "
                f"ssh-keygen -R {shlex.quote(hostkeys.host_id(host.address, host.port))}",
            ) from None
        except hostkeys.UnknownHostKey as exc:
            raise UnreachableError(
                host.name,
                "host key unknown",
                f"{exc.hostname} offered {exc.key.get_name()} {hostkeys.fingerprint(exc.key)}; "
                "if that is right, run again with --accept-new (or set accept_new = true on the "
                "host) to record it",
            ) from None
        except paramiko.AuthenticationException as exc:
            raise UnreachableError(host.name, "auth", str(exc) or "authentication failed") from None
        except TimeoutError:
            raise UnreachableError(host.name, "timeout", f"no answer from {host.address}") from None
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            import errno

            codes = {getattr(e, "errno", None) for e in exc.errors.values()}
            reason = "refused" if errno.ECONNREFUSED in codes else "error"
            raise UnreachableError(host.name, reason, f"{host.address} port {host.port}") from None
        except ConnectionRefusedError:
            raise UnreachableError(
                host.name, "refused", f"{host.address} port {host.port}"
            ) from None
        except socket.gaierror as exc:
            raise UnreachableError(host.name, "dns", f"{host.address}: {exc.strerror}") from None
        except paramiko.SSHException as exc:
            text = str(exc)
            transport = client.get_transport()
            if transport is None or not transport.remote_version or "banner" in text:
                # TCP was accepted but no SSH greeting ever came: a hung host or service.
                raise UnreachableError(
                    host.name, "timeout", f"{host.address} port {host.port} sent no SSH banner"
                ) from None
            if "authentication" in text.lower():  # e.g. no key and no agent at all
                raise UnreachableError(host.name, "auth", text) from None
            raise UnreachableError(host.name, "ssh", text) from None
        except OSError as exc:
            raise UnreachableError(host.name, "error", exc.strerror or str(exc)) from None
        transport = client.get_transport()
        transport.set_keepalive(30)
        return client

    def _jump_channel(self):
        """ProxyJump: reach the host through a channel opened on the jump host's session."""
        from wacket.fleet import Host as FleetHost

        spec = self.host.proxy_jump.split(",")[0]
        user, _, rest = spec.rpartition("@")
        address, _, port = rest.partition(":")
        jump_host = FleetHost(
            f"{self.host.name}-jump",
            address,
            user or self.host.user,
            int(port or 22),
            list(self.host.identity),
            source="ssh_config",
        )
        from wacket.fleet import _merge_ssh
        from wacket.sshconfig import SSHConfig

        jump_host = _merge_ssh(jump_host, SSHConfig.load(self.host.ssh_config), {})
        self._jump = SSHSession(
            jump_host, accept_new=self.accept_new, connect_timeout=self.connect_timeout
        )
        transport = self._jump.client.get_transport()
        return transport.open_channel(
            "direct-tcpip",
            (self.host.address, self.host.port),
            ("127.0.0.1", 0),
            timeout=self.connect_timeout,
        )

    def run(self, argv, *, input=None, timeout=None, on_output=None) -> Result:
        from wacket.transport.sshlib import paramiko

        start = time.monotonic()
        chan = self._open_channel()
        remote = _RemoteCommand()
        try:
            chan.exec_command(encode(to_shell(argv)))
            remote.started = time.monotonic()  # sshd has started it: an ending from now sees it
            if input is not None:
                threading.Thread(target=_feed_channel, args=(chan, input), daemon=True).start()
            else:
                _shutdown_write(chan)
            with interrupt.running(lambda: self._end(remote)):
                out, err, timed_out = _pump_channel(chan, timeout, on_output, remote)
            if remote.ended and not chan.exit_status_ready():
                return Result(self.host.name, None, out, err, time.monotonic() - start)
            rc = None if timed_out else chan.recv_exit_status()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            # The connection may be going down before paramiko marks it so: ask it (not when
            # an interrupt is ending the run: that is no time for one more round trip).
            if not remote.ended and not self.still_connected():
                raise UnreachableError(
                    self.host.name, "lost", str(exc) or "connection lost"
                ) from None
            raise
        finally:
            try:
                chan.close()
            except (paramiko.SSHException, EOFError, OSError):
                pass
        if rc == -1 and not remote.ended and not self.still_connected():
            raise UnreachableError(self.host.name, "lost", "connection lost during the command")
        return Result(self.host.name, rc, out, err, time.monotonic() - start, timed_out)

    def _end(self, remote: _RemoteCommand) -> None:
        """On interrupt: end every command of this connection on the host (END_SIBLINGS), once
        for all the commands that had started by then; their channels then report their end."""
        client = self._client  # never a new connection for this
        with self._end_lock:
            if client is not None and self._ended_at < remote.started:
                self._ended_at = time.monotonic()
                try:
                    chan = client.get_transport().open_session(timeout=KILL_GRACE * 2)
                    script = END_SIBLINGS.replace("{tries}", str(round(KILL_GRACE / 0.1)))
                    chan.exec_command(b"exec /bin/sh -c " + encode(shlex.quote(script)))
                    deadline = time.monotonic() + KILL_GRACE * 3  # SIGKILL included
                    while not chan.exit_status_ready() and time.monotonic() < deadline:
                        time.sleep(0.01)
                    chan.close()
                except Exception:  # the connection is going: closing it is all there is
                    pass
        remote.ended = True

    @property
    def alive(self) -> bool:
        """False once a connection that was open has dropped."""
        transport = self._client.get_transport() if self._client else None
        return self._client is None or bool(transport and transport.is_active())

    def still_connected(self) -> bool:
        """Does the connection still carry a command? (A command with no exit status was killed
        by a signal, or the host went away; an rsync beside this session broke: which was it?)"""
        if not self.alive:
            return False
        try:
            chan = self.client.get_transport().open_session(timeout=5)
            chan.settimeout(5)
            chan.exec_command(b"true")
            return chan.recv_exit_status() == 0
        except Exception:
            return False

    def _open_channel(self):
        from wacket.transport.sshlib import paramiko

        try:
            return self.client.get_transport().open_session(timeout=self.connect_timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise UnreachableError(self.host.name, "lost", str(exc) or "connection lost") from None

    def open_process(self, argv) -> Process:
        chan = self._open_channel()
        chan.exec_command(encode(to_shell(argv)))
        remote = _RemoteCommand()
        remote.started = time.monotonic()
        return _ChannelProcess(chan, lambda: self._end(remote))

    @property
    def sftp(self):
        client = self.client
        with self._lock:
            if self._sftp is None:
                self._sftp = client.open_sftp()
                # An interrupt mid-transfer leaves the SFTP stream mid-packet: closing the file
                # would then wait forever for a reply. Close the channel first, so it fails.
                self._sftp_stop = interrupt.running(self._sftp.get_channel().close)
                self._sftp_stop.__enter__()
            return self._sftp

    def put_bytes(self, path, data, mode=0o600):
        """Write a small payload crash-safely: temporary name, then rename over the target."""
        with self._sftp_lock:  # one SFTP channel: one request at a time
            sftp = self.sftp
            path = self._remote_path(path)
            tmp = path + b".wacket-tmp-%d-%d" % (os.getpid(), threading.get_ident())
            with sftp.open(tmp, "wb") as fh:
                fh.chmod(mode)
                fh.write(data)
            sftp.posix_rename(tmp, path)

    def get_bytes(self, path):
        with self._sftp_lock, self.sftp.open(self._remote_path(path), "rb") as fh:
            fh.prefetch()
            return fh.read()

    def lexists(self, path):
        with self._sftp_lock:
            try:
                self.sftp.lstat(self._remote_path(path))
            except FileNotFoundError:
                return False
        return True

    def put_file(self, local, remote):
        with self._sftp_lock:  # one SFTP channel: one request at a time
            remote = self._remote_path(remote)
            tmp = remote + b".wacket-tmp-%d-%d" % (os.getpid(), threading.get_ident())
            st = os.stat(local)
            with open(local, "rb") as fh:
                self.sftp.putfo(fh, tmp, st.st_size, confirm=True)
            self.sftp.chmod(tmp, st.st_mode & 0o7777)
            self.sftp.utime(tmp, (st.st_atime, st.st_mtime))
            self.sftp.posix_rename(tmp, remote)

    def get_file(self, remote, local):
        with self._sftp_lock:  # one SFTP channel: one request at a time
            local = os.fsencode(local)
            tmp = local + b".wacket-tmp"
            remote = self._remote_path(remote)
            with open(tmp, "wb") as fh:
                self.sftp.getfo(remote, fh)
            st = self.sftp.stat(remote)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.utime(tmp, (st.st_atime, st.st_mtime))
            # imported here, as put_bytes does: a session that never copies does without it
            from wacket.fsutil import adopt

            adopt(tmp, local)

    def _remote_path(self, path: str | bytes) -> bytes:
        """SFTP paths as bytes (any file name survives); `~` is the remote $HOME, asked once."""
        path = os.fsencode(path)
        if path == b"~" or path.startswith(b"~/"):
            if self._home is None:
                self._home = self.run('printf %s "$HOME"').stdout
            return self._home + path[1:]
        return path

    def close(self):
        super().close()
        if self._sftp_stop is not None:
            self._sftp_stop.__exit__(None, None, None)
            self._sftp_stop = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._jump is not None:
            self._jump.close()


def _tcp_connect(address: str, port: int, timeout: float):
    """A TCP connection with Nagle's algorithm off, as OpenSSH's client has it: paramiko leaves
    it on, and each small SSH message then waits for the peer's delayed ACK (~40 ms a round
    trip: a connection took 100 ms on loopback, a command on it 44 ms; now 20 ms and 3 ms)."""
    import socket

    sock = socket.create_connection((address, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _feed_channel(chan, data: bytes) -> None:
    try:
        chan.sendall(data)
        _shutdown_write(chan)
    except OSError:
        pass


def _shutdown_write(chan) -> None:
    """chan.shutdown_write(), with the EOF sent while the channel's lock is held.

    paramiko builds the EOF under the lock but sends it after letting go; when the command has
    just ended, its transport thread can answer the server's CLOSE in between, and the EOF then
    follows our CLOSE: OpenSSH drops the whole connection ("ieof packet referred to nonexistent
    channel", paramiko#1115). Holding the lock makes that CLOSE wait for the EOF."""
    make_eof = getattr(chan, "_send_eof", None)
    transport = chan.transport
    if make_eof is None or transport is None or not hasattr(transport, "_send_user_message"):
        chan.shutdown_write()  # a paramiko without these internals
        return
    with chan.lock:
        message = make_eof()  # marks the EOF sent, so paramiko never sends one later
        if message is not None and not chan.closed:  # closed: its CLOSE went out, EOF first
            transport._send_user_message(message)


class _RemoteCommand:
    """A command running on a channel: when it started, and whether an interrupt ended it."""

    def __init__(self):
        self.started = 0.0
        self.ended = False


def _pump_channel(chan, timeout, on_output, remote):
    chunks = {"stdout": [], "stderr": []}
    deadline = time.monotonic() + timeout if timeout else None
    timed_out = False
    while True:
        got = False
        while chan.recv_ready():
            data = chan.recv(65536)
            if not data:
                break
            got = True
            chunks["stdout"].append(data)
            if on_output:
                on_output("stdout", data)
        while chan.recv_stderr_ready():
            data = chan.recv_stderr(65536)
            if not data:
                break
            got = True
            chunks["stderr"].append(data)
            if on_output:
                on_output("stderr", data)
        if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
            if chan.eof_received or chan.closed:
                break
        if remote.ended and not got:
            break  # ended on interrupt: its exit status may never come if the host went away
        if deadline is not None and time.monotonic() > deadline:
            timed_out = True
            break
        if not got:
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            select.select([chan], [], [], wait)
    return b"".join(chunks["stdout"]), b"".join(chunks["stderr"]), timed_out


class _ChannelProcess(Process):
    def __init__(self, chan, end: Callable[[], None]):
        self.chan = chan
        self.stop = end  # SSHSession._end: the command's process group, over the connection
        self.stdin = chan.makefile_stdin("wb")
        self.stdout = chan.makefile("rb")
        self._err: list[bytes] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        try:
            for chunk in iter(lambda: self.chan.recv_stderr(65536), b""):
                self._err.append(chunk)
        except OSError:
            pass

    def stderr_text(self):
        return b"".join(self._err).decode("utf-8", "replace")

    def wait(self):
        return self.chan.recv_exit_status()

    def close(self):
        try:
            _shutdown_write(self.chan)
        except OSError:
            pass
        self.chan.close()
        # Now, not at interpreter exit: paramiko's stdin file shuts its channel down when it is
        # collected, and that takes the channel's lock.
        self.stdin = self.stdout = None
