"""Where wacket keeps its config and data; env variables first so cron jobs and tests can steer it."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from pathlib import Path


def hostname() -> str:
    """This machine's name, as the fleet, the locks and the journal record it (without loading
    the socket module where the system tells it directly: start-up time)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def config_path() -> Path:
    from pathlib import Path  # here, as in each function: a query does without pathlib

    env = os.environ.get("WACKET_CONFIG")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("wacket", appauthor=False)) / "config.toml"


def data_root() -> str:
    """The data dir's path (data_dir without creating it or loading pathlib)."""
    env = os.environ.get("WACKET_DATA")
    if env:
        return os.path.expanduser(env)
    from platformdirs import user_data_dir

    return user_data_dir("wacket", appauthor=False)


def data_dir(create: bool = True) -> Path:
    from pathlib import Path

    path = Path(data_root())
    if create:
        try:
            private_dir(path)
            if not os.access(path, os.W_OK | os.X_OK):
                raise PermissionError(13, "not writable")
        except OSError as exc:
            from wacket.errors import ConfigError

            raise ConfigError(
                f"data dir {path} (set by $WACKET_DATA or the XDG data dir): cannot use it:"
                f" {'not a directory' if isinstance(exc, FileExistsError) else exc.strerror}"
            ) from None
    return path


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) as 0700: it holds personal data."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def ssh_dir() -> Path:
    from pathlib import Path

    return Path(os.path.expanduser("~/.ssh"))


def known_hosts_path() -> Path:
    """The user's known_hosts, shared by paramiko sessions and the OpenSSH client rsync runs."""
    return ssh_dir() / "known_hosts"


def ro_uri(path) -> str:
    """A SQLite URI that opens `path` read-only (its % ? # escaped, as URIs need)."""
    text = os.fspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{text}?mode=ro"
