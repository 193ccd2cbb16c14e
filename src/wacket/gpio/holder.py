"""The client side of the per-host holder process.

With the GPIO character device a line keeps its value only while a process holds its request, so
the device side starts one small detached holder per host (on demand, by the first `set`) that owns
the requested output lines and takes commands on a unix socket in wacket's data dir there (0700).
`set`, `toggle` and `pulse` go through it; `release` hands lines back and stops it when it holds
none. Backends that hold lines themselves (sysfs, gpio-manager) are set directly.
"""

from __future__ import annotations

from wacket.gpio import client
from wacket.gpio.pins import HostGpio, Pin


def set_values(session, hg: HostGpio, assignments: list[tuple[Pin, int | str]]) -> dict:
    """Set output lines to logical values (1/0, or "toggle"); returns {lines, holder}.

    Each line record: {pin, chip, offset, name, value, was} (`was` is None when unknown).
    """
    client.check_outputs(hg, [p for p, _ in assignments])
    pins = [p.op_args(v) for p, v in assignments]
    return client.call(session, hg, "gpio.set", pins=pins)


def toggle(session, hg: HostGpio, pins: list[Pin]) -> dict:
    return set_values(session, hg, [(p, "toggle") for p in pins])


def pulse(session, hg: HostGpio, pins: list[Pin], seconds: float, value: int = 1) -> dict:
    """Set to `value` for `seconds`, then back to what each line was (returns after the pulse)."""
    client.check_outputs(hg, pins)
    return client.call(
        session,
        hg,
        "gpio.set",
        pins=[p.op_args(value) for p in pins],
        pulse_ms=max(1, int(round(seconds * 1000))),
    )


def release(session, hg: HostGpio, pins: list[Pin] | None = None) -> dict:
    """Release the given lines (all without pins); the holder exits once it holds none."""
    args = {"pins": [p.op_args() for p in pins]} if pins else {}
    return client.call(session, hg, "gpio.release", **args)
