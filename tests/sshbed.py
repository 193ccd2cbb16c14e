"""Real OpenSSH servers on loopback for wacket's tests.

Everything here starts real processes (``/usr/sbin/sshd``) as direct children and
reaps them: PID 1 on the test machines does not reap orphans. Only loopback
addresses are used. No pytest import, so the module also works from a REPL.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

SSHD_BIN = "/usr/sbin/sshd"
READY_MARK = "Server listening on"

# Everything started and not yet stopped; atexit stops these if a test run dies.
_LIVE: set = set()
# Bound-but-not-listening sockets that keep closed_port() ports closed.
_RESERVED: list[socket.socket] = []


def _family(addr: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def isolated_env(home: Path) -> dict[str, str]:
    """os.environ pointed at `home` (created 0700) for wacket: config, data, cache; no agent.

    For scripts outside pytest (bench/) that run wacket beside a TestBed.
    """
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = dict(
        os.environ,
        HOME=str(home),
        WACKET_CONFIG=str(home / "config.toml"),
        WACKET_DATA=str(home / "data"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    env.pop("SSH_AUTH_SOCK", None)
    return env


def free_port(addr: str = "127.0.0.1") -> int:
    """A port free on ``addr`` now: sshd rejects ``Port 0``, so we pick one."""
    with socket.socket(_family(addr), socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def closed_port(addr: str = "127.0.0.1") -> int:
    """A port on ``addr`` where connections are refused.

    The port stays bound (never listening) until the process exits, so no other
    test can start listening on it meanwhile.
    """
    s = socket.socket(_family(addr), socket.SOCK_STREAM)
    s.bind((addr, 0))
    _RESERVED.append(s)
    return s.getsockname()[1]


def keygen(path: Path, comment: str = "wacket-test") -> Path:
    """Make an ed25519 key pair without passphrase at ``path``; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_name(path.name + ".pub")):
        p.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return path


def pub_of(key: Path) -> Path:
    """The ``.pub`` file next to a private key."""
    return key.with_name(key.name + ".pub")


def known_hosts_host(address: str, port: int) -> str:
    """Host field of a known_hosts line: bare for port 22, ``[addr]:port`` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


class SSHD:
    """One OpenSSH sshd on a loopback address, run in the foreground as our child."""

    def __init__(
        self,
        workdir: Path,
        address: str = "127.0.0.1",
        port: int | None = None,
        authorized_keys: list[Path] | tuple[Path, ...] = (),
    ) -> None:
        # sshd re-execs itself and wants absolute paths everywhere.
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._address = address
        self._auto_port = port is None
        self._port = free_port(address) if port is None else port
        self.authorized_keys = [Path(k) for k in authorized_keys]
        self.host_key = self.workdir / "host_key"
        self.config_path = self.workdir / "sshd_config"
        self.log_path = self.workdir / "sshd.log"
        self.authorized_keys_path = self.workdir / "authorized_keys"
        self.proc: subprocess.Popen | None = None
        self._log_offset = 0
        keygen(self.host_key, comment=f"host-{address}")
        self.write_authorized_keys()
        self.write_config()

    # -- properties -------------------------------------------------------------
    @property
    def address(self) -> str:
        return self._address

    @property
    def port(self) -> int:
        return self._port

    @property
    def host_key_pub(self) -> Path:
        return pub_of(self.host_key)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def known_hosts_line(self) -> str:
        """``[addr]:port keytype base64`` for a known_hosts file (no keyscan needed)."""
        keytype, b64 = self.host_key_pub.read_text().split()[:2]
        return f"{known_hosts_host(self.address, self.port)} {keytype} {b64}"

    def log(self, offset: int = 0) -> str:
        """What sshd wrote to stderr from byte ``offset`` on (all starts by default)."""
        try:
            data = self.log_path.read_bytes()[offset:]
        except FileNotFoundError:
            return ""
        # Bytes, not read_text(): sshd ends lines with CRLF and offsets are bytes.
        return data.decode(errors="replace").replace("\r\n", "\n")

    # -- files ------------------------------------------------------------------
    def write_authorized_keys(self) -> None:
        """(Re)write authorized_keys from ``self.authorized_keys`` (.pub paths)."""
        text = "".join(Path(k).read_text().strip() + "\n" for k in self.authorized_keys)
        self.authorized_keys_path.write_text(text)
        self.authorized_keys_path.chmod(0o600)

    @property
    def home(self) -> Path:
        """This host's $HOME for SSH sessions (its cache, data dir and files live here)."""
        path = self.workdir / "home"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def write_config(self) -> None:
        d = self.workdir
        self.config_path.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"ListenAddress {self.address}",
                    f"HostKey {self.host_key}",
                    f"PidFile {d / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized_keys_path}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    # Keys live under /tmp, which StrictModes would reject.
                    "StrictModes no",
                    "Subsystem sftp internal-sftp",
                    # Parallel tests open many connections at once: don't throttle.
                    "MaxStartups 100:30:200",
                    "MaxSessions 50",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "UseDNS no",
                    # Each host gets a home of its own, so hosts on one machine don't share state.
                    f"SetEnv HOME={self.home}",
                    # INFO, not ERROR: the ready mark is logged at INFO.
                    "LogLevel INFO",
                    "",
                ]
            )
        )

    # -- lifecycle --------------------------------------------------------------
    def command(self) -> list[str]:
        """The sshd command line (a subclass may run it inside something)."""
        return [SSHD_BIN, "-D", "-e", "-f", str(self.config_path)]

    def launch(self) -> None:
        """Start sshd without waiting for it (lets a bed start several at once)."""
        if self.running:
            return
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        self.write_config()
        # stderr goes to a file, not a pipe: a full pipe would block sshd.
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        _LIVE.add(self)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until this start's log says ``Server listening on``; raise otherwise."""
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while True:
            new = self.log(self._log_offset)
            if READY_MARK in new:
                return
            if self.proc.poll() is not None:
                self._reap()
                raise RuntimeError(
                    f"sshd on {self.address}:{self.port} exited (rc={self.proc.returncode}):\n{new}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"sshd on {self.address}:{self.port} not ready after {timeout}s:\n{new}"
                )
            time.sleep(0.02)

    def start(self, timeout: float = 10.0) -> SSHD:
        """Start sshd and wait until it listens.

        If we picked the port ourselves and someone grabbed it meanwhile, try
        another one.
        """
        for attempt in range(5):
            self.launch()
            try:
                self.wait_ready(timeout)
                return self
            except RuntimeError as exc:
                if not (self._auto_port and "Address already in use" in str(exc)) or attempt == 4:
                    raise
                self._port = free_port(self.address)
        return self  # pragma: no cover

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate sshd and reap it (PID 1 here reaps nothing)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            self.proc.wait()
        _LIVE.discard(self)

    def restart(self, timeout: float = 10.0) -> SSHD:
        """Stop and start again on the same address, port and host key."""
        self.stop()
        self.launch()
        self.wait_ready(timeout)
        return self

    def __enter__(self) -> SSHD:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SSHD {self.address}:{self.port} {state}>"


class HangServer:
    """TCP server that accepts and then never says a word: for timeout tests."""

    def __init__(self, address: str = "127.0.0.1", port: int = 0) -> None:
        self._address = address
        self._want_port = port
        self._port = 0
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.accepted = 0

    @property
    def address(self) -> str:
        return self._address

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> HangServer:
        sock = socket.socket(_family(self._address), socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._address, self._want_port))
        sock.listen(128)
        sock.settimeout(0.1)
        self._sock = sock
        self._port = sock.getsockname()[1]
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="HangServer", daemon=True)
        self._thread.start()
        _LIVE.add(self)
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)  # keep it open, say nothing
            self.accepted += 1

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for s in [*self._conns, self._sock]:
            if s is not None:
                s.close()
        self._conns.clear()
        self._sock = None
        _LIVE.discard(self)

    def __enter__(self) -> HangServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tags(i: int) -> list[str]:
    """h1: a, odd; h2: a, even; h3: odd; then odd/even alternate."""
    return (["a"] if i <= 2 else []) + ["odd" if i % 2 else "even"]


def _toml_str(s: str) -> str:
    # A JSON string is a valid TOML basic string for anything we write here.
    return json.dumps(s)


class TestBed:
    """N sshds on 127.0.0.2, 127.0.0.3, … sharing one authorized client key.

    ``client_key`` is authorized everywhere; ``wrong_key`` nowhere.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, workdir: Path, n: int = 3, first_octet: int = 2) -> None:
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.client_key = keygen(self.workdir / "client" / "id_ed25519", "wacket-client")
        self.wrong_key = keygen(self.workdir / "wrong" / "id_ed25519", "wacket-wrong")
        self.hosts: list[SSHD] = []
        for i in range(n):
            addr = f"127.0.0.{first_octet + i}"
            self.hosts.append(
                SSHD(self.workdir / f"h{i + 1}", addr, None, [pub_of(self.client_key)])
            )

    @property
    def names(self) -> list[str]:
        return [f"h{i + 1}" for i in range(len(self.hosts))]

    def by_name(self) -> dict[str, SSHD]:
        return dict(zip(self.names, self.hosts, strict=True))

    def start(self, timeout: float = 10.0) -> TestBed:
        """Launch all sshds at once, then wait for each (retrying port clashes)."""
        for h in self.hosts:
            h.launch()
        try:
            for h in self.hosts:
                try:
                    h.wait_ready(timeout)
                except RuntimeError:
                    h.start(timeout)  # retries with a new port if it was taken
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for h in self.hosts:
            h.stop()

    def known_hosts_text(self) -> str:
        return "".join(h.known_hosts_line() + "\n" for h in self.hosts)

    def write_known_hosts(self, home: Path) -> Path:
        ssh_dir = Path(home) / ".ssh"
        ssh_dir.mkdir(parents=True, exist_ok=True)
        ssh_dir.chmod(0o700)
        kh = ssh_dir / "known_hosts"
        kh.write_text(self.known_hosts_text())
        kh.chmod(0o600)
        return kh

    def fleet_toml(self, extra_toml: str = "") -> str:
        parts = []
        for i, h in enumerate(self.hosts, start=1):
            tags = ", ".join(_toml_str(t) for t in _tags(i))
            parts.append(
                f"[hosts.h{i}]\n"
                f"address = {_toml_str(h.address)}\n"
                f"port = {h.port}\n"
                f'user = "root"\n'
                f"identity = {_toml_str(str(self.client_key))}\n"
                f"tags = [{tags}]\n"
            )
        text = "\n".join(parts)
        if extra_toml:
            text += "\n" + extra_toml.strip("\n") + "\n"
        return text

    def write_fleet(self, home: Path, config_path: Path, extra_toml: str = "") -> dict[str, SSHD]:
        """Write ``home/.ssh/known_hosts`` and a wacket fleet config; name -> SSHD."""
        self.write_known_hosts(home)
        config_path = Path(config_path)
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(self.fleet_toml(extra_toml))
        return self.by_name()

    def ssh_base(self, known_hosts: Path, key: Path | None = None) -> list[str]:
        """An OpenSSH command prefix that reads nothing from the real ~/.ssh."""
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-i",
            str(key or self.client_key),
        ]

    def __enter__(self) -> TestBed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def _stop_everything() -> None:
    """Safety net: never leave an sshd (or its zombie) behind."""
    for thing in list(_LIVE):
        with contextlib.suppress(Exception):
            thing.stop()
    for s in _RESERVED:
        s.close()
    _RESERVED.clear()
