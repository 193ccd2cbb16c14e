"""`mail login` with no terminal and no --password-stdin: a one-line usage error naming the ways
to give the password, not Python's GetPassWarning and a fake "interrupted"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def login(home: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    config = home / "config.toml"
    config.write_text('[mail.work]\nhost = "127.0.0.1"\nport = 1\nuser = "me"\n')
    env = {  # like `env -i PATH=$PATH HOME=...`: no terminal variables, no agent
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "WACKET_CONFIG": str(config),
        "WACKET_DATA": str(home / "data"),
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    return subprocess.run(
        [sys.executable, "-m", "wacket", "mail", "login", "work", *args],
        **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}),
        capture_output=True,
        env=env,
        start_new_session=True,  # no controlling terminal: /dev/tty cannot be opened
        timeout=60,
    )


def test_no_terminal_is_a_usage_error_naming_the_alternatives(isolated_env):
    r = login(isolated_env)
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert len(err.splitlines()) == 1, err
    assert "--password-stdin" in err and "password_command" in err
    assert "GetPassWarning" not in err and "echoed" not in err and "interrupted" not in err
    assert r.stdout == b""


def test_password_stdin_still_works_without_a_terminal(isolated_env):
    """The way the error points to works in the same setting."""
    r = login(isolated_env, "--password-stdin", "--no-check", input=b"s3cret\n")
    assert r.returncode == 0, r.stderr
    assert b"stored in the keyring" in r.stderr and b"s3cret" not in r.stderr + r.stdout


def test_terminal_prompt_still_asks(isolated_env):
    """With a controlling terminal (a pty), the hidden prompt is used as before."""
    import pty
    import time

    config = isolated_env / "config.toml"
    config.write_text('[mail.work]\nhost = "127.0.0.1"\nport = 1\nuser = "me"\n')
    env = dict(os.environ, WACKET_CONFIG=str(config), WACKET_DATA=str(isolated_env / "data"))
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "wacket", "mail", "login", "work",
                                   "--no-check"], env)  # fmt: skip
    out = b""
    deadline = time.monotonic() + 30
    while b"Password for me on 127.0.0.1" not in out and time.monotonic() < deadline:
        out += os.read(fd, 4096)
    os.write(fd, b"s3cret\n")
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert b"stored in the keyring" in out and b"s3cret" not in out
