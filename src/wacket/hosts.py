"""What each machine is and offers: `hosts status` facts and `hosts services` listeners."""

from __future__ import annotations

from wacket.errors import UnreachableError
from wacket.fleet import Host
from wacket.transport.fanout import fan_out_ordered
from wacket.transport.pool import Pool
from wacket.transport.result import HostResult

# Tools wacket uses on remote hosts; `hosts status` shows which are present.
TOOLS = [
    "rsync",
    "python3",
    "sqlite3",
    "gpioget",
    "gpioinfo",
    "gpioset",
    "xclip",
    "xsel",
    "wl-copy",
    "pbcopy",
    "notify-send",
    "systemctl",
    "findmnt",
    "lsblk",
    "pdftotext",
]

# One POSIX shell round trip: works even where python3 is missing.
STATUS_SCRIPT = r"""
set -- $(uname -s -r -m)
echo "os=$1"; echo "kernel=$2"; echo "arch=$3"
if [ -r /etc/os-release ]; then (. /etc/os-release; echo "distro=$PRETTY_NAME")
elif command -v sw_vers >/dev/null 2>&1; then echo "distro=macOS $(sw_vers -productVersion)"; fi
if [ -r /proc/uptime ]; then read up rest < /proc/uptime; echo "uptime=${up%.*}"
else b=$(sysctl -n kern.boottime 2>/dev/null | sed 's/.*sec = \([0-9]*\).*/\1/');
  [ -n "$b" ] && echo "uptime=$(( $(date +%s) - b ))"; fi
if [ -r /proc/loadavg ]; then read a b c rest < /proc/loadavg; echo "load=$a $b $c"
else echo "load=$(sysctl -n vm.loadavg 2>/dev/null | tr -d '{}' | awk '{print $1, $2, $3}')"; fi
if [ -r /proc/meminfo ]; then
  while read k v rest; do case $k in MemTotal:) t=$v;; MemAvailable:) m=$v;; esac; done < /proc/meminfo
  [ -n "$t" ] && echo "mem_total=$((t * 1024))"; [ -n "$m" ] && echo "mem_avail=$((m * 1024))"
fi
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null)"
df -Pk / "$HOME" 2>/dev/null | awk 'NR==2{printf "root_free=%.0f\nroot_size=%.0f\n", $4*1024, $2*1024}
  NR==3{printf "home_free=%.0f\nhome_size=%.0f\n", $4*1024, $2*1024}'
p=$(python3 -V 2>&1) && echo "python=${p#Python }"
printf 'tools='
for t in TOOLS; do command -v "$t" >/dev/null 2>&1 && printf '%s,' "$t"; done
echo
""".replace("TOOLS", " ".join(TOOLS))

STATUS_COLUMNS = [
    "host", "state", "os", "kernel", "uptime", "load", "memory", "root_free", "home_free",
    "python", "tools",
]  # fmt: skip


def parse_status(text: str) -> dict:
    facts: dict = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts[key.strip()] = value.strip()
    for key in ("uptime", "mem_total", "mem_avail", "root_free", "root_size", "home_free",
                "home_size", "cpus"):  # fmt: skip
        if facts.get(key, "").isdigit():
            facts[key] = int(facts[key])
        else:
            facts.pop(key, None)
    facts["tools"] = [t for t in facts.get("tools", "").split(",") if t]
    return facts


def status_of(pool: Pool, host: Host, timeout: float = 30) -> dict:
    session = pool.session(host)
    result = session.run(STATUS_SCRIPT, timeout=timeout)
    if result.timed_out:
        raise UnreachableError(host.name, "timeout", "status script did not finish")
    return parse_status(result.stdout.decode("utf-8", "replace"))


def status(pool: Pool, hosts: list[Host], forks: int = 32) -> list[dict]:
    """One record per host, reachable or not (and why)."""
    return [
        status_record(r, hosts) for r in fan_out_ordered(hosts, lambda h: status_of(pool, h), forks)
    ]


def status_record(result: HostResult, hosts: list[Host]) -> dict:
    from wacket.output import human_bytes
    from wacket.timeparse import age

    rec: dict = {"host": result.host}
    if not result.ok:
        err = result.error
        reason = err.reason if isinstance(err, UnreachableError) else "error"
        rec.update(state="down", reason=reason, error=result.why)
        return rec
    f = result.value
    rec.update(
        state="up",
        os=f.get("distro") or f.get("os", ""),
        kernel=f.get("kernel", ""),
        arch=f.get("arch", ""),
        uptime=age(f["uptime"]) if "uptime" in f else "",
        uptime_seconds=f.get("uptime"),
        load=f.get("load", ""),
        cpus=f.get("cpus"),
        memory=(
            f"{human_bytes(f['mem_total'] - f['mem_avail'])}/{human_bytes(f['mem_total'])}"
            if "mem_total" in f and "mem_avail" in f
            else ""
        ),
        mem_total=f.get("mem_total"),
        mem_available=f.get("mem_avail"),
        root_free=human_bytes(f.get("root_free")),
        root_free_bytes=f.get("root_free"),
        home_free=human_bytes(f.get("home_free")),
        home_free_bytes=f.get("home_free"),
        python=f.get("python", ""),
        tools=f["tools"],
        seconds=round(result.seconds, 3),
    )
    return rec


def services(pool: Pool, hosts: list[Host], forks: int = 32) -> list[HostResult]:
    return fan_out_ordered(hosts, lambda h: pool.session(h).helper().call("services"), forks)
