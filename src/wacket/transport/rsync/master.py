"""An OpenSSH control master for the ssh that rsync starts (backup: no second handshake)."""

from __future__ import annotations

import os
import subprocess

from wacket import children
from wacket.transport.rsync.command import ssh_command


def _control_dir() -> str:
    """A private directory for the control socket (short path: sockets allow ~100 bytes); those
    of runs that were killed are removed here."""
    import shutil
    import tempfile

    base = os.path.join(tempfile.gettempdir(), f"wacket-ssh-{os.getuid()}")
    os.makedirs(base, mode=0o700, exist_ok=True)
    os.chmod(base, 0o700)
    for entry in os.listdir(base):
        try:
            os.kill(int(entry), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(os.path.join(base, entry), ignore_errors=True)
        except PermissionError:
            pass
    path = os.path.join(base, str(os.getpid()))
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


class SSHMaster:
    """An OpenSSH control master opened while the helper connects, so rsync's own ssh starts
    without a handshake (about half a second per run here). If the master is not up yet when
    rsync starts, rsync's ssh simply connects by itself."""

    def __init__(self, host, *, accept_new: bool = False, connect_timeout: float = 10.0):
        self.dir = _control_dir()
        self.path = os.path.join(self.dir, "master")
        argv = ssh_command(host, accept_new=accept_new, connect_timeout=int(connect_timeout)) + [
            "-M",
            "-S",
            self.path,
            "-N",
            "-o",
            "ControlPersist=no",
            host.address,
        ]
        try:
            self.proc = children.popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self.proc = None

    def close(self) -> None:
        import shutil

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
