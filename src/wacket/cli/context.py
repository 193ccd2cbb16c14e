"""The shared click parts: the App passed to every command and the shared option decorators."""

from __future__ import annotations

import functools

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


def hub_option(fn):
    """--hub: the machine holding the clipboard ring (clip and msg)."""
    return click.option(
        "--hub",
        metavar="HOST",
        help="The machine holding the ring (default: [clip] hub, else local).",
    )(fn)


def forks_option(fn):
    return click.option(
        "--forks",
        "-f",
        type=click.IntRange(1, 512),
        default=32,
        show_default=True,
        help="How many hosts to work on at once.",
    )(fn)


class CommandAfterHosts(click.Command):
    """`HOSTS [OPTIONS] [--] COMMAND...`: the options before the command are wacket's, so an
    unknown one is a usage error, not the command's first word; the command is everything after
    `--`, or (without `--`) from its first word on, options included (`run all ls -la`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        start = self._command_start(ctx, args)
        if args[start : start + 1] != ["--"]:
            args = [*args[:start], "--", *args[start:]]
        ctx.ignore_unknown_options = False
        return super().parse_args(ctx, args)

    def _command_start(self, ctx: click.Context, args: list[str]) -> int:
        """Where the command begins: at the first `--`, or at the first word after HOSTS that is
        neither an option nor an option's value, whichever comes first (an unknown option stays
        before it, for click to refuse; a `--` later on is the command's)."""
        takes_value = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                for name in param.opts + param.secondary_opts:
                    takes_value[name] = not (param.is_flag or param.count)
        positional = 0
        i = 0
        while i < len(args):
            word = args[i]
            if word == "--":
                return i
            if word.startswith("-") and word != "-":
                name = word.partition("=")[0] if word.startswith("--") else word[:2]
                if takes_value.get(name) and "=" not in word and len(word) == len(name):
                    i += 1  # its value
            else:
                positional += 1
                if positional == 2:
                    return i
            i += 1
        return len(args)


class Completes(click.ParamType):
    """A text parameter with a completion kind, which bin/gen-docs writes into the static shell
    scripts: `path` (a local path or HOST:PATH: files complete), `command` (a command line, kept
    as given), or names that `wacket complete KIND` lists (set, profile, account, pin,
    snapshot); kinds joined by + offer both. `rest`: the kind of a variadic argument's later
    words when its first differs (sync PROFILE | SRC DEST). A parameter with no kind (and no
    click.Path or host-set name) completes nothing."""

    name = "text"

    def __init__(self, kind: str, rest: str | None = None):
        self.kind = kind
        self.rest = kind if rest is None else rest

    def convert(self, value, param, ctx):
        return value


__all__ = [
    "App",
    "CommandAfterHosts",
    "Completes",
    "WacketError",
    "pass_app",
    "connection_options",
    "forks_option",
]
