"""Real Xvfb X servers for the clipboard tests (xclip and xsel talk to them).

Each server is our direct child on a free display number and is reaped when stopped (PID 1 on the
test machines reaps nothing). Display numbers are claimed with X's own lock files, so parallel
pytest-xdist workers (and other users of the machine) never share one.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

SOCKET_DIR = Path("/tmp/.X11-unix")


def _end(proc: subprocess.Popen | None) -> None:
    """Terminate a server we started and reap it (PID 1 here reaps nothing)."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Xvfb:
    def __init__(self, first: int = 140) -> None:
        self.first = first
        self.display_number: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def display(self) -> str:
        return f":{self.display_number}"

    @property
    def env(self) -> dict[str, str]:
        return {"DISPLAY": self.display}

    def start(self, timeout: float = 15.0) -> Xvfb:
        # Spread workers apart so they rarely race for the same number.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        offset = int("".join(c for c in worker if c.isdigit()) or 0) * 40
        for number in range(self.first + offset, self.first + offset + 400):
            if Path(f"/tmp/.X{number}-lock").exists() or (SOCKET_DIR / f"X{number}").exists():
                continue
            if self._try(number, timeout):
                return self
        raise RuntimeError("no free X display number for Xvfb")

    def _try(self, number: int, timeout: float) -> bool:
        proc = subprocess.Popen(
            ["Xvfb", f":{number}", "-nolisten", "tcp", "-screen", "0", "640x480x24"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sock = SOCKET_DIR / f"X{number}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:  # lost the race for this number
                proc.wait()
                return False
            if sock.exists() and self._answers(number):
                self.display_number, self.proc = number, proc
                return True
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        raise RuntimeError(f"Xvfb :{number} did not come up within {timeout}s")

    @staticmethod
    def _answers(number: int) -> bool:
        r = subprocess.run(
            ["xclip", "-selection", "clipboard", "-o", "-t", "TARGETS"],
            env={**os.environ, "DISPLAY": f":{number}"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
        )
        return b"Can't open display" not in r.stderr

    def stop(self) -> None:
        _end(self.proc)
        self.proc = None

    # Reading and writing the clipboard directly, to check wacket from the outside.
    def xclip_get(self, target: str | None = None, selection: str = "clipboard") -> bytes:
        argv = ["xclip", "-selection", selection, "-o"] + (["-t", target] if target else [])
        return subprocess.run(
            argv,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
        ).stdout

    def xclip_set(self, data: bytes, target: str | None = None) -> None:
        argv = ["xclip", "-selection", "clipboard", "-i"] + (["-t", target] if target else [])
        # xclip stays to own the selection: give it no pipe of ours but stdin.
        proc = subprocess.Popen(
            argv,
            env={**os.environ, **self.env},
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        proc.communicate(data, timeout=20)

    def targets(self) -> list[str]:
        return self.xclip_get("TARGETS").decode().split()

    def __enter__(self) -> Xvfb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Sway:
    """A headless sway (Wayland) as our direct child, run as an unprivileged user (sway refuses
    root), with a private 0700 XDG_RUNTIME_DIR; wl-copy/wl-paste talk to it."""

    def __init__(self, user: str = "nobody") -> None:
        import tempfile

        # Under /tmp itself: the unprivileged user cannot reach pytest's 0700 tmp dirs.
        self.workdir = Path(tempfile.mkdtemp(prefix="wacket-sway-"))
        self.user = user
        self.proc: subprocess.Popen | None = None
        self.socket: str | None = None

    @property
    def runtime_dir(self) -> Path:
        return self.workdir / "runtime"

    @property
    def env(self) -> dict[str, str]:
        return {"XDG_RUNTIME_DIR": str(self.runtime_dir), "WAYLAND_DISPLAY": self.socket or ""}

    def start(self, timeout: float = 30.0) -> Sway:
        import pwd

        pw = pwd.getpwnam(self.user)
        rt = self.runtime_dir
        rt.mkdir(parents=True, mode=0o700)
        self.workdir.chmod(0o755)
        os.chown(rt, pw.pw_uid, pw.pw_gid)
        config = self.workdir / "sway.conf"
        config.write_text("")
        config.chmod(0o644)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(rt),
            "XDG_RUNTIME_DIR": str(rt),
            "WLR_BACKENDS": "headless",
            "WLR_LIBINPUT_NO_DEVICES": "1",
            "WLR_RENDERER": "pixman",
        }
        with open(self.workdir / "sway.log", "wb") as log:
            self.proc = subprocess.Popen(
                ["sway", "-c", str(config)],
                env=env,
                user=pw.pw_uid,
                group=pw.pw_gid,
                extra_groups=[],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc.wait()
                raise RuntimeError("sway exited: " + (self.workdir / "sway.log").read_text())
            names = [n for n in os.listdir(rt) if n.startswith("wayland-") and "." not in n]
            if names:
                self.socket = names[0]
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("sway did not come up")

    def stop(self) -> None:
        _end(self.proc)
        self.proc = None
        import shutil

        shutil.rmtree(self.workdir, ignore_errors=True)

    def paste(self, mime: str | None = None) -> bytes:
        argv = ["wl-paste", "--no-newline"] + (["--type", mime] if mime else [])
        env = {**os.environ, **self.env}
        env.pop("DISPLAY", None)
        return subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=20
        ).stdout

    def types(self) -> list[str]:
        env = {**os.environ, **self.env}
        env.pop("DISPLAY", None)
        out = subprocess.run(
            ["wl-paste", "--list-types"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
        ).stdout
        return out.decode().split()

    def __enter__(self) -> Sway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Notifier:
    """A desktop's notification service on an Xvfb display: a session dbus-daemon and dunst, both
    our direct children. Every notification shown is also appended to `shown` (app, summary,
    body per line, via a dunst script rule)."""

    def __init__(self, xvfb: Xvfb, workdir: Path) -> None:
        self.xvfb = xvfb
        self.workdir = Path(workdir)
        self.shown = self.workdir / "shown.txt"
        self.procs: list[subprocess.Popen] = []
        self.address = ""

    @property
    def env(self) -> dict[str, str]:
        return {"DISPLAY": self.xvfb.display, "DBUS_SESSION_BUS_ADDRESS": self.address}

    def start(self, timeout: float = 20.0) -> Notifier:
        self.workdir.mkdir(parents=True, exist_ok=True)
        bus = subprocess.Popen(
            [
                "dbus-daemon",
                "--session",
                "--nofork",
                "--print-address=1",
                f"--address=unix:path={self.workdir / 'bus'}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(bus)
        self.address = bus.stdout.readline().decode().strip()
        script = self.workdir / "record.sh"
        script.write_text(f'#!/bin/sh\nprintf "%s|%s|%s\\n" "$1" "$2" "$3" >> {self.shown}\n')
        script.chmod(0o755)
        config = self.workdir / "dunstrc"
        config.write_text(f"[global]\n[record]\nappname = *\nscript = {script}\n")
        dunst = subprocess.Popen(
            ["dunst", "-config", str(config)],
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(dunst)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = subprocess.run(
                ["dunstctl", "is-paused"],
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=10,
            )
            if r.returncode == 0:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("dunst did not come up")

    def lines(self) -> list[str]:
        try:
            return self.shown.read_text().splitlines()
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _end(proc)
            if proc.stdout:
                proc.stdout.close()
        self.procs.clear()

    def __enter__(self) -> Notifier:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# Running wacket as another machine of the test bed: over real SSH, with that machine's own HOME,
# config and data dir (each test gets fresh ones, so tests never share state through a host).


def make_machine(bed, root: Path, name: str, extra_toml: str = "") -> dict[str, Path]:
    """A HOME with known_hosts and a wacket config (the test bed's fleet + extra_toml)."""
    home = Path(root) / f"{name}-home"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = home / ".config" / "wacket" / "config.toml"
    bed.write_fleet(home, config, extra_toml)
    return {"home": home, "config": config, "data": home / ".local" / "share" / "wacket"}


def remote_wacket(
    bed,
    local_home: Path,
    host,
    machine: dict,
    *args: str,
    input: bytes | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run `python -m wacket ARGS` on sshd `host` (a real SSH login), as `machine`."""
    import shlex
    import sys

    remote = [
        "env",
        "-u",
        "DISPLAY",
        f"HOME={machine['home']}",
        f"WACKET_CONFIG={machine['config']}",
        f"WACKET_DATA={machine['data']}",
        "XDG_CACHE_HOME=" + str(machine["home"] / ".cache"),
        sys.executable,
        "-m",
        "wacket",
        *args,
    ]
    argv = [
        *bed.ssh_base(Path(local_home) / ".ssh" / "known_hosts"),
        "-p",
        str(host.port),
        f"root@{host.address}",
        " ".join(shlex.quote(a) for a in remote),
    ]
    kwargs = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(argv, capture_output=True, timeout=timeout, **kwargs)
