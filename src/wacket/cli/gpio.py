"""`wacket gpio`: read, drive and watch GPIO pins on Raspberry Pis and other small devices."""

from __future__ import annotations

import click

from wacket.cli.context import App, Completes, connection_options, forks_option, pass_app
from wacket.cli.gpio_changes import init, pulse, release, set_, toggle
from wacket.errors import Exit
from wacket.gpio.records import each as _each
from wacket.gpio.records import rows as _rows
from wacket.output import Renderer, output_options, report_hosts

EXITS = """\b
Exit status: 0 ok; 1 failed on a host (e.g. it has no GPIO at all);
2 unknown line or pin name, bad value, setting a pin configured as input;
3 host unreachable; 4 line in use by another consumer."""


@click.group(epilog=EXITS)
def gpio() -> None:
    """GPIO pins across the fleet: info, get, set, toggle, pulse, watch.

    Pins are line names (GPIO17), chip:offset (gpiochip0:17) or names from
    the host's [gpio.HOST] table in the config. Outputs stay set after the
    command returns: a small holder process on the device keeps the lines
    requested until `wacket gpio release`. Every change is in `wacket log`.

    \b
    Config:
      [gpio.kitchen-pi]
      heater = { line = "GPIO17", direction = "out", default = 0 }
      door   = { line = "GPIO27", direction = "in", bias = "pull-up" }
    """


def _hosts(app: App, hostset: str):
    from wacket.gpio import pins

    return pins.targets(app.config, app.fleet, hostset)


@gpio.command()
@click.argument("hostset")
@click.option("--used", is_flag=True, help="Only lines in use by some consumer.")
@click.option("--chips", is_flag=True, help="Only the chips (like gpiodetect).")
@connection_options
@forks_option
@output_options
@pass_app
def info(app, hostset, used, chips, accept_new, connect_timeout, forks, fmt) -> int:
    """List the chips and lines of HOSTSET, like gpioinfo, and the backend in use.

    \b
    Examples:
      wacket gpio info kitchen-pi
      wacket gpio info @pi --used --plain
      wacket gpio info all --chips
    """
    from wacket.gpio import client
    from wacket.gpio import records as r

    pool = app.pool(accept_new, connect_timeout)
    done, code, results = _each(
        pool, _hosts(app, hostset), lambda h, hg, s: client.info(s, hg), forks
    )
    if chips:
        with Renderer(fmt, ["host", "backend", "chip", "label", "lines"]) as out:
            for host, res in done:
                for chip in res["chips"]:
                    out.emit(r.chip_record(host, res, chip))
            report_hosts(out, results, _rows(done, lambda v: v["chips"]), "no GPIO chips")
        return code
    columns = ["host", "backend", "chip", "offset", "name", "direction", "value", "active_low",
               "bias", "consumer"]  # fmt: skip
    with Renderer(fmt, columns) as out:
        for host, res in done:
            if not fmt or fmt == "table":
                app.note(r.backend_note(host, res))
            for line in res["lines"]:
                if used and not line.get("used"):
                    continue
                out.emit(r.line_record(host, res, line, fmt in ("json", "jsonl")))
        shown = _rows(done, lambda v: [x for x in v["lines"] if x.get("used") or not used])
        report_hosts(out, results, shown, "no lines in use" if used else "no GPIO lines")
    return code


@gpio.command()
@click.argument("hostset")
@click.argument("pins", nargs=-1, required=True, type=Completes("pin"))
@connection_options
@forks_option
@output_options
@pass_app
def get(app, hostset, pins, accept_new, connect_timeout, forks, fmt) -> int:
    """Read PINS on HOSTSET (logical values: 1 = active, honouring active_low).

    \b
    Examples:
      wacket gpio get kitchen-pi door
      wacket gpio get kitchen-pi GPIO17 gpiochip0:27 --plain | cut -f4
    """
    from wacket.gpio.reading import read_pins

    pool = app.pool(accept_new, connect_timeout)
    done, code, results = read_pins(pool, _hosts(app, hostset), pins, forks)
    with Renderer(fmt, ["host", "pin", "line", "value"]) as out:
        report_hosts(out, results, _rows(done, lambda v: v), "no pins")
        for _, recs in done:
            for rec in recs:
                out.emit(rec)
    return code


@gpio.command()
@click.argument("host")
@click.argument("assignments", nargs=-1, required=True, metavar="LINE=LEVEL...")
@click.option(
    "--gap",
    default="0",
    show_default=True,
    metavar="DURATION",
    help="Time between successive assignments (e.g. 2ms for a bouncing switch).",
)
@connection_options
@output_options
@pass_app
def drive(app, host, assignments, gap, accept_new, connect_timeout, fmt) -> int:
    """Simulated chip only: set the level on the wire of input lines, in order.

    What a switch, a button or a sensor would do to the pin: watchers see the
    edges. LEVEL is the physical level (1/high/on or 0/low/off).

    \b
    Examples:
      wacket gpio drive kitchen-pi door=0
      wacket gpio drive kitchen-pi GPIO27=1 GPIO27=0 GPIO27=1 --gap 2ms
    """
    from wacket.gpio import reading

    pool = app.pool(accept_new, connect_timeout)
    h = app.fleet.get(host)
    hg = _hosts(app, h.name)[0][1]
    records = reading.drive(pool.session(h), hg, list(assignments), gap)
    with Renderer(fmt, ["host", "pin", "line", "level"]) as out:
        for rec in records:
            out.emit(rec)
    return Exit.OK


@gpio.command()
@click.argument("hostset")
@click.argument("pins", nargs=-1, required=True, type=Completes("pin"))
@click.option(
    "--edge",
    type=click.Choice(["rising", "falling", "both"]),
    default="both",
    show_default=True,
    help="Which edges to report.",
)
@click.option(
    "--debounce",
    default="0",
    show_default=True,
    metavar="DURATION",
    help="Report a level only once it held this long (10ms).",
)
@click.option("--count", "-n", type=click.IntRange(1), help="Stop after this many edges.")
@click.option("--jsonl", "fmt", flag_value="jsonl", help="One JSON object per line (default).")
@click.option("--plain", "fmt", flag_value="plain", help="Tab-separated fields.")
@connection_options
@pass_app
def watch(app, hostset, pins, edge, debounce, count, fmt, accept_new, connect_timeout) -> int:
    """Stream edges on PINS of every host in HOSTSET until interrupted or --count.

    Each event: {host, pin, edge, value, timestamp} (value after the edge,
    timestamp in epoch seconds). A dropped connection or a rebooted device
    is retried with backoff; the time nothing could be seen is reported as
    an event with edge "gap" (and `since`).

    \b
    Examples:
      wacket gpio watch kitchen-pi door --edge falling --debounce 20ms
      wacket gpio watch pi1,pi2 button --count 1
      wacket gpio watch kitchen-pi door --jsonl | while read -r e; do
          echo "$e" | grep -q '"value": 0' && notify-send "door opened"; done
    """
    from wacket.gpio import watch as watching
    from wacket.gpio.pins import parse_ms
    from wacket.transport.pool import Pool

    seconds = parse_ms(debounce)
    targets = [watching.Target(h, hg, [hg.pin(p) for p in pins]) for h, hg in _hosts(app, hostset)]

    def make_pool():
        return Pool(accept_new=accept_new, connect_timeout=connect_timeout)

    def warn(text: str) -> None:
        click.echo(text, err=True)

    with Renderer(fmt or "jsonl", ["host", "pin", "edge", "value", "timestamp"]) as out:
        return watching.follow(
            targets, make_pool, edge, seconds, count, emit=out.emit, note=app.note, warn=warn
        )


for _command in (set_, toggle, pulse, release, init):
    gpio.add_command(_command)
