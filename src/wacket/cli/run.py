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
    from wacket.transport.result import HostResults, Policy

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
            out.write(dumps(record(res)).encode() + b"\n")
            out.flush()

    live = on_line if not gather and not fmt else None
    with jobrun.run("run", [h.name for h in targets]) as entry:
        results = runner.run(
            pool, targets, argv, forks=forks, timeout=timeout, on_line=live, on_result=on_result
        )
        if fmt == "json":
            out.write(("[" + ",\n".join(dumps(record(r)) for r in results) + "]\n").encode())
        elif gather:
            for names, text in runner.gather(results):
                bar = "-" * 15
                out.write(f"{bar}\n{','.join(names)} ({len(names)})\n{bar}\n".encode() + text)
        results = HostResults(results)
        ok = [r.host for r in results.succeeded if r.value.ok]
        failed = [r for r in results.succeeded if not r.value.ok]
        summary = f"ok: {','.join(ok) or '-'}"
        if failed:
            summary += "; failed: " + ",".join(
                f"{r.host}({'timeout' if r.value.timed_out else r.value.rc})" for r in failed
            )
        if results.failed:
            summary += "; unreachable: " + results.reasons()
        text = argv if isinstance(argv, str) else " ".join(argv)
        entry.summary = f"{summary} :: {text[:200]}"
        code = results.exit_code(Policy.NO_RESULT, partial=bool(failed))
        entry.finish(code, bool(ok))
    app.note(f"wacket run: {summary}")
    return code


def record(res) -> dict:
    """A host's run; one that could not be reached has its state and error instead."""
    if not res.ok:
        return res.record()
    v = res.value
    return {
        "host": res.host,
        "rc": v.rc,
        "stdout": v.stdout,
        "stderr": v.stderr,
        "seconds": round(v.seconds, 3),
        "timed_out": v.timed_out,
    }
