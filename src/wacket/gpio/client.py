"""One-shot GPIO calls on a host: info, get, drive (sim). Errors become GpioError with exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from wacket.gpio.pins import GpioError, HostGpio, Pin
from wacket.remote.client import HelperError

# Helper error kinds that are about GPIO (the rest stay HelperError: lost connection, no python...).
GPIO_KINDS = {"unknown-line", "usage", "busy", "no-gpio", "unsupported", "holder", "input-pin"}


@contextmanager
def translated(host: str) -> Iterator[None]:
    """Turn the device side's GPIO errors into GpioError (exit codes: see pins.GpioError)."""
    try:
        yield
    except HelperError as exc:
        if exc.kind in GPIO_KINDS:
            raise GpioError(str(exc), exc.kind, exc.host, exc.what) from None
        raise


def call(session, hg: HostGpio, op: str, **args):
    with translated(session.host.name):
        return session.helper().call(op, backend=hg.backend, **args)


def info(session, hg: HostGpio) -> dict:
    """{backend, detail, chips, lines, holder} of the host."""
    return call(session, hg, "gpio.info")


def get(session, hg: HostGpio, pins: list[Pin]) -> list[dict]:
    """[{pin, chip, offset, name, value, direction, consumer}] in the order asked."""
    return call(session, hg, "gpio.get", pins=[p.op_args() for p in pins])


def drive(session, hg: HostGpio, assignments: list[tuple[Pin, int]], gap: float = 0) -> list:
    """Sim only: set the level on the wire of input lines, in order, `gap` seconds apart."""
    pins = [p.op_args(v) for p, v in assignments]
    for spec in pins:
        spec["active_low"] = False  # drive sets levels on the wire, not logical values
    return call(session, hg, "gpio.drive", pins=pins, gap=gap)


def check_outputs(hg: HostGpio, pins: list[Pin]) -> None:
    """A pin configured as an input cannot be set."""
    for pin in pins:
        if pin.direction == "in":
            raise GpioError(
                f"{hg.host}: {pin.label} ({pin.where}) is configured as an input "
                f'(direction = "in" in [gpio.{hg.host}]); refusing to set it',
                "input-pin",
            )
