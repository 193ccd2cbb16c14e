"""What `gpio get` and `gpio drive` show: the pins read on each host, the levels driven on one,
as records."""

from __future__ import annotations


def read_pins(pool, targets, pins: list[str], forks: int):
    """PINS read on each of `targets` (host, HostGpio): (each host's records, the worst exit
    code, every host's HostResult, as `records.each`)."""
    from wacket.gpio import client
    from wacket.gpio.records import each

    resolved = {h.name: [hg.pin(p) for p in pins] for h, hg in targets}
    done, code, results = each(
        pool, targets, lambda h, hg, s: client.get(s, hg, resolved[h.name]), forks
    )
    done = [(host, [_record(host, rec, "value") for rec in recs]) for host, recs in done]
    return done, code, results


def drive(session, hg, assignments: list[str], gap: str) -> list[dict]:
    """LINE=LEVEL... driven on the simulated chip of `session`'s host, `gap` (2ms) apart."""
    from wacket.gpio import client
    from wacket.gpio.pins import parse_ms, parse_value, split_assignment

    pairs = [split_assignment(a) for a in assignments]
    done = client.drive(
        session, hg, [(hg.pin(n), parse_value(v, "level")) for n, v in pairs], parse_ms(gap)
    )
    return [_record(session.host, rec, "level") for rec in done]


def _record(host, rec: dict, value: str) -> dict:
    return {"host": host.name, "pin": rec["pin"], "line": rec["name"], value: rec["value"]}
