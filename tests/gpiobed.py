"""GPIO test helpers: a fleet whose h1 and h2 carry the simulated chip, and clean-up between tests.

The sim chip's state and the holder live under each sshd host's own home (its data dir), so the
helpers here read them from there to check what the device side did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

GPIO_TOML = """
[gpio.h1]
backend = "sim"
heater = { line = "GPIO17", direction = "out", active_low = false, default = 0 }
lamp   = { line = "GPIO22", direction = "out", active_low = true, default = 0 }
door   = { line = "GPIO27", direction = "in", bias = "pull-up" }
button = { line = "gpiochip0:5", direction = "in", bias = "pull-down" }

[gpio.h2]
backend = "sim"
door   = { line = "GPIO27", direction = "in", bias = "pull-up" }
"""


def gpio_dir(sshd) -> Path:
    return sshd.home / ".local/share/wacket/gpio"


def sim_state(sshd) -> dict:
    return json.loads((gpio_dir(sshd) / "sim-chip.json").read_text())


def holder_pid(sshd) -> int | None:
    try:
        return int((gpio_dir(sshd) / "holder.pid").read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def reset(sshd) -> None:
    """Stop a holder left by a test (ours: its pid file says which) and forget the chip."""
    pid = holder_pid(sshd)
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            if not alive(pid):
                break
            time.sleep(0.01)
    d = gpio_dir(sshd)
    if d.exists():
        for p in d.iterdir():
            p.unlink(missing_ok=True)  # a watcher still exiting may remove its own


def wacket_popen(*args: str) -> subprocess.Popen:
    """`wacket ARGS` as a background process (for watch), stdout/stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "wacket", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # unbuffered: readline() never reads past a line, so select() stays truthful
    )


def wait_stderr(proc: subprocess.Popen, needle: str, timeout: float = 30) -> str:
    """Read stderr lines until one contains needle (the watch says when it is armed)."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        line = proc.stderr.readline().decode()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"no {needle!r} on stderr; got: {seen!r}")


def read_events(proc: subprocess.Popen, n: int, timeout: float = 30) -> list[dict]:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    events = []
    deadline = time.monotonic() + timeout
    while len(events) < n and time.monotonic() < deadline:
        if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        line = proc.stdout.readline()
        if not line:
            break
        events.append(json.loads(line))
    return events


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
