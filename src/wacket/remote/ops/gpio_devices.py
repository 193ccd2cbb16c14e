# GPIO ops, part 2 of 4 (after gpio.py, which has the constants and parsers): the character
# device backends: libgpiod bindings v2/v1, the command-line tools v1/v2, sysfs, gpio-manager.
# ---------------------------------------------------------------------------------------------
# the character device: libgpiod bindings v2 / v1, command-line tools v1 / v2
import errno
import glob
import json
import os
import re
import shutil
import subprocess
import time

from wacket.remote.atomic import write_atomic
from wacket.remote.helper import OpError, site_import
from wacket.remote.ops.gpio import (
    GPIO_CONSUMER,
    _gpio_dir,
    _gpio_norm_bias,
    _GpioSim,
    gpio_parse_gpioget,
    gpio_parse_gpioinfo,
    gpio_parse_sysfs_chip,
    gpio_parse_sysfs_line,
    gpio_tools_version,
)

GPIO_SYSFS_ROOT = "/sys/class/gpio"


def _gpio_chardevs():
    return sorted(glob.glob("/dev/gpiochip*"), key=lambda p: int(re.sub(r"\D", "", p) or 0))


def _gpio_by_chip(lines):
    """Lines (or pin specs) grouped by their chip, in first-seen order: one request per chip."""
    by_chip = {}
    for line in lines:
        by_chip.setdefault(line["chip"], []).append(line)
    return by_chip


def _gpio_run(argv, timeout=10):
    proc = subprocess.run(argv, capture_output=True, timeout=timeout)
    return (
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def _gpio_busy_error(name, text):
    m = re.search(r'consumer="([^"]*)"', text)
    return OpError(
        "{} is in use by {!r}".format(name, m.group(1) if m else "another process"), "busy"
    )


class _GpioTools:
    """libgpiod's command-line tools; v1 and v2 take different arguments."""

    name = "tools"
    holds_itself = False

    def __init__(self):
        rc, out, err = _gpio_run(["gpioinfo", "--version"])
        self.version = gpio_tools_version(out + err) or (1, 0)
        self.v2 = self.version[0] >= 2

    def describe(self):
        return {
            "backend": "tools",
            "detail": f"gpioinfo/gpioget/gpioset libgpiod v{self.version[0]}.{self.version[1]}",
        }

    def chips(self):
        seen = {}
        for line in self.lines():
            seen.setdefault(line["chip"], 0)
            seen[line["chip"]] += 1
        return [{"chip": c, "label": None, "lines": n} for c, n in seen.items()]

    def lines(self):
        rc, out, err = _gpio_run(["gpioinfo"])
        if rc != 0 and not out:
            raise OpError(f"gpioinfo failed: {err.strip()}", "error")
        recs = gpio_parse_gpioinfo(out)
        for rec in recs:
            rec["value"] = None
        return recs

    def get(self, lines):
        values = []
        for spec in lines:
            if self.v2:
                argv = ["gpioget", "--numeric", "--as-is", "-c", spec["chip"]]
                if spec.get("active_low"):
                    argv.append("--active-low")
                if _gpio_norm_bias(spec.get("bias")):
                    argv += ["--bias", spec["bias"]]
                argv.append(str(spec["offset"]))
            else:
                argv = ["gpioget"]
                if spec.get("active_low"):
                    argv.append("--active-low")
                bias = _gpio_norm_bias(spec.get("bias"))
                if bias:  # v1 spells it `disable`
                    argv += ["--bias=" + ("disable" if bias == "disabled" else bias)]
                argv += [spec["chip"], str(spec["offset"])]
            rc, out, err = _gpio_run(argv)
            if rc != 0:
                if "busy" in err.lower():
                    raise _gpio_busy_error(spec["name"], err)
                raise OpError(f"gpioget: {err.strip()}", "error")
            values.append(gpio_parse_gpioget(out)[0])
        return values

    def read_free(self, lines):
        """Fill in the values of unused lines (v2 only: v1's gpioget would make them inputs)."""
        if not self.v2:
            return
        for chip, group in _gpio_by_chip(lines).items():
            argv = ["gpioget", "--numeric", "--as-is", "-c", chip]
            rc, out, err = _gpio_run(argv + [str(line["offset"]) for line in group])
            if rc != 0:
                continue
            for line, value in zip(group, gpio_parse_gpioget(out)):  # noqa: B905 - Python 3.7
                line["value"] = value ^ (1 if line["active_low"] else 0)

    def hold(self, spec):
        """Start a gpioset that holds the line until it is stopped: returns the process."""
        value = str(spec["value"])
        if self.v2:
            argv = ["gpioset", "-c", spec["chip"], "--consumer", GPIO_CONSUMER]
            if spec.get("active_low"):
                argv.append("--active-low")
            argv.append(f"{spec['offset']:d}={value}")
        else:
            argv = ["gpioset", "--mode=signal"]
            if spec.get("active_low"):
                argv.append("--active-low")
            argv += [spec["chip"], f"{spec['offset']:d}={value}"]
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(0.05)
        if proc.poll() is not None:
            err = proc.stderr.read().decode("utf-8", "replace")
            if "busy" in err.lower():
                raise _gpio_busy_error(spec["name"], err)
            raise OpError(f"gpioset: {err.strip()}", "error")
        return proc

    def unhold(self, handle):
        handle.terminate()
        handle.wait()


class _GpioBindings:
    """libgpiod's Python bindings: v2 (gpiod.request_lines) or v1 (gpiod.Chip(...).get_line)."""

    name = "bindings"
    holds_itself = False

    def __init__(self):
        gpiod = site_import("gpiod")
        self.gpiod = gpiod
        self.v2 = hasattr(gpiod, "request_lines")

    def describe(self):
        version = getattr(self.gpiod, "__version__", "?")
        return {
            "backend": "bindings",
            "detail": f"libgpiod Python bindings {version} (v{2 if self.v2 else 1} API)",
        }

    def chips(self):
        out = []
        for path in _gpio_chardevs():
            if self.v2:
                with self.gpiod.Chip(path) as chip:
                    info = chip.get_info()
                    out.append({"chip": info.name, "label": info.label, "lines": info.num_lines})
            else:
                chip = self.gpiod.Chip(path)
                out.append({"chip": chip.name(), "label": chip.label(), "lines": chip.num_lines()})
                chip.close()
        return out

    def lines(self):
        out = []
        for path in _gpio_chardevs():
            if self.v2:
                with self.gpiod.Chip(path) as chip:
                    cname = chip.get_info().name
                    for i in range(chip.get_info().num_lines):
                        li = chip.get_line_info(i)
                        out.append(
                            {
                                "chip": cname,
                                "offset": i,
                                "name": li.name,
                                "direction": str(li.direction).rsplit(".", 1)[-1].lower(),
                                "active_low": li.active_low,
                                "bias": str(li.bias).rsplit(".", 1)[-1].lower().replace("_", "-"),
                                "drive": str(li.drive).rsplit(".", 1)[-1].lower().replace("_", "-"),
                                "edge": str(li.edge_detection).rsplit(".", 1)[-1].lower(),
                                "used": li.used,
                                "consumer": li.consumer or None,
                                "value": None,
                            }
                        )
            else:
                chip = self.gpiod.Chip(path)
                for line in chip.get_all_lines():
                    out.append(
                        {
                            "chip": chip.name(),
                            "offset": line.offset(),
                            "name": line.name(),
                            "direction": "output"
                            if line.direction() == self.gpiod.Line.DIRECTION_OUTPUT
                            else "input",
                            "active_low": line.active_state() == self.gpiod.Line.ACTIVE_LOW,
                            "bias": "as-is",
                            "drive": "push-pull",
                            "edge": "none",
                            "used": line.is_used(),
                            "consumer": line.consumer(),
                            "value": None,
                        }
                    )
                chip.close()
        return out

    def _path(self, chip):
        return chip if chip.startswith("/") else "/dev/" + chip

    def read_free(self, lines):
        """Fill in the values of unused lines (v2: one as-is request per chip)."""
        if not self.v2:
            return
        from gpiod.line import Direction

        for chip, group in _gpio_by_chip(lines).items():
            settings = self.gpiod.LineSettings(direction=Direction.AS_IS)
            config = {tuple(line["offset"] for line in group): settings}
            with self.gpiod.request_lines(
                self._path(chip), consumer=GPIO_CONSUMER, config=config
            ) as req:
                values = req.get_values([line["offset"] for line in group])
            for line, value in zip(group, values):  # noqa: B905 - Python 3.7
                line["value"] = int(value.value) ^ (1 if line["active_low"] else 0)

    def get(self, lines):
        values = []
        for spec in lines:
            try:
                if self.v2:
                    from gpiod.line import Bias, Direction

                    settings = self.gpiod.LineSettings(
                        direction=Direction.AS_IS, active_low=bool(spec.get("active_low"))
                    )
                    bias = _gpio_norm_bias(spec.get("bias"))
                    if bias:
                        settings.bias = getattr(Bias, bias.upper().replace("-", "_"))
                    with self.gpiod.request_lines(
                        self._path(spec["chip"]),
                        consumer=GPIO_CONSUMER,
                        config={spec["offset"]: settings},
                    ) as req:
                        values.append(int(req.get_value(spec["offset"]).value))
                else:
                    chip = self.gpiod.Chip(self._path(spec["chip"]))
                    line = chip.get_line(spec["offset"])
                    flags = self.gpiod.LINE_REQ_FLAG_ACTIVE_LOW if spec.get("active_low") else 0
                    line.request(
                        consumer=GPIO_CONSUMER, type=self.gpiod.LINE_REQ_DIR_AS_IS, flags=flags
                    )
                    values.append(line.get_value())
                    line.release()
                    chip.close()
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise OpError(
                        "{} is in use by another process".format(spec["name"]), "busy"
                    ) from None
                raise
        return values

    def hold(self, spec):
        try:
            if self.v2:
                from gpiod.line import Direction, Value

                settings = self.gpiod.LineSettings(
                    direction=Direction.OUTPUT,
                    active_low=bool(spec.get("active_low")),
                    output_value=Value.ACTIVE if spec["value"] else Value.INACTIVE,
                )
                req = self.gpiod.request_lines(
                    self._path(spec["chip"]),
                    consumer=GPIO_CONSUMER,
                    config={spec["offset"]: settings},
                )
                return ("v2", req)
            chip = self.gpiod.Chip(self._path(spec["chip"]))
            line = chip.get_line(spec["offset"])
            flags = self.gpiod.LINE_REQ_FLAG_ACTIVE_LOW if spec.get("active_low") else 0
            line.request(
                consumer=GPIO_CONSUMER,
                type=self.gpiod.LINE_REQ_DIR_OUT,
                flags=flags,
                default_val=spec["value"],
            )
            return ("v1", (chip, line))
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise OpError(
                    "{} is in use by another process".format(spec["name"]), "busy"
                ) from None
            raise

    def set_held(self, handle, spec):
        kind, obj = handle
        if kind == "v2":
            from gpiod.line import Value

            obj.set_value(spec["offset"], Value.ACTIVE if spec["value"] else Value.INACTIVE)
        else:
            obj[1].set_value(spec["value"])

    def unhold(self, handle):
        kind, obj = handle
        if kind == "v2":
            obj.release()
        else:
            obj[1].release()
            obj[0].close()


class _GpioSysfs:
    """The legacy sysfs interface: values stay set after the writer exits, so no holder."""

    name = "sysfs"
    holds_itself = True

    def __init__(self):
        self.root = GPIO_SYSFS_ROOT

    def describe(self):
        return {"backend": "sysfs", "detail": f"legacy {self.root}"}

    def _chips(self):
        chips = {}
        for path in glob.glob(os.path.join(self.root, "gpiochip*")):
            files = {}
            for key in ("base", "ngpio", "label"):
                try:
                    with open(os.path.join(path, key)) as fh:
                        files[key] = fh.read()
                except OSError:
                    pass
            if "base" in files and "ngpio" in files:
                chips[os.path.basename(path)] = gpio_parse_sysfs_chip(files)
        return chips

    def chips(self):
        out = []
        for i, (_name, chip) in enumerate(
            sorted(self._chips().items(), key=lambda kv: kv[1]["base"])
        ):
            out.append(
                {
                    "chip": f"gpiochip{i}",
                    "label": chip["label"],
                    "lines": chip["ngpio"],
                    "base": chip["base"],
                }
            )
        return out

    def _line_dir(self, number):
        return os.path.join(self.root, f"gpio{number}")

    def _read_line(self, number):
        files = {}
        for key in ("direction", "value", "active_low", "edge"):
            try:
                with open(os.path.join(self._line_dir(number), key)) as fh:
                    files[key] = fh.read()
            except OSError:
                pass
        return gpio_parse_sysfs_line(files) if files else None

    def lines(self):
        out = []
        for chip in self.chips():
            for i in range(chip["lines"]):
                rec = {
                    "chip": chip["chip"],
                    "offset": i,
                    "name": None,
                    "direction": None,
                    "active_low": False,
                    "bias": "as-is",
                    "drive": "push-pull",
                    "edge": "none",
                    "used": False,
                    "consumer": None,
                    "value": None,
                    "sysfs": chip["base"] + i,
                }
                exported = self._read_line(chip["base"] + i)
                if exported:
                    rec.update(exported)
                    rec["used"] = True
                    rec["consumer"] = "sysfs"
                out.append(rec)
        return out

    def _export(self, number):
        if not os.path.isdir(self._line_dir(number)):
            with open(os.path.join(self.root, "export"), "w") as fh:
                fh.write(str(number))
            for _ in range(100):  # udev may still be fixing permissions
                if os.access(os.path.join(self._line_dir(number), "value"), os.W_OK):
                    break
                time.sleep(0.01)

    def _write(self, number, key, value):
        with open(os.path.join(self._line_dir(number), key), "w") as fh:
            fh.write(value)

    def get(self, lines):
        values = []
        for spec in lines:
            number = spec["sysfs"]
            self._export(number)
            self._write(number, "active_low", "1" if spec.get("active_low") else "0")
            values.append(self._read_line(number)["value"])
        return values

    def set_direct(self, spec):
        number = spec["sysfs"]
        self._export(number)
        self._write(number, "active_low", "1" if spec.get("active_low") else "0")
        self._write(number, "direction", "out")
        self._write(number, "value", str(spec["value"]))

    def release(self, spec):
        try:
            with open(os.path.join(self.root, "unexport"), "w") as fh:
                fh.write(str(spec["sysfs"]))
        except OSError:
            pass


class _GpioManager:
    """libgpiod >= 2.2's gpio-manager (D-Bus), through gpiocli; the daemon holds lines itself.

    Each line wacket sets gets its own request (`gpiocli request --output`), whose name is kept in
    data_dir()/gpio/manager-requests.json so later sets, gets and releases address it.
    """

    name = "manager"
    holds_itself = True

    def __init__(self):
        self.path = os.path.join(_gpio_dir(), "manager-requests.json")

    def describe(self):
        return {"backend": "manager", "detail": "gpio-manager via gpiocli"}

    def _reader(self):
        try:
            return _GpioBindings()
        except ImportError:
            return _GpioTools()

    def chips(self):
        return self._reader().chips()

    def lines(self):
        return self._reader().lines()

    def _requests(self):
        try:
            with open(self.path) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return {}

    def _save(self, reqs):
        write_atomic(self.path, json.dumps(reqs).encode("utf-8"))

    def _key(self, spec):
        return f"{spec['chip']}:{spec['offset']:d}"

    def get(self, lines):
        values = []
        reqs = self._requests()
        for spec in lines:
            req = reqs.get(self._key(spec))
            if req is None:
                values.extend(self._reader().get([spec]))
                continue
            rc, out, err = _gpio_run(["gpiocli", "get", "--numeric", "-r", req["name"]])
            if rc != 0:
                raise OpError(f"gpiocli get: {err.strip()}", "error")
            value = gpio_parse_gpioget(out)[0]
            if bool(req.get("active_low")) != bool(spec.get("active_low")):
                value ^= 1
            values.append(value)
        return values

    def set_direct(self, spec):
        reqs = self._requests()
        key = self._key(spec)
        target = f"{spec['offset']:d}={spec['value']:d}"
        req = reqs.get(key)
        if req is not None and bool(req.get("active_low")) == bool(spec.get("active_low")):
            rc, out, err = _gpio_run(["gpiocli", "set", "-r", req["name"], target])
            if rc == 0:
                return
        if req is not None:
            _gpio_run(["gpiocli", "release", req["name"]])
        argv = ["gpiocli", "request", "-c", spec["chip"], "--consumer", GPIO_CONSUMER, "--output"]
        if spec.get("active_low"):
            argv.append("--active-low")
        rc, out, err = _gpio_run(argv + [target])
        if rc != 0:
            if "busy" in err.lower():
                raise _gpio_busy_error(spec["name"], err)
            raise OpError(f"gpiocli request: {err.strip()}", "error")
        reqs[key] = {"name": out.strip(), "active_low": bool(spec.get("active_low"))}
        self._save(reqs)

    def release(self, spec):
        reqs = self._requests()
        req = reqs.pop(self._key(spec), None)
        if req is not None:
            _gpio_run(["gpiocli", "release", req["name"]])
            self._save(reqs)


def _gpio_manager_running():
    if not shutil.which("gpiocli"):
        return False
    try:
        rc, out, err = _gpio_run(["gpiocli", "detect"], timeout=3)
    except (OSError, subprocess.SubprocessError):
        return False
    return rc == 0


def _gpio_backend(name):
    name = name or "auto"
    if name == "sim":
        return _GpioSim()
    chardev = bool(_gpio_chardevs())
    if name in ("auto", "manager") and chardev and _gpio_manager_running():
        return _GpioManager()
    if name in ("auto", "bindings") and chardev:
        try:
            return _GpioBindings()
        except ImportError:
            if name == "bindings":
                raise OpError(
                    "libgpiod's Python bindings (gpiod) are not installed", "no-gpio"
                ) from None
    if name in ("auto", "tools") and chardev and shutil.which("gpioinfo"):
        return _GpioTools()
    if name in ("auto", "sysfs") and glob.glob(os.path.join(GPIO_SYSFS_ROOT, "gpiochip*")):
        return _GpioSysfs()
    if name not in ("auto", "manager", "bindings", "tools", "sysfs"):
        raise OpError(
            f"unknown GPIO backend {name!r} (auto, sim, manager, bindings, tools, sysfs)", "usage"
        )
    raise OpError(
        "no GPIO on this host (no /dev/gpiochip*, no /sys/class/gpio chips)"
        + ("" if name == "auto" else f" for backend {name!r}"),
        "no-gpio",
    )


def _gpio_resolve(backend, specs, all_lines=None):
    """Each spec {pin, line} or {pin, chip, offset} -> a full spec with chip, offset, name."""
    if all_lines is None:
        all_lines = backend.lines()
    by_name = {}
    for rec in all_lines:
        if rec["name"]:
            by_name.setdefault(rec["name"], rec)
    chips = backend.chips()
    out = []
    for spec in specs:
        spec = dict(spec)
        if spec.get("line") is not None:
            rec = by_name.get(spec["line"])
            if rec is None:
                named = [r["name"] for r in all_lines if r["name"]]
                hint = ", ".join(named[:6]) + (", ..." if len(named) > 6 else "")
                raise OpError(
                    "no line named {!r} here (lines: {})".format(
                        spec["line"], hint or "none named"
                    ),
                    "unknown-line",
                )
        else:
            chip = str(spec.get("chip"))
            match = None
            for i, c in enumerate(chips):
                if chip in (c["chip"], str(i), c.get("label"), "/dev/" + c["chip"]):
                    match = c
                    break
            if match is None:
                raise OpError(
                    "no GPIO chip {!r} here (chips: {})".format(
                        chip, ", ".join(c["chip"] for c in chips)
                    ),
                    "unknown-line",
                )
            offset = int(spec["offset"])
            rec = None
            for r in all_lines:
                if r["chip"] == match["chip"] and r["offset"] == offset:
                    rec = r
                    break
            if rec is None:
                raise OpError(
                    f"{match['chip']} has no line {offset:d} ({match['lines']:d} lines)",
                    "unknown-line",
                )
        spec["chip"] = rec["chip"]
        spec["offset"] = rec["offset"]
        spec["name"] = rec["name"] or f"{rec['chip']}:{rec['offset']:d}"
        spec["current"] = rec
        if "sysfs" in rec:
            spec["sysfs"] = rec["sysfs"]
        out.append(spec)
    return out
