"""The shared click parts: the App passed to every command and the shared option decorators."""

from __future__ import annotations

import functools
import os

import click

from wacket.app import App
from wacket.errors import WacketError

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
