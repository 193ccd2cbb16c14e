"""Pin specs, value words, durations and the [gpio.HOST] config table (no hosts needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wacket import config
from wacket.errors import ConfigError
from wacket.gpio import pins
from wacket.gpio.pins import GpioError


def load(text: str, host: str = "pi") -> pins.HostGpio:
    path = Path(os.environ["WACKET_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return pins.load(config.load(), host)


def test_value_words():
    for word in ("on", "1", "high", "HIGH", "active", "true", "yes"):
        assert pins.parse_value(word) == 1
    for word in ("off", "0", "low", "inactive", "false", "no"):
        assert pins.parse_value(word) == 0
    with pytest.raises(GpioError) as err:
        pins.parse_value("2")
    assert err.value.code == 2 and "bad value '2'" in str(err.value)


def test_durations():
    assert pins.parse_ms("500") == pytest.approx(0.5)
    assert pins.parse_ms("20ms") == pytest.approx(0.02)
    assert pins.parse_ms("1.5s") == pytest.approx(1.5)
    assert pins.parse_ms("250us") == pytest.approx(0.00025)
    with pytest.raises(GpioError):
        pins.parse_ms("soon")


def test_pin_specs_and_config_names():
    hg = load(
        "[gpio.pi]\n"
        'backend = "sim"\n'
        'heater = { line = "GPIO17", direction = "out", active_low = true, default = "on" }\n'
        'door = { line = "GPIO27", direction = "input", bias = "pull-up" }\n'
        'relay = { chip = "gpiochip1", offset = 3, drive = "open-drain" }\n'
    )
    assert hg.backend == "sim"
    heater = hg.pin("heater")
    assert (heater.line, heater.direction, heater.active_low, heater.default) == (
        "GPIO17",
        "out",
        True,
        1,
    )
    assert hg.pin("door").direction == "in" and hg.pin("door").bias == "pull-up"
    relay = hg.pin("relay")
    assert (relay.chip, relay.offset, relay.drive) == ("gpiochip1", 3, "open-drain")
    assert relay.op_args(1) == {
        "pin": "relay",
        "active_low": False,
        "chip": "gpiochip1",
        "offset": 3,
        "drive": "open-drain",
        "value": 1,
    }
    raw = hg.pin("gpiochip0:17")
    assert (raw.chip, raw.offset, raw.line) == ("gpiochip0", 17, None)
    assert hg.pin("GPIO4").op_args() == {"pin": "GPIO4", "active_low": False, "line": "GPIO4"}
    with pytest.raises(GpioError, match="ambiguous"):
        hg.pin("17")


def test_config_errors_name_the_file_and_line():
    with pytest.raises(ConfigError) as err:
        load('[gpio.pi]\nheater = "GPIO17"\n')
    assert "config.toml:" in str(err.value) and "heater must be a table" in str(err.value)
    with pytest.raises(ConfigError, match="backend must be one of"):
        load('[gpio.pi]\nbackend = "magic"\n')
    with pytest.raises(ConfigError, match="unknown key 'pull'"):
        load('[gpio.pi]\ndoor = { line = "GPIO27", pull = "up" }\n')
    with pytest.raises(ConfigError, match="an input has no default"):
        load('[gpio.pi]\ndoor = { line = "GPIO27", direction = "in", default = 1 }\n')
    with pytest.raises(ConfigError, match="direction must be in or out"):
        load('[gpio.pi]\ndoor = { line = "GPIO27", direction = "sideways" }\n')


def test_a_host_without_a_table_uses_the_automatic_backend():
    hg = load("")
    assert (hg.backend, hg.pins) == ("auto", {})


def test_bad_config_is_exit_2_from_the_command(run_wacket):
    path = Path(os.environ["WACKET_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[gpio.local]\nheater = "GPIO17"\n')
    res = run_wacket("gpio", "get", "local", "heater")
    assert res.returncode == 2
    assert res.stderr.decode().startswith(f"wacket: error: {path}:2: [gpio.local] heater must")
