"""What the gpio commands show: a fan-out over the hosts, and the records and journal words of
their chips, lines and changes."""

from __future__ import annotations

from wacket.errors import Exit


def each(pool, targets, work, forks: int) -> tuple[list, int, list]:
    """Run work(host, hg, session) per host: (what each host gave, the worst exit code, every
    host's HostResult, which the caller reports with its rows: `report_hosts`).

    With one host its error is raised as is (one line, its own exit code)."""
    from wacket.transport.result import HostResult, HostResults, Policy

    if len(targets) == 1:
        host, hg = targets[0]
        value = work(host, hg, pool.session(host))
        return [(host, value)], Exit.OK, [HostResult(host.name, value)]
    from wacket.transport.fanout import fan_out_ordered

    by_name = {h.name: (h, hg) for h, hg in targets}
    results = HostResults(
        fan_out_ordered(
            [h for h, _ in targets], lambda h: work(h, by_name[h.name][1], pool.session(h)), forks
        )
    )
    done = [(by_name[r.host][0], r.value) for r in results.succeeded]
    return done, results.exit_code(Policy.OWN_CODES), results


def rows(done, of) -> dict[str, int]:
    """How many rows (`of` a host's value) each host gave."""
    return {host.name: len(of(value)) for host, value in done}


def chip_record(host, res: dict, chip: dict) -> dict:
    return {
        "host": host.name,
        "backend": res["backend"],
        "chip": chip["chip"],
        "label": chip.get("label"),
        "lines": chip["lines"],
        **({"base": chip["base"]} if "base" in chip else {}),
    }


def backend_note(host, res: dict) -> str:
    """A host's backend and chips, the note above its lines in a table."""
    holder = res.get("holder") or {}
    chip_list = ", ".join(
        f"{c['chip']} [{c.get('label') or '?'}] ({c['lines']} lines)" for c in res["chips"]
    )
    return f"{host.name}: backend {res['backend']} ({res['detail']}); {chip_list}" + (
        f"; holder pid {holder['pid']}" if holder else ""
    )


def line_record(host, res: dict, line: dict, full: bool) -> dict:
    """A line as `gpio info` shows it; `full` (JSON) adds its edge and drive."""
    return {
        "host": host.name,
        "backend": res["backend"],
        "chip": line["chip"],
        "offset": line["offset"],
        "name": line["name"],
        "direction": line["direction"],
        "value": line.get("value"),
        "active_low": line["active_low"],
        "bias": line.get("bias"),
        "consumer": line.get("consumer"),
        **({"edge": line.get("edge"), "drive": line.get("drive")} if full else {}),
    }


def change_record(host, rec: dict, command: str) -> dict:
    released = command == "release"
    return {
        "host": host.name,
        "pin": rec.get("pin") or rec["name"],
        "line": rec["name"],
        # a released line has no value of wacket's any more: `was` is the one it held
        "value": rec.get("value") if not released else None,
        "was": rec.get("was") if not released else rec.get("value"),
    }


def change_words(host, rec: dict, command: str) -> str:
    """A change as the journal's summary says it: `host pin (line) value (was value)`."""
    from wacket.gpio.pins import value_word

    label = rec.get("pin") or rec["name"]
    if rec.get("pin") and rec.get("pin") != rec["name"]:
        label += f" ({rec['name']})"
    change = value_word(rec.get("value")) if command != "release" else "released"
    if rec.get("was") is not None and command != "release":
        change += f" (was {value_word(rec['was'])})"
    return f"{host.name} {label} {change}"
