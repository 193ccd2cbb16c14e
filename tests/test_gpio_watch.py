"""wacket gpio watch over real sshd hosts against the simulated chip: edges in order, --edge,
--debounce, --count, active-low, two hosts at once, and a dropped connection reported as a gap."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from gpiobed import GPIO_TOML, read_events, reset, sim_state, stop, wacket_popen, wait_stderr

WATCH_TOML = (
    GPIO_TOML
    + """
[gpio.h3]
backend = "sim"
alarm = { line = "GPIO4", direction = "in", active_low = true, bias = "pull-up" }
"""
)


@pytest.fixture
def gpio_fleet(testbed, isolated_env):
    testbed.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), WATCH_TOML)
    for sshd in testbed.hosts:
        reset(sshd)
    procs = []
    yield testbed, procs
    for proc in procs:
        stop(proc)
    for sshd in testbed.hosts:
        reset(sshd)


def start_watch(procs, *args, hosts=("h1",)):
    proc = wacket_popen("gpio", "watch", *args)
    procs.append(proc)
    seen = ""
    for host in hosts:
        if f"watching {host}" not in seen:
            seen += wait_stderr(proc, f"watching {host}")
    return proc


def drive(run_wacket, host, *assignments):
    res = run_wacket("gpio", "drive", host, *assignments)
    assert res.returncode == 0, res.stderr.decode()


def edges(events):
    return [(e["host"], e["pin"], e["edge"], e["value"]) for e in events]


def test_watch_delivers_edges_in_order(gpio_fleet, run_wacket):
    _, procs = gpio_fleet
    proc = start_watch(procs, "h1", "door", "--jsonl")
    drive(run_wacket, "h1", "door=0")
    drive(run_wacket, "h1", "door=1", "door=0", "door=1", "--gap", "20ms")
    events = read_events(proc, 4)
    assert edges(events) == [
        ("h1", "door", "falling", 0),
        ("h1", "door", "rising", 1),
        ("h1", "door", "falling", 0),
        ("h1", "door", "rising", 1),
    ]
    assert set(events[0]) == {"host", "pin", "edge", "value", "timestamp", "line"}
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    # the watcher holds the line as an input with edge detection, as the kernel shows it
    line = sim_state(gpio_fleet[0].hosts[0])["lines"][27]
    assert (line["consumer"], line["edge"], line["direction"]) == ("wacket-watch", "both", "input")


def test_edge_filter_and_count(gpio_fleet, run_wacket):
    _, procs = gpio_fleet
    proc = start_watch(procs, "h1", "door", "--edge", "falling", "--count", "2")
    drive(run_wacket, "h1", "door=0", "door=1", "door=0", "door=1", "--gap", "20ms")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert edges(events) == [("h1", "door", "falling", 0), ("h1", "door", "falling", 0)]


def test_debounce_swallows_a_bouncing_switch(gpio_fleet, run_wacket):
    _, procs = gpio_fleet
    proc = start_watch(procs, "h1", "door", "--debounce", "300ms", "--count", "2")
    # a switch that bounces on its way to 0 (each level far shorter than the debounce period)
    drive(run_wacket, "h1", "door=0", "door=1", "door=0", "door=1", "door=0", "--gap", "1ms")
    first = read_events(proc, 1)
    drive(run_wacket, "h1", "door=1")  # then a clean change back
    out, err = proc.communicate(timeout=60)
    events = first + [json.loads(line) for line in out.splitlines()]
    assert edges(events) == [("h1", "door", "falling", 0), ("h1", "door", "rising", 1)]


def test_without_debounce_every_bounce_is_seen(gpio_fleet, run_wacket):
    _, procs = gpio_fleet
    proc = start_watch(procs, "h1", "GPIO6", "--count", "4")
    drive(run_wacket, "h1", "GPIO6=1", "GPIO6=0", "GPIO6=1", "GPIO6=0", "--gap", "1ms")
    out, _ = proc.communicate(timeout=60)
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["edge"] for e in events] == ["rising", "falling", "rising", "falling"]


def test_active_low_pin_reports_logical_edges(gpio_fleet, run_wacket):
    _, procs = gpio_fleet
    proc = start_watch(procs, "h3", "alarm", "--count", "2", hosts=("h3",))
    # pulled up: the alarm (active-low) is inactive; pulling the wire low makes it active
    drive(run_wacket, "h3", "alarm=0")
    drive(run_wacket, "h3", "alarm=1")
    out, _ = proc.communicate(timeout=60)
    events = [json.loads(line) for line in out.splitlines()]
    assert edges(events) == [("h3", "alarm", "rising", 1), ("h3", "alarm", "falling", 0)]


def test_two_hosts_watched_at_once(gpio_fleet, run_wacket):
    _, procs = gpio_fleet
    proc = start_watch(procs, "h1,h2", "door", "--count", "4", hosts=("h1", "h2"))
    drive(run_wacket, "h2", "door=0")
    drive(run_wacket, "h1", "door=0")
    drive(run_wacket, "h2", "door=1")
    drive(run_wacket, "h1", "door=1")
    out, _ = proc.communicate(timeout=60)
    events = [json.loads(line) for line in out.splitlines()]
    assert edges(events) == [
        ("h2", "door", "falling", 0),
        ("h1", "door", "falling", 0),
        ("h2", "door", "rising", 1),
        ("h1", "door", "rising", 1),
    ]


def test_dropped_connection_is_retried_and_reported_as_a_gap(gpio_fleet, run_wacket):
    bed, procs = gpio_fleet
    h1 = bed.hosts[0]
    proc = start_watch(procs, "h1", "door")
    drive(run_wacket, "h1", "door=0")
    assert edges(read_events(proc, 1)) == [("h1", "door", "falling", 0)]
    # the device side dies (as on a reboot or a cut connection): kill the watching helper there
    (watcher,) = sim_state(h1)["watchers"].values()
    os.kill(watcher["pid"], signal.SIGKILL)
    wait_stderr(proc, "retrying in")
    wait_stderr(proc, "watching h1")
    gap = read_events(proc, 1)
    assert len(gap) == 1
    assert (gap[0]["host"], gap[0]["pin"], gap[0]["edge"], gap[0]["value"]) == (
        "h1",
        None,
        "gap",
        None,
    )
    assert gap[0]["since"] <= gap[0]["timestamp"]
    assert "connection lost" in gap[0]["reason"]
    drive(run_wacket, "h1", "door=1")
    assert edges(read_events(proc, 1)) == [("h1", "door", "rising", 1)]
    stop(proc)
    assert proc.returncode in (0, 130)


def test_watch_errors_are_one_line(gpio_fleet, run_wacket):
    res = run_wacket("gpio", "watch", "h1", "GPIO77", timeout=60)
    assert res.returncode == 2
    assert res.stderr.decode().startswith("wacket: error: h1: no line named 'GPIO77' here")
    res = run_wacket("gpio", "watch", "h3", "GPIO4", "--debounce", "soon", timeout=60)
    assert res.returncode == 2
    assert "bad duration 'soon'" in res.stderr.decode()


def test_host_down_then_back_is_retried_with_backoff(gpio_fleet, run_wacket):
    """A rebooted device: sshd gone (connections refused) for a while, then back. The watch keeps
    retrying, says so on stderr, and reports the blind stretch once it sees the pin again."""
    bed, procs = gpio_fleet
    h1 = bed.hosts[0]
    proc = start_watch(procs, "h1", "door")
    try:
        h1.stop()
        (watcher,) = sim_state(h1)["watchers"].values()
        os.kill(watcher["pid"], signal.SIGKILL)  # the old session dies with the "reboot"
        wait_stderr(proc, "unreachable (refused)")
        wait_stderr(proc, "unreachable (refused)")  # retried again, later
        # the door changes while nobody can see it
        from wacket.remote.ops import gpio as device

        saved = device.data_dir
        device.data_dir = lambda: str(h1.home / ".local/share/wacket")
        try:
            device._GpioSim().drive([(27, 0)], 0)
        finally:
            device.data_dir = saved
    finally:
        if not h1.running:
            h1.start()
    seen = wait_stderr(proc, "watching h1")
    assert "door=0" in seen  # what the pin reads now that it is visible again
    gap = read_events(proc, 1)
    assert (gap[0]["edge"], gap[0]["pin"]) == ("gap", None)
    assert gap[0]["since"] < gap[0]["timestamp"]
    drive(run_wacket, "h1", "door=1")
    assert edges(read_events(proc, 1)) == [("h1", "door", "rising", 1)]


def test_watch_gives_up_on_a_host_key_it_does_not_know(gpio_fleet, run_wacket, isolated_env):
    (isolated_env / ".ssh/known_hosts").write_text("")
    res = run_wacket("gpio", "watch", "h1", "door", timeout=60)
    assert res.returncode == 3
    assert "h1: unreachable (host key unknown)" in res.stderr.decode()
