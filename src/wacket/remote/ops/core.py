# Core ops: services listening on this machine, and the journal for `wacket log --from`.
import os
import socket
import subprocess

from wacket.remote.helper import data_dir, op

_TCP_STATES = {"0A": "LISTEN"}


def _hex_addr(text, family):
    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    if family == socket.AF_INET:
        ip = socket.inet_ntop(family, raw[::-1])
    else:
        words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
        ip = socket.inet_ntop(family, b"".join(words))
    return ip, int(port, 16)


def _socket_owners():
    """Map socket inode -> (pid, process name), for the processes we are allowed to look at."""
    owners = {}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return owners
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        name = None
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                if name is None:
                    try:
                        with open(f"/proc/{pid}/comm") as fh:
                            name = fh.read().strip()
                    except OSError:
                        name = "?"
                owners[target[8:-1]] = (int(pid), name)
    return owners


@op("services")
def _services(args):
    listening = []
    owners = _socket_owners()
    tables = [
        ("tcp", "/proc/net/tcp", socket.AF_INET),
        ("tcp6", "/proc/net/tcp6", socket.AF_INET6),
        ("udp", "/proc/net/udp", socket.AF_INET),
        ("udp6", "/proc/net/udp6", socket.AF_INET6),
    ]
    have_proc = False
    for proto, path, family in tables:
        try:
            with open(path) as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        have_proc = True
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            state = fields[3]
            if proto.startswith("tcp") and state != "0A":
                continue
            if proto.startswith("udp") and state != "07":
                continue
            ip, port = _hex_addr(fields[1], family)
            _, remote_port = _hex_addr(fields[2], family)
            if proto.startswith("udp") and remote_port != 0:
                continue
            pid, name = owners.get(fields[9], (None, ""))
            listening.append(
                {
                    "proto": proto[:3],
                    "address": ip,
                    "port": port,
                    "pid": pid,
                    "process": name,
                }
            )
    if not have_proc:
        listening = _services_lsof()
    units = []
    try:
        out = subprocess.run(
            [
                "systemctl",
                "list-units",
                "--type=service",
                "--state=running",
                "--no-legend",
                "--plain",
                "--no-pager",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=10,
        ).stdout.decode("utf-8", "replace")
        for line in out.splitlines():
            parts = line.split(None, 4)
            if len(parts) >= 4 and parts[0].endswith(".service"):
                units.append({"unit": parts[0], "description": parts[4] if len(parts) > 4 else ""})
    except (OSError, subprocess.SubprocessError):
        units = None
    seen = set()
    unique = []
    for rec in sorted(listening, key=lambda r: (r["proto"], r["port"], r["address"])):
        key = (rec["proto"], rec["address"], rec["port"])
        if key not in seen:
            seen.add(key)
            unique.append(rec)
    return {"listening": unique, "systemd": units}


def _services_lsof():
    """macOS and BSDs have no /proc: ask lsof for listening sockets."""
    out = []
    try:
        text = subprocess.run(
            ["lsof", "-nP", "-iTCP", "-sTCP:LISTEN", "-iUDP", "-F", "pcPnt"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=20,
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return out
    pid, name, proto = None, "", "tcp"
    for line in text.splitlines():
        tag, value = line[:1], line[1:]
        if tag == "p":
            pid = int(value)
        elif tag == "c":
            name = value
        elif tag == "P":
            proto = value.lower()
        elif tag == "n" and ":" in value:
            addr, _, port = value.rpartition(":")
            if port.isdigit():
                out.append(
                    {
                        "proto": proto,
                        "address": addr.strip("[]"),
                        "port": int(port),
                        "pid": pid,
                        "process": name,
                    }
                )
    return out


@op("journal.read")
def _journal_read(args):
    """Stream this machine's journal records newer than `since` (epoch seconds)."""
    import sqlite3

    path = os.path.join(data_dir(), "journal.sqlite")
    if not os.path.exists(path):
        return {"count": 0, "path": path}
    uri = "file:{}?mode=ro".format(path.replace("%", "%25").replace("?", "%3f").replace("#", "%23"))
    conn = sqlite3.connect(uri, uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    count = 0
    try:
        cursor = conn.execute(
            "SELECT * FROM entries WHERE started >= ? ORDER BY started", (args.get("since", 0),)
        )
        for row in cursor:
            # Non-UTF-8 text is stored as a BLOB of its bytes (wacket.journal): sent as str.
            args["_emit"](
                {
                    k: v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v
                    for k, v in dict(row).items()
                }
            )
            count += 1
    finally:
        conn.close()
    return {"count": count, "path": path}
