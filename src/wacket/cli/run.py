"""`wacket run`: a command on many hosts at once."""

from __future__ import annotations

import sys

import click

from wacket.cli.context import (
    CommandAfterHosts,
    Completes,
    connection_options,
    forks_option,
    pass_app,
)
from wacket.output import dumps


@click.command(cls=CommandAfterHosts)
@click.argument("hostset")
@click.argument("command", nargs=-1, required=True, type=Completes("command"))
@click.option("--timeout", "-t", type=float, metavar="SECONDS", help="Stop a command after this.")
@click.option("--gather", "-b", is_flag=True, help="Merge hosts with identical output (clush -b).")
@click.option("--jsonl", "fmt", flag_value="jsonl", help="One {host, rc, stdout, stderr, seconds}.")
@click.option("--json", "fmt", flag_value="json", help="One JSON array of those records.")
@connection_options
@forks_option
@pass_app
def run(app, hostset, command, timeout, gather, fmt, accept_new, connect_timeout, forks) -> int:
    """Run COMMAND on every host of HOSTSET in parallel.

    One argument is a shell command line, as with ssh; several arguments are
    quoted one by one, so file names with spaces or quotes arrive intact.
    Output lines are prefixed with the host name. A summary goes to stderr.
    Exit status: 0 all succeeded, 1 a command failed, 3 a host was unreachable,
    130/143 interrupted (Ctrl-C, SIGTERM: the command is ended on every host).

    \b
    Examples:
      wacket run all -- uptime
      wacket run @pi -- 'df -h / | tail -1'
      wacket run nas,pi[1-3] --gather -- cat /etc/debian_version
      wacket run all --jsonl -- ls -- "-odd name.txt"
    """
    from wacket import jobrun, runner

    targets = app.fleet.select(hostset)
    argv: list[str] | str = command[0] if len(command) == 1 else list(command)
    pool = app.pool(accept_new, connect_timeout)
    width = max(len(h.name) for h in targets)
    out, err = sys.stdout.buffer, sys.stderr.buffer

    def on_line(host: str, stream: str, line: bytes) -> None:
        target = out if stream == "stdout" else err
        target.write(f"{host:<{width}}: ".encode() + line)
        target.flush()

    def on_result(res) -> None:
        if not res.ok:
            err.write(
                f"{res.host:<{width}}: wacket: {res.why}\n".encode("utf-8", "surrogateescape")
            )
            err.flush()
        if fmt == "jsonl":
            out.write(dumps(runner.record(res)).encode() + b"\n")
            out.flush()

    live = on_line if not gather and not fmt else None
    with jobrun.run("run", [h.name for h in targets]) as entry:
        results = runner.run(
            pool, targets, argv, forks=forks, timeout=timeout, on_line=live, on_result=on_result
        )
        _write_results(out, results, fmt, gather)
        summary, code, any_ok = runner.outcome(results)
        text = argv if isinstance(argv, str) else " ".join(argv)
        entry.summary = f"{summary} :: {text[:200]}"
        entry.finish(code, any_ok)
    app.note(f"wacket run: {summary}")
    return code


def _write_results(out, results, fmt, gather) -> None:
    """After the run: --json's array, or --gather's hosts grouped by identical output."""
    from wacket import runner

    if fmt == "json":
        out.write(("[" + ",\n".join(dumps(runner.record(r)) for r in results) + "]\n").encode())
    elif gather:
        for names, text in runner.gather(results):
            bar = "-" * 15
            out.write(f"{bar}\n{','.join(names)} ({len(names)})\n{bar}\n".encode() + text)
