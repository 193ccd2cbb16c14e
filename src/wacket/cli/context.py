"""What every command shares: config, fleet, the session pool, and the shared option decorators."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from wacket.errors import WacketError


class App:
    def __init__(self, config_path: Path | None, quiet: bool, debug: bool):
        self.config_path = config_path
        self.quiet = quiet
        self.debug = debug
        self._config = None
        self._fleet = None
        self._pools: list = []

    @property
    def config(self):
        if self._config is None:
            from wacket import config

            self._config = config.load(self.config_path)
        return self._config

    @property
    def fleet(self):
        if self._fleet is None:
            from wacket.fleet import Fleet

            self._fleet = Fleet.load(self.config)
        return self._fleet

    def pool(self, accept_new: bool = False, connect_timeout: float | None = None):
        from wacket.transport.pool import Pool

        pool = Pool(accept_new=accept_new, connect_timeout=connect_timeout)
        self._pools.append(pool)
        return pool

    def close(self) -> None:
        for pool in self._pools:
            pool.close()

    def note(self, message: str) -> None:
        """Informational text on stderr, silenced by --quiet."""
        if not self.quiet:
            click.echo(message, err=True)


pass_app = click.make_pass_decorator(App)


def connection_options(fn):
    """--accept-new and --connect-timeout, for every command that opens SSH sessions."""

    @click.option(
        "--accept-new",
        is_flag=True,
        help="Record the host key of a host seen for the first time (never a changed one).",
    )
    @click.option(
        "--connect-timeout",
        type=float,
        default=10.0,
        show_default=True,
        metavar="SECONDS",
        help="Give up on a host that does not answer within this time.",
    )
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def forks_option(fn):
    return click.option(
        "--forks",
        "-f",
        type=click.IntRange(1, 512),
        default=32,
        show_default=True,
        help="How many hosts to work on at once.",
    )(fn)


def debug_enabled() -> bool:
    return bool(os.environ.get("WACKET_DEBUG"))


__all__ = ["App", "WacketError", "pass_app", "connection_options", "forks_option"]
