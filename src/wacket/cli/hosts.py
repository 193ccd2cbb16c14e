"""`wacket hosts`: list the fleet, check each machine, see what each one serves."""

from __future__ import annotations

import click

from wacket.cli.context import App, connection_options, forks_option, pass_app
from wacket.errors import Exit
from wacket.output import Renderer, output_options, report_hosts


@click.group()
def hosts() -> None:
    """The machines of the fleet: list, status, services."""


@hosts.command("list")
@output_options
@pass_app
def list_(app: App, fmt: str | None) -> None:
    """List the fleet: name, address, user, port, tags and source.

    \b
    Example:
      wacket hosts list --plain | cut -f1
    """
    with Renderer(fmt, ["name", "address", "user", "port", "tags", "source"]) as out:
        for host in app.fleet.hosts.values():
            out.emit(host.record())


@hosts.command()
@click.argument("hostset", required=False, default="all")
@click.option("--check", is_flag=True, help="Exit 1 if any host is down (for cron and scripts).")
@connection_options
@forks_option
@output_options
@pass_app
def status(app, hostset, check, accept_new, connect_timeout, forks, fmt) -> int:
    """Check HOSTSET in parallel: reachable (or why not), OS, load, memory, disk, tools.

    Offline hosts are reported, not fatal.

    \b
    Examples:
      wacket hosts status
      wacket hosts status @pi --check || echo "a Pi is down"
    """
    from wacket import hosts as lib

    targets = app.fleet.select(hostset)
    pool = app.pool(accept_new, connect_timeout)
    records = lib.status(pool, targets, forks)
    columns = lib.STATUS_COLUMNS
    with Renderer(fmt, None if fmt in ("json", "jsonl") else columns) as out:
        for rec in records:
            if rec["state"] == "down" and (fmt or "") not in ("json", "jsonl"):
                rec = dict(rec, os=rec["reason"], kernel=rec["error"])
            out.emit(rec)
    down = [r["host"] for r in records if r["state"] == "down"]
    if down:
        app.note(f"down: {', '.join(down)}")
    return Exit.PARTIAL if check and down else Exit.OK


@hosts.command()
@click.argument("hostset", required=False, default="all")
@click.option("--systemd/--no-systemd", default=True, help="Also list running systemd services.")
@connection_options
@forks_option
@output_options
@pass_app
def services(app, hostset, systemd, accept_new, connect_timeout, forks, fmt) -> int:
    """What each machine of HOSTSET offers: listening TCP/UDP ports with their process, and
    running systemd services.

    \b
    Example:
      wacket hosts services nas --plain | grep 3306
    """
    from wacket import hosts as lib
    from wacket.transport.result import HostResults, Policy

    targets = app.fleet.select(hostset)
    pool = app.pool(accept_new, connect_timeout)
    results = HostResults(lib.services(pool, targets, forks))
    shown = {}
    columns = ["host", "kind", "proto", "address", "port", "process", "pid", "unit"]
    with Renderer(fmt, columns) as out:
        for res in results:
            if not res.ok:
                continue
            start = out.count
            for s in res.value["listening"]:
                out.emit({"host": res.host, "kind": "listen", "unit": "", **s})
            for unit in (res.value["systemd"] or []) if systemd else []:
                out.emit(
                    {
                        "host": res.host,
                        "kind": "systemd",
                        "proto": "",
                        "address": "",
                        "port": None,
                        "process": unit["description"],
                        "pid": None,
                        "unit": unit["unit"],
                    }
                )
            shown[res.host] = out.count - start
        report_hosts(
            out, results, shown, "no listening ports" + (" or services" if systemd else "")
        )
    return results.exit_code(Policy.WORST)
