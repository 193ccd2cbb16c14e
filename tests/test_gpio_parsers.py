"""The parsers of gpioinfo/gpioget output (libgpiod v1 and v2) and of sysfs files, on real outputs.

Each sample is an excerpt of output captured on real hardware and published; where it came from is
noted beside it (repository and file, or the test file of libgpiod itself).
"""

from __future__ import annotations

import pytest

from wacket.gpio import parsers

# libgpiod v1 `gpioinfo` on a Raspberry Pi 4 (Raspberry Pi OS), from
# github.com/diablodale/dp_rpi_led_ctrl README.md ("gpioinfo output shows the raw GPIOs used for
# RPi LEDs"). v1 pads names and consumers to fixed widths and ends lines with a space.
V1_PI4 = (
    "gpiochip0 - 58 lines:\n"
    '\tline   0:     "ID_SDA"       unused   input  active-high \n'
    '\tline  17:     "GPIO17"       unused   input  active-high \n'
    '\tline  27:     "GPIO27"       unused   input  active-high \n'
    '\tline  42: "STATUS_LED_G_CLK" "ACT" output active-high [used]\n'
    '\tline  43: "SPIFLASH_CE_N" unused input active-high \n'
    "gpiochip1 - 8 lines:\n"
    '\tline   0:      "BT_ON"       unused  output  active-high \n'
    '\tline   2: "PWR_LED_OFF" "PWR" output active-low [used]\n'
    '\tline   5:   "CAM_GPIO" "cam1_regulator" output active-high [used]\n'
    '\tline   6:  "SD_PWR_ON" "sd_vcc_reg"  output  active-high [used]\n'
    "gpiochip2 - 4 lines:\n"
    "\tline   0:      unnamed       unused   input  active-high \n"
    "\tline   2:      unnamed       unused  output  active-high \n"
)

# libgpiod v1 on a Raspberry Pi 4 with lines exported through sysfs (consumer "sysfs"), from the
# public code corpus: a blog post on libgpiod tools ("Below the output of the `gpioinfo` on a
# Raspberry Pi 4"), search-corpus file id 55350827841.
V1_SYSFS = (
    "gpiochip0 - 58 lines:\n"
    '\tline  17:     "GPIO17"       unused   input  active-high\n'
    '\tline  18:     "GPIO18"      "sysfs"   input  active-high [used]\n'
    '\tline  23:     "GPIO23"      "sysfs"  output  active-high [used]\n'
    '\tline  42: "STATUS_LED_G_CLK" "led0" output active-high [used]\n'
)

# libgpiod v2 `gpioinfo -c gpiochip0` / `-c gpiochip1` on a Raspberry Pi 4 running NixOS, from
# github.com/treyfortmuller/pi-nixos README.md ("sudo gpioinfo -c gpiochip0"). v2 prints the name,
# a tab, then attributes and consumer="...".
V2_PI4 = (
    "gpiochip0 - 58 lines:\n"
    '\tline   0:\t"ID_SDA"        \tinput\n'
    '\tline   7:\t"GPIO7"         \toutput active-low consumer="spi0 CS1"\n'
    '\tline   8:\t"GPIO8"         \toutput active-low consumer="spi0 CS0"\n'
    '\tline  17:\t"GPIO17"        \tinput\n'
    '\tline  42:\t"STATUS_LED_G_CLK"\toutput consumer="ACT"\n'
    "gpiochip1 - 8 lines:\n"
    '\tline   0:\t"BT_ON"         \toutput consumer="shutdown"\n'
    '\tline   2:\t"PWR_LED_OFF"   \toutput active-low consumer="PWR"\n'
    '\tline   7:\t"SD_OC_N"       \tinput\n'
)

# libgpiod v2 on a Raspberry Pi 5 with buttons requested through lgpio (gpiozero) with pull-ups
# and edge detection, from the public code corpus: an e-ink calendar project's README
# ("gpioinfo from the bring-up Pi confirms the pin map"), search-corpus file id 66437946826.
V2_PI5_BIAS_EDGES = (
    "gpiochip0 - 58 lines:\n"
    '\tline   5:\t"GPIO5"         \tinput bias=pull-up edges=both consumer="lg"\n'
    '\tline   8:\t"GPIO8"         \toutput bias=disabled consumer="inky"\n'
    '\tline  17:\t"GPIO17"        \tinput bias=pull-up consumer="inky"\n'
    '\tline  18:\t"GPIO18"        \tinput\n'
)

# libgpiod v2.1 on a Raspberry Pi with unnamed lines on an expander chip, from the public code
# corpus (search-corpus file id 9584292384: "gpiochip2 - 73 lines").
V2_UNNAMED = (
    "gpiochip2 - 73 lines:\n"
    "\tline   0:\tunnamed         \tinput\n"
    '\tline   8:\t"GPIO17"        \tinput\n'
)


def by_offset(lines, chip):
    return {rec["offset"]: rec for rec in lines if rec["chip"] == chip}


def test_v1_gpioinfo_pi4():
    lines = parsers.parse_gpioinfo(V1_PI4)
    assert len(lines) == 11
    chip0 = by_offset(lines, "gpiochip0")
    assert chip0[17] == {
        "chip": "gpiochip0",
        "offset": 17,
        "name": "GPIO17",
        "direction": "input",
        "active_low": False,
        "used": False,
        "consumer": None,
        "bias": "as-is",
        "drive": "push-pull",
        "edge": "none",
        "debounce": None,
    }
    assert (chip0[42]["name"], chip0[42]["consumer"], chip0[42]["used"]) == (
        "STATUS_LED_G_CLK",
        "ACT",
        True,
    )
    assert chip0[42]["direction"] == "output"
    assert chip0[43]["name"] == "SPIFLASH_CE_N" and chip0[43]["consumer"] is None
    chip1 = by_offset(lines, "gpiochip1")
    assert (chip1[2]["active_low"], chip1[2]["consumer"]) == (True, "PWR")
    assert chip1[5]["consumer"] == "cam1_regulator"
    assert chip1[6]["consumer"] == "sd_vcc_reg"
    chip2 = by_offset(lines, "gpiochip2")
    assert chip2[0]["name"] is None and chip2[2]["direction"] == "output"


def test_v1_gpioinfo_sysfs_consumer():
    lines = by_offset(parsers.parse_gpioinfo(V1_SYSFS), "gpiochip0")
    assert (lines[18]["consumer"], lines[18]["direction"], lines[18]["used"]) == (
        "sysfs",
        "input",
        True,
    )
    assert (lines[23]["consumer"], lines[23]["direction"]) == ("sysfs", "output")
    assert lines[17]["used"] is False


def test_v2_gpioinfo_pi4():
    lines = parsers.parse_gpioinfo(V2_PI4)
    assert len(lines) == 8
    chip0 = by_offset(lines, "gpiochip0")
    assert chip0[0]["name"] == "ID_SDA" and chip0[0]["direction"] == "input"
    assert chip0[0]["used"] is False and chip0[0]["consumer"] is None
    assert (chip0[7]["direction"], chip0[7]["active_low"], chip0[7]["consumer"]) == (
        "output",
        True,
        "spi0 CS1",
    )
    # a name as long as the column: no padding left before the tab
    assert (chip0[42]["name"], chip0[42]["consumer"]) == ("STATUS_LED_G_CLK", "ACT")
    chip1 = by_offset(lines, "gpiochip1")
    assert (chip1[2]["name"], chip1[2]["active_low"], chip1[2]["consumer"]) == (
        "PWR_LED_OFF",
        True,
        "PWR",
    )
    assert chip1[7]["direction"] == "input"


def test_v2_gpioinfo_bias_and_edges():
    lines = by_offset(parsers.parse_gpioinfo(V2_PI5_BIAS_EDGES), "gpiochip0")
    assert (lines[5]["bias"], lines[5]["edge"], lines[5]["consumer"]) == ("pull-up", "both", "lg")
    assert (lines[8]["direction"], lines[8]["bias"], lines[8]["consumer"]) == (
        "output",
        "disabled",
        "inky",
    )
    assert (lines[17]["bias"], lines[17]["edge"]) == ("pull-up", "none")
    assert lines[18]["used"] is False


def test_v2_gpioinfo_unnamed():
    lines = parsers.parse_gpioinfo(V2_UNNAMED)
    assert [(r["offset"], r["name"]) for r in lines] == [(0, None), (8, "GPIO17")]


def test_gpioget_v1_and_v2():
    # v1 prints the values separated by spaces (`gpioget gpiochip0 17 27` -> `1 0`)
    assert parsers.parse_gpioget("1 0\n") == [1, 0]
    # v2 prints "line"=value; from libgpiod's own tests (tools/gpio-tools-test.bash in
    # github.com/brgl/libgpiod: `"foo"=active "bar"=inactive "baz"=inactive`, unquoted with
    # --unquoted: `foo=active bar=inactive baz=inactive`)
    assert parsers.parse_gpioget('"foo"=active "bar"=inactive "baz"=inactive\n') == [1, 0, 0]
    assert parsers.parse_gpioget("foo=active bar=inactive baz=inactive\n") == [1, 0, 0]
    # v2 --numeric
    assert parsers.parse_gpioget("1\n") == [1]


def test_tools_version():
    # `gpioinfo --version` of libgpiod 2.1 (from the public corpus sample above: "gpioinfo
    # (libgpiod) v2.1") and of Debian 12's gpiod 1.6.3 (run here)
    assert parsers.tools_version("gpioinfo (libgpiod) v2.1\nCopyright (C) 2017-2023") == (2, 1)
    assert parsers.tools_version("gpioinfo (libgpiod) v1.6.3\n") == (1, 6)


def test_tools_version_of_the_installed_tools():
    import shutil
    import subprocess

    if not shutil.which("gpioinfo"):
        pytest.skip("Debian's gpiod tools are not installed (bin/test installs them)")
    out = subprocess.run(["gpioinfo", "--version"], capture_output=True, text=True)
    assert parsers.tools_version(out.stdout + out.stderr)[0] in (1, 2)


def test_sysfs_files_and_global_numbers():
    # The sysfs ABI (Documentation/ABI/obsolete/sysfs-gpio in the kernel): gpiochipN/{base,
    # label,ngpio}, gpioN/{direction,value,active_low,edge}. Values as a Pi 5 on kernel 6.6
    # shows them (the main chip's base moved to 512 and above, so GPIO17 is not sysfs 17).
    chips = {
        "gpiochip571": parsers.parse_sysfs_chip(
            {"base": "571\n", "ngpio": "54\n", "label": "pinctrl-rp1\n"}
        ),
        "gpiochip512": parsers.parse_sysfs_chip(
            {"base": "512\n", "ngpio": "32\n", "label": "gpio-brcmstb@107d508500\n"}
        ),
    }
    assert chips["gpiochip571"] == {"base": 571, "ngpio": 54, "label": "pinctrl-rp1"}
    assert parsers.sysfs_number(chips, "pinctrl-rp1", 17) == 588
    assert parsers.sysfs_number(chips, "gpiochip512", 3) == 515
    line = parsers.parse_sysfs_line(
        {"direction": "out\n", "value": "1\n", "active_low": "0\n", "edge": "none\n"}
    )
    assert line == {"direction": "output", "value": 1, "active_low": False, "edge": "none"}
    line = parsers.parse_sysfs_line(
        {"direction": "in\n", "value": "0\n", "active_low": "1\n", "edge": "both\n"}
    )
    assert line == {"direction": "input", "value": 0, "active_low": True, "edge": "both"}


def test_sysfs_backend_uses_base_plus_offset(tmp_path, monkeypatch):
    """The sysfs backend on a tree laid out like a Pi's /sys/class/gpio on kernel 6.6 (chip base
    512): gpiochip0:17 is gpio529. The kernel creates gpioN on export; here it already exists."""
    root = tmp_path / "sys-class-gpio"
    chip = root / "gpiochip512"
    chip.mkdir(parents=True)
    (chip / "base").write_text("512\n")
    (chip / "ngpio").write_text("54\n")
    (chip / "label").write_text("pinctrl-bcm2711\n")
    line = root / "gpio529"
    line.mkdir()
    for key, value in (("direction", "in"), ("value", "0"), ("active_low", "0"), ("edge", "none")):
        (line / key).write_text(value + "\n")
    (root / "export").write_text("")
    from wacket.remote.helper import OPS
    from wacket.remote.ops import gpio_devices, gpio_ops

    assert gpio_ops  # imported for the ops it registers

    monkeypatch.setattr(gpio_devices, "GPIO_SYSFS_ROOT", str(root))

    def call(op, **args):
        return OPS[op](dict(args, backend="sysfs", _emit=lambda item: None))

    pin = {"pin": "relay", "chip": "gpiochip0", "offset": 17}
    done = call("gpio.set", pins=[dict(pin, value=1)])
    assert done["lines"][0]["name"] == "gpiochip0:17" and done["holder"] is None
    assert (line / "direction").read_text() == "out"
    assert (line / "value").read_text() == "1"
    assert call("gpio.get", pins=[pin])[0]["value"] == 1
    info = call("gpio.info")
    assert info["backend"] == "sysfs"
    assert info["chips"] == [
        {"chip": "gpiochip0", "label": "pinctrl-bcm2711", "lines": 54, "base": 512}
    ]
    assert info["lines"][17]["sysfs"] == 529 and info["lines"][17]["direction"] == "output"
