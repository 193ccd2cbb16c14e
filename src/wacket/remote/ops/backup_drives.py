# Backup ops: the drives of the target machine (lsblk, blkid, sysfs) for `backup drives`.
import json
import os
import re
import subprocess

from wacket.remote.helper import OpError, op


@op("backup.drives")
def _backup_drives(args):
    """Mounted block-device filesystems with a label or UUID (findmnt, else /proc/mounts+blkid)."""
    out = []
    try:
        res = subprocess.run(
            ["findmnt", "-J", "-b", "-o", "SOURCE,TARGET,FSTYPE,LABEL,UUID,SIZE,AVAIL"],
            capture_output=True,
            timeout=30,
        )
        data = json.loads(res.stdout.decode("utf-8", "surrogateescape") or "{}")
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise OpError(f"findmnt failed: {exc}", "findmnt") from None
    stack = list(data.get("filesystems") or [])
    while stack:
        fs = stack.pop(0)
        stack.extend(fs.get("children") or [])
        source = fs.get("source") or ""
        if not source.startswith("/dev/"):
            continue
        label, uuid = fs.get("label"), fs.get("uuid")
        if not label and not uuid:
            probe = _blkid(source)
            label, uuid = probe.get("LABEL"), probe.get("UUID")
        if not label and not uuid:
            continue
        dev = os.path.basename(os.path.realpath(source.split("[")[0]))
        removable = _sys_flag(dev, "removable")
        out.append(
            {
                "source": source,
                "mountpoint": fs.get("target"),
                "fstype": fs.get("fstype"),
                "label": label,
                "uuid": uuid,
                "size": _int(fs.get("size")),
                "free": _int(fs.get("avail")),
                "removable": removable,
                "loop": dev.startswith("loop"),
            }
        )
    return out


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _blkid(dev):
    try:
        res = subprocess.run(["blkid", "-o", "export", dev], capture_output=True)
    except OSError:
        return {}
    out = {}
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


def _sys_flag(dev, flag):
    base = re.sub(r"p?\d+$", "", dev) if not dev.startswith("loop") else dev
    for name in (dev, base):
        try:
            with open(f"/sys/block/{name}/{flag}") as fh:
                return fh.read().strip() == "1"
        except OSError:
            continue
    return False
