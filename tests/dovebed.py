"""A real Dovecot IMAP server on loopback for wacket's mail tests and benchmark.

`dovecot -F -c CONF` runs as a direct child (PID 1 here reaps nothing), as an unprivileged user
made with useradd, with a plain listener (STARTTLS offered when tls=True) and an imaps listener
using a self-signed certificate made by openssl. Ports are picked free. Each instance lives in its
own directory under /tmp (pytest's tmp dirs are 0700 root, which the unprivileged user cannot
enter), so instances never share anything: one per xdist worker is fine. No pytest import.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
USER = "wacketmail"
_LIVE: set = set()


def free_port(addr: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def ensure_user(name: str = USER) -> pwd.struct_passwd:
    """The unprivileged account Dovecot runs as (created once; safe when workers race)."""
    with open("/tmp/.wacket-dovebed-useradd.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(name)


def make_cert(directory: Path, address: str = "127.0.0.1") -> tuple[Path, Path]:
    crt, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={address}",
         "-addext", f"subjectAltName=IP:{address}",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt, key


class Dovecot:
    """One Dovecot instance. `users` maps name -> password; `tls` adds STARTTLS + imaps."""

    def __init__(self, users: dict[str, str] | None = None, tls: bool = True,
                 address: str = "127.0.0.1", fsync: bool = False):  # fmt: skip
        self.users = dict(users or {"alice": "Wk-7q!tz#Pw9x", "bob": "b0b-Secret%42"})
        self.tls = tls
        self.address = address
        self.fsync = fsync
        self.pw = ensure_user()
        self.dir = Path(tempfile.mkdtemp(prefix="wacket-dovebed-", dir="/tmp"))
        self.port = free_port(address)
        self.ssl_port = free_port(address) if tls else 0
        self.conf = self.dir / "dovecot.conf"
        self.log = self.dir / "dovecot.log"
        self.cert: Path | None = None
        self.proc: subprocess.Popen | None = None

    def home(self, user: str) -> Path:
        return self.dir / "home" / user

    def _write(self) -> None:
        d = self.dir
        for sub in ("run", "state", "home"):
            (d / sub).mkdir(exist_ok=True)
        lines = []
        for user, password in self.users.items():
            self.home(user).mkdir(parents=True, exist_ok=True)
            lines.append(f"{user}:{{PLAIN}}{password}::::{self.home(user)}::")
        (d / "users.passwd").write_text("\n".join(lines) + "\n")
        ssl_conf = "ssl = no"
        if self.tls:
            crt, key = make_cert(d, self.address)
            self.cert = crt
            ssl_conf = f"ssl = yes\nssl_cert = <{crt}\nssl_key = <{key}"
        imaps = (
            f"inet_listener imaps {{\n    address = {self.address}\n    port = {self.ssl_port}\n"
            "    ssl = yes\n  }"
            if self.tls
            else "inet_listener imaps {\n    port = 0\n  }"
        )
        u = self.pw.pw_name
        self.conf.write_text(
            f"""protocols = imap
listen = {self.address}
base_dir = {d}/run
state_dir = {d}/state
instance_name = wacket-dovebed-{self.port}
log_path = {self.log}
{ssl_conf}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_fsync = {"optimized" if self.fsync else "never"}
default_internal_user = {u}
default_login_user = {u}
default_internal_group = {u}
first_valid_uid = 0
protocol imap {{
  mail_max_userip_connections = 100
  imap_max_line_length = 1M
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users.passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users.passwd
}}
service imap-login {{
  inet_listener imap {{
    address = {self.address}
    port = {self.port}
  }}
  {imaps}
  chroot =
  process_min_avail = 0
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""
        )
        for root, dirs, files in os.walk(d):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), self.pw.pw_uid, self.pw.pw_gid)
        os.chown(d, self.pw.pw_uid, self.pw.pw_gid)
        d.chmod(0o755)

    def start(self, timeout: float = 15.0) -> Dovecot:
        self._write()
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "stderr.log", "wb"),  # noqa: SIM115
            user=self.pw.pw_uid,
            group=self.pw.pw_gid,
            extra_groups=[],
            cwd=self.dir,
        )
        _LIVE.add(self)
        deadline = time.monotonic() + timeout
        ports = [self.port] + ([self.ssl_port] if self.tls else [])
        while True:
            if self.proc.poll() is not None:
                self.proc.wait()
                _LIVE.discard(self)
                raise RuntimeError(f"dovecot exited rc={self.proc.returncode}:\n{self.logs()}")
            if all(self._greets(p) for p in ports):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot not ready after {timeout}s:\n{self.logs()}")
            time.sleep(0.05)

    def _greets(self, port: int) -> bool:
        try:
            with socket.create_connection((self.address, port), timeout=2) as s:
                if port == self.ssl_port:
                    ctx = ssl.create_default_context(cafile=str(self.cert))
                    with ctx.wrap_socket(s, server_hostname=self.address) as t:
                        return t.recv(100).startswith(b"* OK")
                return s.recv(100).startswith(b"* OK")
        except OSError:
            return False

    def logs(self) -> str:
        out = []
        for name in ("dovecot.log", "stderr.log"):
            with contextlib.suppress(OSError):
                out.append((self.dir / name).read_text(errors="replace")[-4000:])
        return "\n".join(out)

    def stop(self, timeout: float = 10.0) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            subprocess.run([DOVEADM, "-c", str(self.conf), "stop"], capture_output=True, timeout=10)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc is not None:
            proc.wait()
        _LIVE.discard(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def add_user(self, user: str, password: str) -> None:
        """A new mailbox user while running (Dovecot rereads the passwd-file when it changes)."""
        self.users[user] = password
        home = self.home(user)
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, self.pw.pw_uid, self.pw.pw_gid)
        passwd = self.dir / "users.passwd"
        lines = [f"{u}:{{PLAIN}}{p}::::{self.home(u)}::" for u, p in self.users.items()]
        tmp = passwd.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.chown(tmp, self.pw.pw_uid, self.pw.pw_gid)
        os.replace(tmp, passwd)
        # Dovecot reloads the file when its mtime (seconds) or size changes: two users added
        # within one second give the same size, so every change gets a later whole second.
        self._stamp = max(getattr(self, "_stamp", 0) + 1, int(time.time()) + 1)
        os.utime(passwd, (self._stamp, self._stamp))

    # -- client helpers for tests ----------------------------------------------------------------
    def client(self, user: str = "alice"):
        """A logged-in imapclient (plain IMAP on loopback)."""
        import imapclient

        c = imapclient.IMAPClient(self.address, port=self.port, ssl=False, timeout=30)
        c.login(user, self.users[user])
        return c

    def toml(self, account: str, user: str = "alice", tls: str = "none", **extra) -> str:
        port = self.ssl_port if tls == "ssl" else self.port
        lines = [f"[mail.{account}]", f'host = "{self.address}"', f"port = {port}",
                 f'user = "{user}"', f'tls = "{tls}"']  # fmt: skip
        if tls != "none" and self.cert:
            lines.append(f'ca_file = "{self.cert}"')
        for k, v in extra.items():
            if isinstance(v, str):
                lines.append(f'{k} = "{v}"')
            elif isinstance(v, list):
                lines.append(f"{k} = [" + ", ".join(f'"{x}"' for x in v) + "]")
            else:
                lines.append(f"{k} = {str(v).lower() if isinstance(v, bool) else v}")
        return "\n".join(lines) + "\n"

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    for d in list(_LIVE):
        with contextlib.suppress(Exception):
            d.stop()
