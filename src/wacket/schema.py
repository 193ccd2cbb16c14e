"""Every config table's known keys and value types, in one place, checked when the file is loaded.

A misspelt table or key, or a value of the wrong type, would otherwise be ignored (and the
default used without a word); each is an error naming the file, the line and the nearest valid
name. The modules that read a section still check what types cannot say (ranges, choices).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A value type: `types` it may have, and what to call it in a message."""

    name: str
    types: tuple[type, ...]
    items: type | None = None  # a list's element type
    refused: str = ""  # a key that is never allowed, and why

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) and bool not in self.types:
            return False
        if isinstance(value, list) and list in self.types and self.items is not None:
            return all(isinstance(v, self.items) for v in value)
        return isinstance(value, self.types)


STR = Kind("a string", (str,))
INT = Kind("a whole number", (int,))
NUM = Kind("a number", (int, float))
BOOL = Kind("true or false", (bool,))
STRS = Kind("a list of strings", (list,), str)
STR_OR_STRS = Kind("a string or a list of strings", (str, list), str)
SIZE = Kind("a size such as 4096 or 1M", (int, str))
PIN_VALUE = Kind("0/1 or on/off", (int, bool, str))
ANY = "*"  # a table's key that names something (a host, a profile): any name, one schema

_HOST = {
    "address": STR, "user": STR, "port": INT, "identity": STR_OR_STRS, "tags": STRS,
    "accept_new": BOOL, "proxy_jump": STR, "python": STR,
}  # fmt: skip
_SYNC = {
    "a": STR, "b": STR, "mode": STR, "exclude": STRS, "exclude_from": STR, "delete": BOOL,
    "checksum": BOOL, "bwlimit": Kind("a rate such as 5M", (str, int)), "partial": BOOL,
    "compress": BOOL, "max_delete": INT, "conflict": STR, "trash_days": NUM,
}  # fmt: skip
_KEEP = {k: INT for k in ("last", "hourly", "daily", "weekly", "monthly", "yearly")}
_BACKUP = {
    "sources": STR_OR_STRS, "target": STR, "exclude": STR_OR_STRS, "keep": _KEEP,
    "keep_within": STR, "one_file_system": BOOL,
}  # fmt: skip
_NO_PASSWORD = Kind("", (), refused="keep the password in the keyring or use password_command")
_MAIL = {
    "host": STR, "port": INT, "user": STR, "tls": STR, "folders": STR_OR_STRS,
    "exclude": STR_OR_STRS, "password_command": STR, "ca_file": STR, "timeout": NUM,
    "password": _NO_PASSWORD, "pass": _NO_PASSWORD, "secret": _NO_PASSWORD,
}  # fmt: skip
_FIND = {
    "roots": STR_OR_STRS, "exclude": STR_OR_STRS, "default_excludes": BOOL, "hash_min": SIZE,
    "content": BOOL,
}  # fmt: skip
_DISPLAY = {
    "display": STR, "wayland_display": STR, "xauthority": STR, "runtime_dir": STR, "dbus": STR,
}  # fmt: skip
_CLIP = {
    "hub": STR, "keep": INT, "max_size": SIZE, "store": STR, "name": STR, "ttl": NUM,
    "interval": NUM, **_DISPLAY,
    "hosts": {ANY: {**_DISPLAY, "backend": STR, "primary": BOOL}},
}  # fmt: skip
_PIN = {
    "line": STR, "chip": STR, "offset": INT, "direction": STR, "active_low": BOOL, "bias": STR,
    "drive": STR, "default": PIN_VALUE,
}  # fmt: skip

SCHEMA: dict = {
    "hosts": {ANY: _HOST},
    "sync": {ANY: _SYNC},
    "backup": {ANY: _BACKUP},
    "mail": {ANY: _MAIL},
    "find": {**_FIND, "hosts": {ANY: _FIND}},
    "clip": _CLIP,
    "gpio": {ANY: {"backend": STR, ANY: _PIN}},
}


@dataclass
class Problem:
    """What is wrong, and the key path (table names, then the key) it is at."""

    message: str
    keys: tuple[str, ...]


def check(data: dict) -> Problem | None:
    """The first problem of `data` (a parsed config) against SCHEMA, or None."""
    return _table(data, SCHEMA, ())


def _table(data: dict, schema: dict, at: tuple[str, ...]) -> Problem | None:
    for key, value in data.items():
        here = (*at, key)
        spec = schema.get(key, schema.get(ANY))
        if spec is None:
            return _unknown(value, schema, here)
        if isinstance(spec, dict):
            if not isinstance(value, dict):
                return Problem(f"{_where(at)} {key} must be a table, not {_name(value)}", here)
            problem = _table(value, spec, here)
        elif spec.refused:
            problem = Problem(f"{_where(at)} {key} is not allowed: {spec.refused}", here)
        elif not spec.accepts(value):
            problem = Problem(f"{_where(at)} {key} must be {spec.name}, not {_name(value)}", here)
        else:
            problem = None
        if problem:
            return problem
    return None


def _unknown(value: object, schema: dict, here: tuple[str, ...]) -> Problem:
    known = [k for k in schema if k != ANY]
    near = difflib.get_close_matches(here[-1], known, n=1, cutoff=0.6)
    if len(here) == 1:
        # `[hostz.box]` is a table of tables: name the table the user wrote, and it fixed
        tables = (
            [k for k, v in value.items() if isinstance(v, dict)] if isinstance(value, dict) else []
        )
        path = here + tuple(tables[:1])
        fixed = ".".join((near[0], *path[1:])) if near else ""
        hint = f"did you mean [{fixed}]?" if near else f"known: {', '.join(known)}"
        return Problem(f"unknown table [{'.'.join(path)}] ({hint})", path)
    hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(sorted(known))}"
    return Problem(f"{_where(here[:-1])} unknown key {here[-1]!r} ({hint})", here)


def _where(at: tuple[str, ...]) -> str:
    return f"[{'.'.join(at)}]"


def _name(value: object) -> str:
    for kind in (BOOL, STR, INT, NUM):
        if kind.accepts(value):
            return kind.name if kind is not BOOL else "true/false"
    return {list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
