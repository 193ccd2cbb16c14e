"""Pin specs: line names (GPIO17), chip:offset (gpiochip0:17), or names from the config.

```toml
[gpio.kitchen-pi]
backend = "sim"            # optional: auto (default), sim, manager, bindings, tools, sysfs
heater = { line = "GPIO17", direction = "out", active_low = false, default = 0 }
door   = { line = "GPIO27", direction = "in", bias = "pull-up" }
```

Values are logical (active/inactive): with `active_low = true`, `on` drives the wire low.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from wacket.errors import ConfigError, WacketError, kind_exit

VALUE_WORDS = {
    "1": 1,
    "on": 1,
    "high": 1,
    "active": 1,
    "true": 1,
    "yes": 1,
    "0": 0,
    "off": 0,
    "low": 0,
    "inactive": 0,
    "false": 0,
    "no": 0,
}
BACKENDS = ("auto", "sim", "manager", "bindings", "tools", "sysfs")
BIASES = ("as-is", "pull-up", "pull-down", "disabled")
DRIVES = ("push-pull", "open-drain", "open-source")
_PIN_KEYS = {"line", "chip", "offset", "direction", "active_low", "bias", "drive", "default"}
_CHIP_OFFSET = re.compile(r"^(?P<chip>[^:=\s]+):(?P<offset>\d+)$")
_NAME = re.compile(r"^[A-Za-z0-9_.+/-][A-Za-z0-9_.+/ -]*$")


class GpioError(WacketError):
    """A GPIO failure; `kind` says which (unknown-line, input-pin, busy, no-gpio, ...)."""

    def __init__(self, message: str, kind: str = "error", host: str = "", what: str = ""):
        self.kind = kind
        self.host = host  # with `what`, as a HostError has them: the message less the host's name
        self.what = what
        super().__init__(message, kind_exit(kind))


@dataclass
class Pin:
    """One pin as the user named it, resolved against the host's [gpio.HOST] table."""

    label: str  # what the user typed or the config name (heater)
    line: str | None = None  # a line name (GPIO17)
    chip: str | None = None  # or chip + offset
    offset: int | None = None
    direction: str | None = None  # "in" / "out" from the config
    active_low: bool = False
    bias: str | None = None
    drive: str | None = None
    default: int | None = None

    @property
    def where(self) -> str:
        return self.line if self.line else f"{self.chip}:{self.offset}"

    def op_args(self, value=None) -> dict:
        """The pin as the device side's ops take it."""
        spec: dict = {"pin": self.label, "active_low": self.active_low}
        if self.line:
            spec["line"] = self.line
        else:
            spec["chip"] = self.chip
            spec["offset"] = self.offset
        if self.bias:
            spec["bias"] = self.bias
        if self.drive:
            spec["drive"] = self.drive
        if value is not None:
            spec["value"] = value
        return spec


@dataclass
class HostGpio:
    """The [gpio.HOST] table of one host: its backend and its named pins."""

    host: str
    backend: str = "auto"
    pins: dict[str, Pin] = field(default_factory=dict)

    def pin(self, text: str) -> Pin:
        """A pin from a config name, `chip:offset`, or a line name."""
        text = text.strip()
        if text in self.pins:
            return self.pins[text]
        m = _CHIP_OFFSET.match(text)
        if m:
            return Pin(text, chip=m.group("chip"), offset=int(m.group("offset")))
        if text.isdigit():
            raise GpioError(
                f"{self.host}: pin {text!r} is ambiguous: use a line name (GPIO{text}) "
                f"or chip:offset (gpiochip0:{text})",
                "usage",
            )
        if not text or not _NAME.match(text):
            raise GpioError(f"{self.host}: bad pin {text!r}", "usage")
        return Pin(text, line=text)


def parse_value(text: str, what: str = "value") -> int:
    word = text.strip().lower()
    if word not in VALUE_WORDS:
        raise GpioError(f"bad {what} {text!r}: use on/off, 1/0, high/low, active/inactive", "usage")
    return VALUE_WORDS[word]


def split_assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.rpartition("=")
    if not sep or not name or not value:
        raise GpioError(f"expected PIN=VALUE, got {text!r} (e.g. heater=on, GPIO17=1)", "usage")
    return name, value


def parse_ms(text: str) -> float:
    """`500`, `500ms`, `0.5s`, `10us` -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m)?\s*", str(text).lower())
    if not m:
        raise GpioError(f"bad duration {text!r}: use e.g. 10ms, 0.5s, 500", "usage")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, None: 1e-3}[m.group(2)]
    return float(m.group(1)) * scale


def targets(config, fleet, hostset: str) -> list[tuple]:
    """The hosts of HOSTSET, each with its [gpio.HOST] table: (Host, HostGpio)."""
    return [(h, load(config, h.name)) for h in fleet.select(hostset)]


def load(config, host: str) -> HostGpio:
    """The [gpio.HOST] table (validated; errors name the file and line)."""
    section = config.section("gpio")
    table = section.get(host, {})
    if not isinstance(table, dict):
        raise config.error(f"[gpio.{host}] must be a table", "gpio", host)
    hg = HostGpio(host)
    for key, value in table.items():
        if key == "backend":
            if value not in BACKENDS:
                raise config.error(
                    f"[gpio.{host}] backend must be one of {', '.join(BACKENDS)}, not {value!r}",
                    "gpio",
                    host,
                )
            hg.backend = value
            continue
        if not isinstance(value, dict):
            raise config.error(
                f"[gpio.{host}] {key} must be a table like "
                '{ line = "GPIO17", direction = "out" }',
                "gpio",
                host,
                key,
            )
        hg.pins[key] = _pin_from(config, host, key, value)
    return hg


def _pin_from(config, host: str, name: str, entry: dict) -> Pin:
    def bad(problem: str) -> ConfigError:
        return config.error(f"[gpio.{host}] {name}: {problem}", "gpio", host, name)

    unknown = set(entry) - _PIN_KEYS
    if unknown:
        raise bad(f"unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_PIN_KEYS))})")
    pin = Pin(name)
    if "line" in entry:
        if not isinstance(entry["line"], str) or not entry["line"]:
            raise bad("line must be a line name such as GPIO17")
        m = _CHIP_OFFSET.match(entry["line"])
        if m:
            pin.chip, pin.offset = m.group("chip"), int(m.group("offset"))
        else:
            pin.line = entry["line"]
    elif "offset" in entry:
        if not isinstance(entry["offset"], int) or isinstance(entry["offset"], bool):
            raise bad("offset must be an integer")
        pin.chip = str(entry.get("chip", "gpiochip0"))
        pin.offset = entry["offset"]
    else:
        raise bad('needs line = "GPIO17" (or chip = "gpiochip0", offset = 17)')
    direction = entry.get("direction")
    if direction is not None:
        direction = {"input": "in", "output": "out"}.get(direction, direction)
        if direction not in ("in", "out"):
            raise bad(f"direction must be in or out, not {direction!r}")
        pin.direction = direction
    active_low = entry.get("active_low", False)
    if not isinstance(active_low, bool):
        raise bad("active_low must be true or false")
    pin.active_low = active_low
    if "bias" in entry:
        if entry["bias"] not in BIASES:
            raise bad(f"bias must be one of {', '.join(BIASES)}")
        pin.bias = None if entry["bias"] == "as-is" else entry["bias"]
    if "drive" in entry:
        if entry["drive"] not in DRIVES:
            raise bad(f"drive must be one of {', '.join(DRIVES)}")
        pin.drive = entry["drive"]
    if "default" in entry:
        value = entry["default"]
        try:
            pin.default = parse_value(
                str(value).lower() if not isinstance(value, bool) else str(int(value))
            )
        except GpioError:
            raise bad(f"default must be 0/1 or on/off, not {value!r}") from None
        if pin.direction == "in":
            raise bad("an input has no default value")
    return pin


def value_word(value: int | None) -> str:
    return "" if value is None else ("on" if value else "off")
