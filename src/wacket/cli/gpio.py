"""`wacket gpio`: read, drive and watch GPIO pins on Raspberry Pis and other small devices."""

from __future__ import annotations

import click

from wacket.cli.context import App, Completes, connection_options, forks_option, pass_app
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

    return [(h, pins.load(app.config, h.name)) for h in app.fleet.select(hostset)]


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
    from wacket.gpio import client

    pool = app.pool(accept_new, connect_timeout)
    targets = _hosts(app, hostset)
    resolved = {h.name: [hg.pin(p) for p in pins] for h, hg in targets}
    done, code, results = _each(
        pool, targets, lambda h, hg, s: client.get(s, hg, resolved[h.name]), forks
    )
    with Renderer(fmt, ["host", "pin", "line", "value"]) as out:
        report_hosts(out, results, _rows(done, lambda v: v), "no pins")
        for host, recs in done:
            for rec in recs:
                out.emit(
                    {
                        "host": host.name,
                        "pin": rec["pin"],
                        "line": rec["name"],
                        "value": rec["value"],
                    }
                )
    return code


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "?"


def _changes(app, pool, command, hostset, work, forks, fmt, describe) -> int:
    """set/toggle/pulse/release: run, print, and record in the journal who changed what."""
    from wacket import jobrun
    from wacket.gpio import records as r

    targets = _hosts(app, hostset)
    with jobrun.run(f"gpio {command}", [h.name for h, _ in targets]) as entry:
        entry.summary = describe
        done, code, results = _each(pool, targets, work, forks)
        parts = []
        with Renderer(fmt, ["host", "pin", "line", "value", "was"]) as out:
            report_hosts(out, results, _rows(done, lambda v: v["lines"]), "no lines")
            for host, res in done:
                for rec in res["lines"]:
                    out.emit(r.change_record(host, rec, command))
                    parts.append(r.change_words(host, rec, command))
        entry.summary = "; ".join(parts) or describe
        if parts:
            entry.summary += f" (by {_user()})"
        entry.finish(code, bool(done))
    return code


@gpio.command("set")
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
    from wacket.gpio import holder
    from wacket.gpio.pins import parse_value, split_assignment

    pool = app.pool(accept_new, connect_timeout)
    pairs = [split_assignment(a) for a in assignments]
    values = [(name, parse_value(v)) for name, v in pairs]

    def work(host, hg, session):
        return holder.set_values(session, hg, [(hg.pin(n), v) for n, v in values])

    return _changes(app, pool, "set", hostset, work, forks, fmt, " ".join(assignments))


@gpio.command()
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
    from wacket.gpio import holder

    pool = app.pool(accept_new, connect_timeout)

    def work(host, hg, session):
        return holder.toggle(session, hg, [hg.pin(p) for p in pins])

    return _changes(app, pool, "toggle", hostset, work, forks, fmt, " ".join(pins))


@gpio.command()
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
    from wacket.gpio import holder
    from wacket.gpio.pins import parse_ms, parse_value

    pool = app.pool(accept_new, connect_timeout)
    seconds, value = parse_ms(length), parse_value(level)

    def work(host, hg, session):
        return holder.pulse(session, hg, [hg.pin(p) for p in pins], seconds, value)

    return _changes(app, pool, "pulse", hostset, work, forks, fmt, f"{' '.join(pins)} {length}")


@gpio.command()
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
    from wacket.gpio import holder

    pool = app.pool(accept_new, connect_timeout)

    def work(host, hg, session):
        return holder.release(session, hg, [hg.pin(p) for p in pins] or None)

    return _changes(app, pool, "release", hostset, work, forks, fmt, " ".join(pins) or "all")


@gpio.command()
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
    from wacket.gpio import holder

    pool = app.pool(accept_new, connect_timeout)

    def work(host, hg, session):
        pairs = [(p, p.default) for p in hg.pins.values() if p.default is not None]
        if not pairs:
            return {"lines": []}
        return holder.set_values(session, hg, pairs)

    return _changes(app, pool, "init", hostset, work, forks, fmt, "defaults")


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
    from wacket.gpio import client
    from wacket.gpio.pins import parse_ms, parse_value, split_assignment

    pool = app.pool(accept_new, connect_timeout)
    h = app.fleet.get(host)
    hg = _hosts(app, h.name)[0][1]
    pairs = [split_assignment(a) for a in assignments]
    session = pool.session(h)
    done = client.drive(
        session, hg, [(hg.pin(n), parse_value(v, "level")) for n, v in pairs], parse_ms(gap)
    )
    with Renderer(fmt, ["host", "pin", "line", "level"]) as out:
        for rec in done:
            out.emit(
                {"host": h.name, "pin": rec["pin"], "line": rec["name"], "level": rec["value"]}
            )
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

    fmt = fmt or "jsonl"
    seen = 0
    code = Exit.OK
    columns = ["host", "pin", "edge", "value", "timestamp"]
    with Renderer(fmt, columns) as out:
        for kind, rec in watching.watch(targets, make_pool, edge, seconds):
            if kind == "event":
                out.emit(rec)
                if rec["edge"] != "gap":
                    seen += 1
                    if count and seen >= count:
                        break
            elif kind == "ready":
                names = ", ".join(f"{p['pin']}={p['value']}" for p in rec["pins"])
                app.note(f"wacket: watching {rec['host']}: {names}")
            elif kind == "note":
                app.note(f"wacket: {rec['message']}")
            elif kind == "fatal":
                err = rec["error"]
                if len(targets) == 1:
                    raise err
                click.echo(f"wacket: error: {err}", err=True)
                code = max(code, int(err.code))
    return code
