"""The `wacket gpio` commands that change lines: set, toggle, pulse, release, init."""

from __future__ import annotations

import click

from wacket.cli.context import Completes, connection_options, forks_option, pass_app
from wacket.output import Renderer, output_options


def _changes(app, command, hostset, work, forks, fmt, describe, connection) -> int:
    """set/toggle/pulse/release/init: run `work` on HOSTSET, print and journal the changes."""
    from wacket.gpio import changes, pins

    pool = app.pool(*connection)
    targets = pins.targets(app.config, app.fleet, hostset)
    return changes.run_changes(pool, command, targets, work, forks, describe,
                               lambda: Renderer(fmt, changes.COLUMNS))  # fmt: skip


@click.command("set")
@click.argument("hostset")
@click.argument("assignments", nargs=-1, required=True, metavar="PIN=VALUE...")
@connection_options
@forks_option
@output_options
@pass_app
def set_(app, hostset, assignments, accept_new, connect_timeout, forks, fmt) -> int:
    """Set output PINs to VALUE (on/off, 1/0, high/low, active/inactive).

    The value stays after the command returns (the host's holder keeps the
    line). A pin configured as input is refused, so is a line used by another
    consumer (the error names it).

    \b
    Examples:
      wacket gpio set kitchen-pi heater=on
      wacket gpio set kitchen-pi GPIO17=1 GPIO22=0
      wacket gpio set @lights lamp=off
    """
    from wacket.gpio import changes

    work = changes.set_work(assignments)
    return _changes(app, "set", hostset, work, forks, fmt, " ".join(assignments),
                    (accept_new, connect_timeout))  # fmt: skip


@click.command()
@click.argument("hostset")
@click.argument("pins", nargs=-1, required=True, type=Completes("pin"))
@connection_options
@forks_option
@output_options
@pass_app
def toggle(app, hostset, pins, accept_new, connect_timeout, forks, fmt) -> int:
    """Flip output PINS (on becomes off and off on); they stay that way.

    \b
    Example:
      wacket gpio toggle kitchen-pi lamp
    """
    from wacket.gpio import changes

    work = changes.toggle_work(pins)
    return _changes(app, "toggle", hostset, work, forks, fmt, " ".join(pins),
                    (accept_new, connect_timeout))  # fmt: skip


@click.command()
@click.argument("hostset")
@click.argument("pins", nargs=-1, required=True, type=Completes("pin"))
@click.option(
    "--ms",
    "length",
    default="500",
    show_default=True,
    metavar="DURATION",
    help="How long (500, 500ms, 2s).",
)
@click.option("--value", "level", default="on", show_default=True, help="The pulse's value.")
@connection_options
@forks_option
@output_options
@pass_app
def pulse(app, hostset, pins, length, level, accept_new, connect_timeout, forks, fmt) -> int:
    """Set PINS to on (or --value) for --ms, then back to what they were.

    Returns once the pulse is over; the timing is kept on the device.

    \b
    Examples:
      wacket gpio pulse garage-pi opener --ms 500
      wacket gpio pulse kitchen-pi buzzer --ms 2s
    """
    from wacket.gpio import changes

    work = changes.pulse_work(pins, length, level)
    return _changes(app, "pulse", hostset, work, forks, fmt, f"{' '.join(pins)} {length}",
                    (accept_new, connect_timeout))  # fmt: skip


@click.command()
@click.argument("hostset")
@click.argument("pins", nargs=-1, type=Completes("pin"))
@connection_options
@forks_option
@output_options
@pass_app
def release(app, hostset, pins, accept_new, connect_timeout, forks, fmt) -> int:
    """Hand PINS (all held lines without PINS) back; stops the holder once it holds none.

    What a released line does is up to the kernel and the driver (many keep
    the last value, the simulated chip goes back to an input).

    \b
    Examples:
      wacket gpio release kitchen-pi
      wacket gpio release kitchen-pi heater
    """
    from wacket.gpio import changes

    work = changes.release_work(pins)
    return _changes(app, "release", hostset, work, forks, fmt, " ".join(pins) or "all",
                    (accept_new, connect_timeout))  # fmt: skip


@click.command()
@click.argument("hostset")
@connection_options
@forks_option
@output_options
@pass_app
def init(app, hostset, accept_new, connect_timeout, forks, fmt) -> int:
    """Set every configured output with a `default` to that value (e.g. @reboot in cron).

    \b
    Example:
      @reboot  wacket gpio init kitchen-pi
    """
    from wacket.gpio import changes

    return _changes(app, "init", hostset, changes.init_work, forks, fmt, "defaults",
                    (accept_new, connect_timeout))  # fmt: skip
