"""`wacket msg`: short messages on the fleet's feed (kept on the clipboard hub), with notifications."""

from __future__ import annotations

import sys

import click

from wacket.cli.context import connection_options, hub_option, pass_app
from wacket.clip.context import Ctx, hub_call
from wacket.errors import Exit, WacketError
from wacket.output import Renderer, output_options
from wacket.transport.result import HostResults, Policy

COLUMNS = ["time", "from", "text"]


@click.group()
def msg() -> None:
    """Short messages across the fleet: status changes, links, a line of text.

    Messages go to a feed on the clipboard hub ([clip] hub); `msg send` also shows them as a
    desktop notification on the target machines that have a desktop (notify-send, osascript).

    \b
    Examples:
      wacket msg send all "backup home: ok, 132 MB"
      wacket msg tail -f
      wacket msg list --jsonl

    \b
    Exit status: 0 ok, 1 empty message or a target failed, 2 usage, 3 hub unreachable.
    """


@msg.command()
@click.argument("hosts")
@click.argument("text", required=False)
@click.option("--no-notify", is_flag=True, help="Only post to the feed; no notifications.")
@hub_option
@connection_options
@output_options
@pass_app
def send(app, hosts, text, no_notify, hub, accept_new, connect_timeout, fmt) -> int:
    """Post TEXT (or stdin) to the feed, addressed to HOSTS, and notify them.

    \b
    Examples:
      wacket msg send all "backup home: ok, 132 MB"
      df -h / | wacket msg send nas
    """
    from wacket import jobrun
    from wacket.clip.msg import Feed, notify
    from wacket.transport.fanout import fan_out_ordered

    c = Ctx(app, accept_new, connect_timeout)
    targets = app.fleet.select(hosts)
    if text is None:
        if sys.stdin is not None and sys.stdin.isatty():
            raise click.UsageError("no message: give TEXT or pipe it in")
        raw = sys.stdin.buffer.read() if sys.stdin is not None else b""
        text = raw.decode("utf-8", "surrogateescape")
    text = text.rstrip("\n")
    if not text.strip():
        raise WacketError("empty message: nothing sent")
    feed = Feed(c.place(hub or c.settings.hub), c.settings)
    code = Exit.OK
    touched = list(dict.fromkeys([feed.place.name, *[h.name for h in targets]]))
    with jobrun.run("msg send", touched) as j:
        posted = hub_call(feed.post, text, [h.name for h in targets])
        rows = []
        if not no_notify:
            title = f"wacket: {c.settings.name}"
            results = HostResults(
                fan_out_ordered(targets, lambda h: notify(c.place(h.name), c.settings, title, text))
            )
            code = results.exit_code(Policy.WORST)
            for res in results:
                if res.ok:
                    rows.append(
                        {
                            "host": res.host,
                            "notified": res.value["shown"],
                            "why": res.value.get("why") or "",
                        }
                    )
                else:
                    rows.append({"host": res.host, "notified": False, "why": str(res.error)})
        j.summary = f"message #{posted['id']} to {hosts} ({len(text)} chars)"
        j.finish(code)
    if fmt or not app.quiet:
        with Renderer(fmt, ["host", "notified", "why"]) as out:
            for row in rows:
                out.emit(dict(row, id=posted["id"]) if fmt in ("json", "jsonl") else row)
    return code


@msg.command(name="list")
@click.option("--last", type=int, metavar="N", help="Only the last N messages.")
@hub_option
@connection_options
@output_options
@pass_app
def list_(app, last, hub, accept_new, connect_timeout, fmt) -> int:
    """Show the feed, oldest first.

    \b
    Example:
      wacket msg list --last 20
    """
    from wacket.clip.msg import Feed, record

    c = Ctx(app, accept_new, connect_timeout)
    feed = Feed(c.place(hub or c.settings.hub), c.settings)
    messages = hub_call(feed.read, 0, 0, last)
    with Renderer(fmt, None if fmt in ("json", "jsonl") else COLUMNS) as out:
        for m in messages:
            out.emit(record(m, feed.place.name))
    return Exit.OK


@msg.command()
@click.option("-f", "--follow", is_flag=True, help="Keep printing new messages as they arrive.")
@click.option(
    "-n",
    "--lines",
    "count",
    type=int,
    default=10,
    show_default=True,
    help="How many of the last messages to show first.",
)
@hub_option
@connection_options
@output_options
@pass_app
def tail(app, follow, count, hub, accept_new, connect_timeout, fmt) -> int:
    """Show the last messages; with -f, follow new ones (one line each; Ctrl-C ends it).

    \b
    Examples:
      wacket msg tail -f
      wacket msg tail -f --jsonl | while read -r m; do ...; done
    """
    from wacket.clip.msg import Feed, record

    c = Ctx(app, accept_new, connect_timeout)
    feed = Feed(c.place(hub or c.settings.hub), c.settings)
    if follow and fmt in (None, "table"):
        fmt = "plain"  # a table would wait for the end
    start = hub_call(feed.read, 0, 0, None)
    after = start[-1]["id"] if start else 0
    with Renderer(fmt, None if fmt in ("json", "jsonl") else COLUMNS) as out:
        for m in start[-count:] if count > 0 else []:
            out.emit(record(m, feed.place.name))
        if follow:  # until interrupted: exits 130 (SIGINT) or 143 (SIGTERM, SIGHUP)
            hub_call(lambda: sum(1 for _ in _follow(feed, after, out)))
    return Exit.OK


def _follow(feed, after, out):
    from wacket.clip.msg import record

    for m in feed.follow(after):
        out.emit(record(m, feed.place.name))
        yield m
