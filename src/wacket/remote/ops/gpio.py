# GPIO ops: chips and lines of this machine through whichever backend works here, a holder process
# that keeps output lines requested after the command returns, and edge watching.
# stdlib only, Python >= 3.7; libgpiod's Python bindings are imported lazily inside functions.
# Every top-level name starts with `gpio`/`_gpio`: all op modules share the helper's namespace.
#
# Backends (chosen automatically, `backend` in the host's [gpio.HOST] table overrides):
#   sim       a simulated chip like a Pi's (gpiochip0 "pinctrl-bcm2835", GPIO0..GPIO27) whose state
#             lives in a JSON file under data_dir()/gpio (flock'ed), so separate processes share it
#   manager   libgpiod >= 2.2's gpio-manager daemon, driven with gpiocli (it holds lines itself)
#   bindings  libgpiod's Python bindings, v2 (gpiod.request_lines) or v1 (gpiod.Chip.get_line)
#   tools     gpioinfo/gpioget/gpioset command-line tools, v1 or v2 syntax
#   sysfs     the legacy /sys/class/gpio interface (global number = chip base + offset)
import errno
import fcntl
import json
import os
import re
import socket
import time

from wacket.remote.atomic import write_atomic
from wacket.remote.helper import OpError, data_dir

GPIO_SIM_CHIP = "gpiochip0"
GPIO_SIM_LABEL = "pinctrl-bcm2835"
GPIO_SIM_LINES = 28
GPIO_CONSUMER = "wacket"
GPIO_WATCH_CONSUMER = "wacket-watch"
GPIO_HEARTBEAT = 5.0

# ---------------------------------------------------------------------------------------------
# parsers (also loaded on the client by wacket/gpio/parsers.py, and tested against real outputs)

_GPIO_V1_CHIP = re.compile(r"^(\S+) - (\d+) lines:\s*$")
_GPIO_V1_LINE = re.compile(
    r"^\s+line\s+(\d+):\s+(unnamed|\"[^\"]*\")\s+(unused|\"[^\"]*\")\s+(input|output)\s+"
    r"(active-high|active-low)(.*)$"
)
_GPIO_V2_LINE = re.compile(r"^\s+line\s+(\d+):\s*(unnamed|\"[^\"]*\")\s*(.*)$")


def gpio_parse_gpioinfo(text):
    """Lines from `gpioinfo` output, libgpiod v1 or v2 syntax (told apart line by line).

    Returns a list of {chip, offset, name, direction, active_low, used, consumer, bias, drive,
    edge, debounce}; name and consumer are None when the tool printed unnamed/unused.
    """
    lines = []
    chip = None
    for raw in text.splitlines():
        m = _GPIO_V1_CHIP.match(raw)
        if m:
            chip = m.group(1)
            continue
        if chip is None:
            continue
        m = _GPIO_V1_LINE.match(raw)
        if m:
            flags = m.group(6).strip()
            bracket = re.search(r"\[([^\]]*)\]", flags)
            extra = bracket.group(1).split() if bracket else []
            consumer = m.group(3)
            rec = {
                "chip": chip,
                "offset": int(m.group(1)),
                "name": None if m.group(2) == "unnamed" else m.group(2)[1:-1],
                "direction": m.group(4),
                "active_low": m.group(5) == "active-low",
                "used": "used" in extra,
                "consumer": None if consumer == "unused" else consumer[1:-1],
                "bias": "as-is",
                "drive": "push-pull",
                "edge": "none",
                "debounce": None,
            }
            for flag in extra:
                if flag in ("open-drain", "open-source"):
                    rec["drive"] = flag
                elif flag in ("pull-up", "pull-down"):
                    rec["bias"] = flag
                elif flag == "bias-disabled":
                    rec["bias"] = "disabled"
            lines.append(rec)
            continue
        m = _GPIO_V2_LINE.match(raw)
        if m:
            rec = {
                "chip": chip,
                "offset": int(m.group(1)),
                "name": None if m.group(2) == "unnamed" else m.group(2)[1:-1],
                "direction": None,
                "active_low": False,
                "used": False,
                "consumer": None,
                "bias": "as-is",
                "drive": "push-pull",
                "edge": "none",
                "debounce": None,
            }
            rest = m.group(3)
            cm = re.search(r'consumer="((?:[^"\\]|\\.)*)"', rest)
            if cm:
                rec["consumer"] = cm.group(1)
                rec["used"] = True
                rest = rest[: cm.start()] + rest[cm.end() :]
            elif re.search(r"(^|\s)consumer=kernel(\s|$)|(^|\s)used(\s|$)", rest):
                rec["used"] = True
            for word in rest.split():
                key, _, value = word.partition("=")
                if word in ("input", "output"):
                    rec["direction"] = word
                elif word == "active-low":
                    rec["active_low"] = True
                elif key == "bias":
                    rec["bias"] = value
                elif key == "drive":
                    rec["drive"] = value
                elif key == "edges":
                    rec["edge"] = value
                elif key == "debounce-period":
                    rec["debounce"] = value
            lines.append(rec)
    return lines


def gpio_parse_gpioget(text, names=None):
    """Values from `gpioget` output: v1 prints `1 0`, v2 `"GPIO17"=active "27"=inactive`.

    Returns a list of ints in the order printed (v2: also as {name: value} when names are printed).
    """
    words = text.split()
    values = []
    for word in words:
        if "=" in word:
            name, _, value = word.rpartition("=")
            value = value.strip().lower()
            if value in ("active", "1", "on", "high", "true"):
                values.append(1)
            elif value in ("inactive", "0", "off", "low", "false"):
                values.append(0)
            else:
                raise ValueError(f"unexpected gpioget value {word!r}")
        elif word in ("0", "1"):
            values.append(int(word))
        elif word in ("active", "inactive"):
            values.append(1 if word == "active" else 0)
        else:
            raise ValueError(f"unexpected gpioget output {word!r}")
    return values


def gpio_tools_version(text):
    """(major, minor) from `gpioinfo --version` (`gpioinfo (libgpiod) v1.6.3` / `... v2.1`)."""
    m = re.search(r"v(\d+)\.(\d+)", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


def gpio_parse_sysfs_chip(files):
    """A chip from the files of /sys/class/gpio/gpiochipN: {base, ngpio, label} (strings in)."""
    return {
        "base": int(files["base"].strip()),
        "ngpio": int(files["ngpio"].strip()),
        "label": files.get("label", "").strip(),
    }


def gpio_parse_sysfs_line(files):
    """One exported line from /sys/class/gpio/gpioN: direction, value, active_low, edge."""
    direction = files.get("direction", "in").strip()
    return {
        "direction": "output" if direction in ("out", "high", "low") else "input",
        "value": int(files["value"].strip()) if "value" in files else None,
        "active_low": files.get("active_low", "0").strip() == "1",
        "edge": files.get("edge", "none").strip(),
    }


def gpio_sysfs_number(chips, chip_label_or_name, offset):
    """The global sysfs number of chip:offset: that chip's base + offset.

    `chips` maps gpiochipN dirs (sysfs names, N = base) to parsed chip files; on Raspberry Pi
    kernels >= 6.6 the base of the main chip is 512 or more, so GPIO17 is not sysfs 17.
    """
    for name, chip in chips.items():
        if chip_label_or_name in (name, chip["label"]) and 0 <= offset < chip["ngpio"]:
            return chip["base"] + offset
    raise KeyError(chip_label_or_name)


# ---------------------------------------------------------------------------------------------
# helpers


def _gpio_dir():
    path = os.path.join(data_dir(), "gpio")
    if not os.path.isdir(path):
        os.makedirs(path, 0o700)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    return path


def _gpio_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _gpio_phys(line):
    """The level on the wire of a sim line."""
    if line["direction"] == "output":
        return line["out"]
    if line.get("ext") is not None:
        return line["ext"]
    return 1 if line.get("bias") == "pull-up" else 0


def _gpio_norm_bias(bias):
    if bias in (None, "", "as-is", "as_is"):
        return None
    bias = str(bias).replace("_", "-")
    if bias not in ("pull-up", "pull-down", "disabled"):
        raise OpError(f"bad bias {bias!r} (pull-up, pull-down, disabled)", "usage")
    return bias


class _GpioLocked:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.fh = open(self.path, "a")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


# ---------------------------------------------------------------------------------------------
# the simulated chip


class _GpioSim:
    name = "sim"
    holds_itself = False

    def __init__(self):
        self.dir = _gpio_dir()
        self.path = os.path.join(self.dir, "sim-chip.json")
        self.lock = os.path.join(self.dir, "sim-chip.lock")

    def describe(self):
        return {"backend": "sim", "detail": f"simulated chip, state in {self.path}"}

    def _fresh(self):
        lines = []
        for i in range(GPIO_SIM_LINES):
            lines.append(
                {
                    "name": f"GPIO{i}",
                    "direction": "input",
                    "active_low": False,
                    "bias": "as-is",
                    "drive": "push-pull",
                    "edge": "none",
                    "consumer": None,
                    "pid": None,
                    "out": 0,
                    "ext": None,
                }
            )
        return {"chip": GPIO_SIM_CHIP, "label": GPIO_SIM_LABEL, "lines": lines, "watchers": {}}

    def _load(self):
        try:
            with open(self.path) as fh:
                state = json.load(fh)
        except (OSError, ValueError):
            state = self._fresh()
        # The kernel frees a request when its process dies: so does the sim.
        for line in state["lines"]:
            if line["consumer"] is not None and not _gpio_alive(line.get("pid")):
                self._free(line)
        for path, entry in list(state["watchers"].items()):
            if not _gpio_alive(entry.get("pid")):
                del state["watchers"][path]
                try:
                    os.unlink(path)
                except OSError:
                    pass
        return state

    def _free(self, line):
        line["consumer"] = None
        line["pid"] = None
        line["edge"] = "none"
        # What a line does after release is undefined; the sim takes it back to an input.
        line["direction"] = "input"
        line["active_low"] = False

    def _save(self, state):
        write_atomic(self.path, json.dumps(state).encode("utf-8"))

    def _notify(self, state, before):
        """Tell the watchers of lines whose level changed (one datagram per change)."""
        now = time.time()
        for path, entry in list(state["watchers"].items()):
            for offset in entry["offsets"]:
                level = _gpio_phys(state["lines"][offset])
                if level == before[offset]:
                    continue
                msg = json.dumps({"offset": offset, "level": level, "ts": now}).encode()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                sock.setblocking(False)  # a stopped watcher must not stall the chip
                try:
                    sock.sendto(msg, path)
                except BlockingIOError:
                    pass
                except OSError as exc:
                    if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                        del state["watchers"][path]
                        break
                finally:
                    sock.close()

    def transact(self, fn):
        with _GpioLocked(self.lock):
            state = self._load()
            before = [_gpio_phys(line) for line in state["lines"]]
            result = fn(state)
            self._notify(state, before)
            self._save(state)
            return result

    def read_state(self):
        with _GpioLocked(self.lock):
            return self._load()

    # -- the backend interface
    def chips(self):
        return [{"chip": GPIO_SIM_CHIP, "label": GPIO_SIM_LABEL, "lines": GPIO_SIM_LINES}]

    def lines(self):
        state = self.read_state()
        out = []
        for i, line in enumerate(state["lines"]):
            level = _gpio_phys(line)
            out.append(
                {
                    "chip": GPIO_SIM_CHIP,
                    "offset": i,
                    "name": line["name"],
                    "direction": line["direction"],
                    "active_low": line["active_low"],
                    "bias": line["bias"],
                    "drive": line["drive"],
                    "edge": line["edge"],
                    "used": line["consumer"] is not None,
                    "consumer": line["consumer"],
                    "value": level ^ (1 if line["active_low"] else 0),
                }
            )
        return out

    def get(self, lines):
        def fn(state):
            values = []
            for spec in lines:
                line = state["lines"][spec["offset"]]
                bias = _gpio_norm_bias(spec.get("bias"))
                if bias and line["consumer"] is None:
                    line["bias"] = bias
                values.append(_gpio_phys(line) ^ (1 if spec.get("active_low") else 0))
            return values

        return self.transact(fn)

    def check_free(self, state, spec, pid):
        line = state["lines"][spec["offset"]]
        if line["consumer"] is not None and line.get("pid") != pid:
            raise OpError("{} is in use by {!r}".format(line["name"], line["consumer"]), "busy")
        return line

    def claim_output(self, specs, pid):
        def fn(state):
            for spec in specs:
                self.check_free(state, spec, pid)
            for spec in specs:
                line = state["lines"][spec["offset"]]
                line["consumer"] = GPIO_CONSUMER
                line["pid"] = pid
                line["direction"] = "output"
                line["edge"] = "none"
                line["active_low"] = bool(spec.get("active_low"))
                line["drive"] = spec.get("drive") or "push-pull"
                bias = _gpio_norm_bias(spec.get("bias"))
                if bias:
                    line["bias"] = bias
                line["out"] = spec["value"] ^ (1 if line["active_low"] else 0)

        self.transact(fn)

    def release(self, offsets, pid):
        def fn(state):
            for offset in offsets:
                line = state["lines"][offset]
                if line.get("pid") == pid:
                    self._free(line)

        self.transact(fn)

    def drive(self, assignments, gap):
        """Set the level on the wire of input lines (what a switch or sensor would do)."""
        for i, (offset, level) in enumerate(assignments):
            if i and gap:
                time.sleep(gap)

            def fn(state, offset=offset, level=level):
                line = state["lines"][offset]
                if line["direction"] == "output":
                    raise OpError(
                        "{} is an output (held by {!r}); drive sets the level of inputs".format(
                            line["name"], line["consumer"]
                        ),
                        "usage",
                    )
                line["ext"] = None if level is None else int(level)

            self.transact(fn)
