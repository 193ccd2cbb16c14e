"""Parsers of `gpioinfo`/`gpioget` output (libgpiod v1 and v2) and of sysfs files.

They are written once, stdlib-only, in wacket/remote/ops/gpio.py, where the device side uses them;
the client and the tests import that same module, under the names the client uses.
"""

from wacket.remote.ops.gpio import gpio_parse_gpioget as parse_gpioget
from wacket.remote.ops.gpio import gpio_parse_gpioinfo as parse_gpioinfo
from wacket.remote.ops.gpio import gpio_parse_sysfs_chip as parse_sysfs_chip
from wacket.remote.ops.gpio import gpio_parse_sysfs_line as parse_sysfs_line
from wacket.remote.ops.gpio import gpio_sysfs_number as sysfs_number
from wacket.remote.ops.gpio import gpio_tools_version as tools_version

__all__ = [
    "parse_gpioget",
    "parse_gpioinfo",
    "parse_sysfs_chip",
    "parse_sysfs_line",
    "sysfs_number",
    "tools_version",
]
