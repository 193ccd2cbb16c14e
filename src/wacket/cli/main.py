"""The `wacket` command: global options, subcommands, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys

import click

from wacket import __version__
from wacket.cli.context import App
from wacket.cli.guard import guarded
from wacket.errors import Exit

EPILOG = """\b
Exit status: 0 ok, 1 partial failure, 2 usage or config error,
3 host unreachable or authentication failed, 4 lock held by another run,
130 interrupted (SIGINT), 143 ended by SIGTERM or SIGHUP.
Config: $WACKET_CONFIG, else ~/.config/wacket/config.toml.
Data: $WACKET_DATA, else ~/.local/share/wacket."""


class LazyGroup(click.Group):
    """Subcommands whose module is imported only when that command runs.

    Their one-line help is kept here too, so `wacket --help` imports none of them; a test checks
    that it matches each command's own help.
    """

    COMMANDS = {
        "backup": ("backup:backup", "Snapshot backups to another machine or a USB drive: zero loss, proven by verify."),
        "clip": ("clip:clip", "Cut and paste between machines: a clipboard ring on the hub, system clipboards anywhere."),
        "find": ("find:find", "Find files on every machine from catalogs kept on this one."),
        "gpio": ("gpio:gpio", "GPIO pins across the fleet: info, get, set, toggle, pulse, watch."),
        "hosts": ("hosts:hosts", "The machines of the fleet: list, status, services."),
        "links": ("links:links", "Merge bookmarks and history of every browser on every machine into one database."),
        "log": ("log:log", "Show the journal: every wacket command that changed anything, when, where, outcome."),
        "mail": ("mail:mail", "A local, incremental, verified and searchable archive of your IMAP mail."),
        "map": ("map:map_", "Run COMMAND once per item, spread over the hosts of HOSTSET."),
        "msg": ("msg:msg", "Short messages across the fleet: status changes, links, a line of text."),
        "run": ("run:run", "Run COMMAND on every host of HOSTSET in parallel."),
        "sync": ("sync:sync", "Mirror SRC to DEST (one-way, rsync), or keep two replicas the same (--two-way)."),
    }  # fmt: skip

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = self.COMMANDS.get(name)
        if entry is None:
            return None
        import importlib

        module, attr = entry[0].split(":")
        return getattr(importlib.import_module(f"wacket.cli.{module}"), attr)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """click suggests the nearest name from the commands it holds, and this group holds
        none until one is asked for: suggest from the table instead."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.COMMANDS, ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        width = formatter.width - 6 - max(len(name) for name in self.COMMANDS)
        rows = []
        for name in self.list_commands(ctx):
            text = self.COMMANDS[name][1]
            rows.append((name, text if len(text) <= width else text[: width - 3] + "..."))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


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
    named = ctx.get_parameter_source("config_path") is click.core.ParameterSource.COMMANDLINE
    if named and not os.path.exists(os.path.expanduser(config_path)):
        # a config file asked for by name and not there is a mistake, not an empty fleet (a
        # missing default file is fine: no config means this machine only)
        from wacket.errors import ConfigError

        raise ConfigError(f"{config_path}: no such config file")
    app = App(config_path and os.path.expanduser(config_path), quiet, debug)
    ctx.obj = app
    ctx.call_on_close(app.close)


def main(argv: list[str] | None = None) -> None:
    """The whole command line through click (wacket.cli.entry.main answers plain queries first)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])

    def invoke() -> int:
        try:
            rv = cli.main(args=argv, prog_name="wacket", standalone_mode=False)
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.UsageError as exc:
            exc.show()
            return Exit.USAGE
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
        except click.Abort as exc:  # click's name for Ctrl-C: keep the signal that came
            cause = exc.__cause__
            raise (cause if isinstance(cause, KeyboardInterrupt) else KeyboardInterrupt()) from None
        return rv if isinstance(rv, int) else Exit.OK

    sys.exit(guarded(invoke, debug))
