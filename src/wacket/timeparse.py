"""Durations and sizes as people type them: `7d`, `90m`, `1y`; `10M`, `1.5G`."""

from __future__ import annotations

import time

from wacket.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_SIZES = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `7d`, `4w`, `1y`, or combinations like `1d12h`, in seconds."""
    import re  # here: a query without filters never needs it (start-up time)

    text = text.strip().lower()
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdwy])", text)
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smhdwy])", "", text).strip():
        raise ConfigError(f"bad duration {text!r}: use e.g. 30s, 15m, 2h, 7d, 4w, 1y")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def since(text: str) -> float:
    """An epoch time from a duration ago (`1d`) or an ISO date/time (`2026-11-01`)."""
    try:
        return time.time() - duration(text)
    except ConfigError:
        pass
    from datetime import UTC, datetime  # here: most commands never need datetime

    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"bad time {text!r}: use a duration (1d, 2h) or a date (2026-11-01)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.astimezone()
    return dt.astimezone(UTC).timestamp()


def size(text: str) -> int:
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*", text.lower())
    if not m:
        raise ConfigError(f"bad size {text!r}: use e.g. 512K, 10M, 1.5G")
    return int(float(m.group(1)) * _SIZES[m.group(2)])


_OFFSETS: dict[int, str] = {}


def iso(ts: float | None) -> str:
    """Local time to the second with its UTC offset (2026-11-28T04:13:25+01:00); "" for None.
    Built from time.localtime: a query prints it for every hit, and datetime costs 3x more."""
    if ts is None:
        return ""
    try:
        lt = time.localtime(ts)
    except (OverflowError, OSError, ValueError):
        lt = None
    if lt is not None and lt.tm_gmtoff % 60 == 0:  # else an old local mean time: datetime's form
        off = _OFFSETS.get(lt.tm_gmtoff)
        if off is None:
            m = lt.tm_gmtoff // 60
            off = _OFFSETS[lt.tm_gmtoff] = (
                f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
            )
        return time.strftime("%Y-%m-%dT%H:%M:%S", lt) + off
    from datetime import datetime

    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def age(seconds: float) -> str:
    seconds = int(seconds)
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds // span}{unit}"
    return f"{seconds}s"
