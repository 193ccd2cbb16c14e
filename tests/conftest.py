"""Shared fixtures: an isolated HOME for every test and a real sshd fleet per session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import sshbed  # noqa: E402

# A suite started as a background job (`bin/test &`, a script's `... &`) gets SIGINT ignored, and
# every wacket a test starts would inherit that and rightly keep it: a test that ends a command
# with Ctrl-C (clip share, msg tail -f, gpio watch) would wait for it forever. The test processes
# take a terminal's SIGINT, so what they start does too (intrbed.start also resets SIGTERM/SIGHUP).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _sendable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failure message naming a file with undecodable bytes (surrogate escapes) cannot travel
    from an xdist worker: the whole run would end in an INTERNALERROR that hides it. Escape it."""
    report = (yield).get_result()
    if report.longrepr is not None:
        text = str(report.longrepr)
        if _sendable(text) != text:
            report.longrepr = _sendable(text)
    report.sections = [(key, _sendable(value)) for key, value in report.sections]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME, XDG dirs and wacket's paths into tmp: never the real ~/.ssh."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("WACKET_CONFIG", str(home / ".config/wacket/config.toml"))
    monkeypatch.setenv("WACKET_DATA", str(home / ".local/share/wacket"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("SSH_AGENT_PID", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("COLUMNS", "200")
    return home


@pytest.fixture(scope="session")
def testbed(tmp_path_factory: pytest.TempPathFactory):
    """Three real sshds (h1..h3 on 127.0.0.2-4); one set per xdist worker."""
    bed = sshbed.TestBed(tmp_path_factory.mktemp("sshbed"), n=3)
    bed.start()
    try:
        yield bed
    finally:
        bed.stop()


@pytest.fixture
def fleet(testbed: sshbed.TestBed, isolated_env: Path) -> sshbed.TestBed:
    """The testbed, with known_hosts and a wacket config written into the test's HOME."""
    testbed.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]))
    return testbed


@pytest.fixture
def run_wacket(isolated_env: Path):
    """Run ``python -m wacket`` in a subprocess with the isolated environment.

    ``env`` entries override os.environ (a ``None`` value removes the variable).
    """

    def run(
        *args: str,
        input: bytes | str | None = None,
        timeout: float = 60,
        env: dict[str, str | None] | None = None,
        cwd: str | os.PathLike | None = None,
    ) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
        for k, v in (env or {}).items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = v
        if isinstance(input, str):
            input = input.encode()
        kwargs = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        return subprocess.run(
            [sys.executable, "-m", "wacket", *map(str, args)],
            env=full_env,
            capture_output=True,
            timeout=timeout,
            cwd=cwd,
            **kwargs,
        )

    return run


@pytest.fixture(scope="session")
def dovecot():
    """One Dovecot (plain + STARTTLS + imaps) per xdist worker; tests use users of their own."""
    import dovebed

    d = dovebed.Dovecot(users={"seed": "seed-pw"})
    d.start()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def hang_server():
    """A started sshbed.HangServer on 127.0.0.1 (accepts, never answers)."""
    with sshbed.HangServer("127.0.0.1") as srv:
        yield srv


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that refuses connections for the rest of the run."""
    return sshbed.closed_port("127.0.0.1")


@pytest.fixture(scope="module")
def dovecot_plain():
    """A Dovecot without TLS for a module's tests (campaigns that cut or kill its connections)."""
    import dovebed

    d = dovebed.Dovecot(users={"seed": "seed-pw"}, tls=False)
    d.start()
    try:
        yield d
    finally:
        d.stop()
