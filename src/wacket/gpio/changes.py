"""The gpio commands that change lines (set, toggle, pulse, release, init): what each does on a
host, and one run of it under a journal entry that says who changed what."""

from __future__ import annotations

from wacket.errors import Exit

COLUMNS = ["host", "pin", "line", "value", "was"]


def set_work(assignments: list[str]):
    """PIN=VALUE... as the work of `gpio set` on a host."""
    from wacket.gpio import holder
    from wacket.gpio.pins import parse_value, split_assignment

    pairs = [split_assignment(a) for a in assignments]
    values = [(name, parse_value(v)) for name, v in pairs]

    def work(host, hg, session):
        return holder.set_values(session, hg, [(hg.pin(n), v) for n, v in values])

    return work


def toggle_work(pins: list[str]):
    """`gpio toggle PINS` on a host."""
    from wacket.gpio import holder

    def work(host, hg, session):
        return holder.toggle(session, hg, [hg.pin(p) for p in pins])

    return work


def pulse_work(pins: list[str], length: str, level: str):
    """`gpio pulse PINS` for `length` (500, 2s) at `level` on a host."""
    from wacket.gpio import holder
    from wacket.gpio.pins import parse_ms, parse_value

    seconds, value = parse_ms(length), parse_value(level)

    def work(host, hg, session):
        return holder.pulse(session, hg, [hg.pin(p) for p in pins], seconds, value)

    return work


def release_work(pins: list[str]):
    """`gpio release PINS` (every held line without PINS) on a host."""
    from wacket.gpio import holder

    def work(host, hg, session):
        return holder.release(session, hg, [hg.pin(p) for p in pins] or None)

    return work


def init_work(host, hg, session):
    """`gpio init` on a host: every configured output with a default set to it."""
    from wacket.gpio import holder

    pairs = [(p, p.default) for p in hg.pins.values() if p.default is not None]
    if not pairs:
        return {"lines": []}
    return holder.set_values(session, hg, pairs)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "?"


def run_changes(pool, command: str, targets, work, forks: int, describe: str, output) -> Exit:
    """Run `work` on each of `targets` (host, HostGpio) under the journal entry "gpio COMMAND";
    each changed line's record goes to the `emit` of `output()`, the caller's renderer, and the
    entry's summary says each change and who made it (`describe` until there is one)."""
    from wacket import jobrun
    from wacket.gpio import records as r
    from wacket.output import report_hosts

    with jobrun.run(f"gpio {command}", [h.name for h, _ in targets]) as entry:
        entry.summary = describe
        done, code, results = r.each(pool, targets, work, forks)
        parts = []
        with output() as out:
            report_hosts(out, results, r.rows(done, lambda v: v["lines"]), "no lines")
            for host, res in done:
                for rec in res["lines"]:
                    out.emit(r.change_record(host, rec, command))
                    parts.append(r.change_words(host, rec, command))
        entry.summary = "; ".join(parts) or describe
        if parts:
            entry.summary += f" (by {_user()})"
        entry.finish(code, bool(done))
    return code
