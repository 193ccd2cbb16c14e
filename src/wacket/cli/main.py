"""The `wacket` command: global options, subcommands, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys

import click

from wacket import __version__
from wacket.cli.context import App
from wacket.errors import Exit, WacketError

EPILOG = """\b
Exit status: 0 ok, 1 partial failure, 2 usage or config error,
3 host unreachable or authentication failed, 4 lock held by another run.
Config: $WACKET_CONFIG, else ~/.config/wacket/config.toml.
Data: $WACKET_DATA, else ~/.local/share/wacket."""


class LazyGroup(click.Group):
    """Subcommands whose module is imported only when that command runs (or help lists it)."""

    COMMANDS = {
        "backup": "backup:backup", "clip": "clip:clip", "find": "find:find", "gpio": "gpio:gpio",
        "hosts": "hosts:hosts", "links": "links:links", "log": "log:log", "mail": "mail:mail",
        "map": "map:map_", "msg": "msg:msg", "run": "run:run", "sync": "sync:sync",
    }  # fmt: skip

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = self.COMMANDS.get(name)
        if spec is None:
            return None
        import importlib

        module, attr = spec.split(":")
        return getattr(importlib.import_module(f"wacket.cli.{module}"), attr)


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="wacket")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="WACKET_CONFIG",
    help="Config file (default: $WACKET_CONFIG or the XDG config dir).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but results and errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, quiet: bool, debug: bool) -> None:
    """Make a handful of machines work as one.

    The local machine is always in the fleet as `local`; other hosts come
    from the config file and from ~/.ssh/config aliases.

    \b
    Examples:
      wacket hosts status
      wacket run all -- uptime
      wacket log --since 1d
    """
    if debug:
        os.environ["WACKET_DEBUG"] = "1"
    app = App(config_path and os.path.expanduser(config_path), quiet, debug)
    ctx.obj = app
    ctx.call_on_close(app.close)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rv = cli.main(args=argv, prog_name="wacket", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.UsageError as exc:
        exc.show()
        code = Exit.USAGE
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("wacket: interrupted", err=True)
        code = Exit.INTERRUPTED
    except WacketError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"wacket: error: {exc}", err=True)
        code = exc.code
    except BrokenPipeError:
        # The reader went away (`| head`): not an error; keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = Exit.OK
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(
            f"wacket: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            err=True,
        )
        code = Exit.PARTIAL
    else:
        code = rv if isinstance(rv, int) else Exit.OK
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(int(code))
