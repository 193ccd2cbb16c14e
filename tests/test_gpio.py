"""wacket gpio over real sshd hosts against the simulated chip: info/get/set/toggle/pulse, values that
stay after the command exits (the holder), release, named pins, active-low, and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from gpiobed import GPIO_TOML, alive, holder_pid, reset, sim_state


@pytest.fixture
def gpio_fleet(testbed, isolated_env):
    testbed.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), GPIO_TOML)
    for sshd in testbed.hosts:
        reset(sshd)
    yield testbed
    for sshd in testbed.hosts:
        reset(sshd)


def jsonl(res) -> list[dict]:
    assert res.returncode == 0, res.stderr.decode()
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_info_lists_a_pi_like_chip_and_the_backend(gpio_fleet, run_wacket):
    recs = jsonl(run_wacket("gpio", "info", "h1", "--jsonl"))
    assert len(recs) == 28
    assert {r["chip"] for r in recs} == {"gpiochip0"}
    assert [r["name"] for r in recs[:3]] == ["GPIO0", "GPIO1", "GPIO2"]
    assert recs[17] == {
        "host": "h1",
        "backend": "sim",
        "chip": "gpiochip0",
        "offset": 17,
        "name": "GPIO17",
        "direction": "input",
        "value": 0,
        "active_low": False,
        "bias": "as-is",
        "consumer": None,
        "edge": "none",
        "drive": "push-pull",
    }
    chips = jsonl(run_wacket("gpio", "info", "h1", "--chips", "--jsonl"))
    assert chips == [
        {
            "host": "h1",
            "backend": "sim",
            "chip": "gpiochip0",
            "label": "pinctrl-bcm2835",
            "lines": 28,
        }
    ]
    table = run_wacket("gpio", "info", "h1", "--table")
    assert table.returncode == 0
    assert b"GPIO27" in table.stdout
    assert (
        b"backend sim" in table.stderr and b"gpiochip0 [pinctrl-bcm2835] (28 lines)" in table.stderr
    )


def test_set_value_persists_after_the_command_exits(gpio_fleet, run_wacket):
    h1 = gpio_fleet.hosts[0]
    res = run_wacket("gpio", "set", "h1", "heater=on", "--jsonl")
    assert jsonl(res) == [{"host": "h1", "pin": "heater", "line": "GPIO17", "value": 1, "was": 0}]
    # the wacket process has exited; the holder on h1 still holds the line
    pid = holder_pid(h1)
    assert alive(pid)
    line = sim_state(h1)["lines"][17]
    assert (line["direction"], line["out"], line["consumer"], line["pid"]) == (
        "output",
        1,
        "wacket",
        pid,
    )
    got = jsonl(run_wacket("gpio", "get", "h1", "heater", "GPIO17", "--jsonl"))
    assert [(r["pin"], r["value"]) for r in got] == [("heater", 1), ("GPIO17", 1)]
    info = jsonl(run_wacket("gpio", "info", "h1", "--used", "--jsonl"))
    assert [(r["name"], r["direction"], r["value"], r["consumer"]) for r in info] == [
        ("GPIO17", "output", 1, "wacket")
    ]
    # a second set reuses the same holder
    jsonl(run_wacket("gpio", "set", "h1", "GPIO17=off", "GPIO23=1", "--jsonl"))
    assert holder_pid(h1) == pid
    got = jsonl(run_wacket("gpio", "get", "h1", "GPIO17", "GPIO23", "--jsonl"))
    assert [r["value"] for r in got] == [0, 1]


def test_release_stops_the_holder_and_frees_the_lines(gpio_fleet, run_wacket):
    h1 = gpio_fleet.hosts[0]
    jsonl(run_wacket("gpio", "set", "h1", "heater=1", "GPIO23=1", "--jsonl"))
    pid = holder_pid(h1)
    rel = jsonl(run_wacket("gpio", "release", "h1", "GPIO23", "--jsonl"))
    assert [r["line"] for r in rel] == ["GPIO23"]
    assert alive(pid)  # still holds the heater
    assert sim_state(h1)["lines"][23]["consumer"] is None
    rel = jsonl(run_wacket("gpio", "release", "h1", "--jsonl"))
    assert [r["line"] for r in rel] == ["GPIO17"]
    assert not alive(pid)
    assert not (h1.home / ".local/share/wacket/gpio/holder.sock").exists()
    info = jsonl(run_wacket("gpio", "info", "h1", "--used", "--jsonl"))
    assert info == [{"host": "h1", "state": "none", "rows": 0}]  # asked, nothing in use
    # releasing with nothing held is fine
    rel = jsonl(run_wacket("gpio", "release", "h1", "--jsonl"))
    assert rel == [{"host": "h1", "state": "none", "rows": 0}]


def test_toggle_and_pulse(gpio_fleet, run_wacket):
    h1 = gpio_fleet.hosts[0]
    first = jsonl(run_wacket("gpio", "toggle", "h1", "heater", "--jsonl"))
    assert (first[0]["value"], first[0]["was"]) == (1, 0)
    second = jsonl(run_wacket("gpio", "toggle", "h1", "heater", "--jsonl"))
    assert (second[0]["value"], second[0]["was"]) == (0, 1)
    assert sim_state(h1)["lines"][17]["out"] == 0
    # pulse: on for 300 ms, then back to off; the command returns after the pulse
    res = jsonl(run_wacket("gpio", "pulse", "h1", "heater", "--ms", "300ms", "--jsonl"))
    assert res[0]["value"] == 1
    assert sim_state(h1)["lines"][17]["out"] == 0
    assert jsonl(run_wacket("gpio", "get", "h1", "heater", "--jsonl"))[0]["value"] == 0


def test_active_low_inverts_the_wire(gpio_fleet, run_wacket):
    h1 = gpio_fleet.hosts[0]
    jsonl(run_wacket("gpio", "set", "h1", "lamp=on", "--jsonl"))
    line = sim_state(h1)["lines"][22]
    assert (line["out"], line["active_low"]) == (0, True)  # on = low on the wire
    got = jsonl(run_wacket("gpio", "get", "h1", "lamp", "GPIO22", "--jsonl"))
    assert [(r["pin"], r["value"]) for r in got] == [("lamp", 1), ("GPIO22", 0)]
    info = {r["name"]: r for r in jsonl(run_wacket("gpio", "info", "h1", "--jsonl"))}
    assert (info["GPIO22"]["active_low"], info["GPIO22"]["value"]) == (True, 1)
    jsonl(run_wacket("gpio", "set", "h1", "lamp=off", "--jsonl"))
    assert sim_state(h1)["lines"][22]["out"] == 1


def test_named_inputs_bias_and_drive(gpio_fleet, run_wacket):
    # door has a pull-up: reads 1 with nothing driving it; button (chip:offset) a pull-down
    got = jsonl(run_wacket("gpio", "get", "h1", "door", "button", "--jsonl"))
    assert [(r["pin"], r["line"], r["value"]) for r in got] == [
        ("door", "GPIO27", 1),
        ("button", "GPIO5", 0),
    ]
    drv = jsonl(run_wacket("gpio", "drive", "h1", "door=low", "GPIO5=1", "--jsonl"))
    assert [(r["line"], r["level"]) for r in drv] == [("GPIO27", 0), ("GPIO5", 1)]
    got = jsonl(run_wacket("gpio", "get", "h1", "door", "gpiochip0:5", "--jsonl"))
    assert [r["value"] for r in got] == [0, 1]
    # plain output for scripts
    res = run_wacket("gpio", "get", "h1", "door", "--plain")
    assert res.stdout == b"h1\tdoor\tGPIO27\t0\n"


def test_init_sets_configured_defaults(gpio_fleet, run_wacket):
    h1 = gpio_fleet.hosts[0]
    recs = jsonl(run_wacket("gpio", "init", "h1", "--jsonl"))
    assert sorted((r["pin"], r["value"]) for r in recs) == [("heater", 0), ("lamp", 0)]
    state = sim_state(h1)["lines"]
    assert (state[17]["direction"], state[17]["out"]) == ("output", 0)
    assert (state[22]["direction"], state[22]["out"]) == ("output", 1)  # active-low off = high


def test_every_set_is_in_the_journal(gpio_fleet, run_wacket):
    jsonl(run_wacket("gpio", "set", "h1", "heater=on", "--jsonl"))
    jsonl(run_wacket("gpio", "toggle", "h1", "heater", "--jsonl"))
    log = jsonl(run_wacket("log", "--command", "gpio", "--jsonl"))
    assert [r["command"] for r in log] == ["gpio set", "gpio toggle"]
    assert "h1 heater (GPIO17) on (was off)" in log[0]["summary"]
    assert "heater (GPIO17) off (was on)" in log[1]["summary"]
    assert all(r["outcome"] == "ok" and r["user"] for r in log)


def test_setting_an_input_pin_is_refused(gpio_fleet, run_wacket):
    h1 = gpio_fleet.hosts[0]
    res = run_wacket("gpio", "set", "h1", "door=on")
    assert res.returncode == 2
    err = res.stderr.decode()
    assert err.startswith("wacket: error: h1: door (GPIO27) is configured as an input")
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert holder_pid(h1) is None  # refused before anything reached the device
    log = jsonl(run_wacket("log", "--command", "gpio", "--jsonl"))
    assert log[-1]["outcome"] == "failed"


def test_a_line_held_by_another_consumer_is_refused_with_its_name(gpio_fleet, run_wacket):
    from gpiobed import stop, wacket_popen, wait_stderr

    watcher = wacket_popen("gpio", "watch", "h1", "GPIO18")
    try:
        wait_stderr(watcher, "watching h1")
        res = run_wacket("gpio", "set", "h1", "GPIO18=1")
        assert res.returncode == 4
        assert res.stderr.decode() == "wacket: error: h1: GPIO18 is in use by 'wacket-watch'\n"
    finally:
        stop(watcher)


def test_unknown_line_name(gpio_fleet, run_wacket):
    res = run_wacket("gpio", "get", "h1", "GPIO99")
    assert res.returncode == 2
    assert res.stderr.decode().startswith("wacket: error: h1: no line named 'GPIO99' here")
    res = run_wacket("gpio", "set", "h1", "gpiochip0:40=1")
    assert res.returncode == 2
    assert "gpiochip0 has no line 40 (28 lines)" in res.stderr.decode()
    res = run_wacket("gpio", "set", "h1", "heater=maybe")
    assert res.returncode == 2
    assert "bad value 'maybe'" in res.stderr.decode()


def test_host_with_no_gpio_at_all(gpio_fleet, run_wacket):
    # h3 has no [gpio.h3] table: the backend is found automatically, and this machine has no
    # /dev/gpiochip* and no /sys/class/gpio
    for args in (("info", "h3"), ("get", "h3", "GPIO17"), ("set", "h3", "GPIO17=1")):
        res = run_wacket("gpio", *args)
        assert res.returncode == 1, res.stderr
        assert res.stderr.decode() == (
            "wacket: error: h3: no GPIO on this host (no /dev/gpiochip*, no /sys/class/gpio chips)\n"
        )


def test_several_hosts_report_each_failure(gpio_fleet, run_wacket):
    res = run_wacket("gpio", "get", "h1,h2,h3", "door", "--jsonl")
    assert res.returncode == 1
    recs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["host"], r["value"]) for r in recs if "state" not in r] == [("h1", 1), ("h2", 1)]
    (h3,) = [r for r in recs if "state" in r]
    assert h3["host"] == "h3" and h3["state"] == "failed"
    assert h3["error"].startswith("no GPIO on this host")
    assert "h3: no GPIO on this host" in res.stderr.decode()
