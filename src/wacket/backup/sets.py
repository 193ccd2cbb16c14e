"""Backup sets: `[backup.NAME]` tables of the config, or an ad hoc set from the command line."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from wacket.config import Config
from wacket.errors import ConfigError
from wacket.fleet import Fleet, Host

KEEP_KEYS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
SET_KEYS = {"sources", "target", "exclude", "keep", "keep_within", "one_file_system"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class Location:
    """A path on a host of the fleet."""

    host: Host
    path: str

    def __str__(self) -> str:
        return f"{self.host.name}:{self.path}"


@dataclass
class DriveRef:
    """`drive:LABEL:/path` or `drive:UUID:/path`: wherever that filesystem is mounted."""

    ident: str
    path: str

    def __str__(self) -> str:
        return f"drive:{self.ident}:{self.path}"


@dataclass
class BackupSet:
    name: str
    sources: list[Location]
    target: Location | DriveRef
    exclude: list[str] = field(default_factory=list)
    keep: dict[str, int] = field(default_factory=dict)
    keep_within: float | None = None
    one_file_system: bool = False

    def root(self, target_path: str) -> str:
        """The set's directory under the (resolved) target path."""
        return posixpath.join(target_path, self.name)


def parse_location(fleet: Fleet, text: str, what: str = "path") -> Location:
    """`HOST:PATH`, `local:PATH`, or a plain local path (absolute, `~`, or relative)."""
    if not text:
        raise ConfigError(f"empty {what}")
    if text.startswith(("/", "~", ".")) or ":" not in text:
        return Location(fleet.get("local"), _local_path(text))
    host, _, path = text.partition(":")
    if host not in fleet.hosts:
        raise ConfigError(
            f"{what} {text!r}: unknown host {host!r} (known: {', '.join(fleet.names)}); "
            "write a local path as /path or ./path"
        )
    if not path:
        raise ConfigError(f"{what} {text!r}: no path after the host")
    h = fleet.get(host)
    return Location(h, _local_path(path) if h.is_local else path)


def _local_path(path: str) -> str:
    import os

    return os.path.abspath(os.path.expanduser(path))


def parse_target(fleet: Fleet, text: str) -> Location | DriveRef:
    if text.startswith("drive:"):
        rest = text[len("drive:") :]
        ident, sep, path = rest.partition(":")
        if not ident or not sep:
            raise ConfigError(f"target {text!r}: write drive:LABEL:/path or drive:UUID:/path")
        return DriveRef(ident, path or "/")
    return parse_location(fleet, text, "target")


def check_name(name: str) -> str:
    if not _NAME_RE.match(name or "") or name.startswith("."):
        raise ConfigError(f"backup name {name!r}: use letters, digits, . _ - (not starting with .)")
    return name


def load_set(config: Config, fleet: Fleet, name: str) -> BackupSet:
    section = config.section("backup")
    if name not in section or not isinstance(section[name], dict):
        known = ", ".join(k for k, v in section.items() if isinstance(v, dict)) or "none"
        raise ConfigError(f"no backup set {name!r} in {config.path} (sets: {known})")
    check_name(name)
    entry = section[name]
    unknown = set(entry) - SET_KEYS
    if unknown:
        raise config.error(
            f"[backup.{name}]: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(SET_KEYS))})",
            "backup",
            name,
        )
    sources = entry.get("sources")
    if isinstance(sources, str):
        sources = [sources]
    if not sources or not all(isinstance(s, str) for s in sources):
        raise config.error(f"[backup.{name}] sources must be a list of paths", "backup", name)
    target = entry.get("target")
    if not isinstance(target, str) or not target:
        raise config.error(f"[backup.{name}] target must be a string", "backup", name)
    exclude = entry.get("exclude", [])
    if isinstance(exclude, str):
        exclude = [exclude]
    if not all(isinstance(x, str) for x in exclude):
        raise config.error(f"[backup.{name}] exclude must be a list of patterns", "backup", name)
    keep = entry.get("keep", {})
    if not isinstance(keep, dict):
        raise config.error(f"[backup.{name}] keep must be a table", "backup", name)
    for k, v in keep.items():
        if k not in KEEP_KEYS:
            raise config.error(
                f"[backup.{name}] keep: unknown bucket {k!r} (known: {', '.join(KEEP_KEYS)})",
                "backup",
                name,
            )
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise config.error(
                f"[backup.{name}] keep.{k} must be a whole number >= 0", "backup", name
            )
    within = entry.get("keep_within")
    keep_within = None
    if within is not None:
        from wacket.timeparse import duration

        if not isinstance(within, str):
            raise config.error(f'[backup.{name}] keep_within must be like "7d"', "backup", name)
        try:
            keep_within = duration(within)
        except ConfigError as exc:
            raise config.error(f"[backup.{name}] keep_within: {exc}", "backup", name) from None
    try:
        bset = BackupSet(
            name,
            [parse_location(fleet, s, "source") for s in sources],
            parse_target(fleet, target),
            list(exclude),
            dict(keep),
            keep_within,
            bool(entry.get("one_file_system", False)),
        )
    except ConfigError as exc:
        raise config.error(f"[backup.{name}] {exc}", "backup", name) from None
    check_sources(bset)
    return bset


def adhoc_set(
    fleet: Fleet, name: str, sources: list[str], target: str, exclude: list[str]
) -> BackupSet:
    check_name(name)
    bset = BackupSet(
        name,
        [parse_location(fleet, s, "source") for s in sources],
        parse_target(fleet, target),
        list(exclude),
    )
    check_sources(bset)
    return bset


def set_names(config: Config) -> list[str]:
    return [k for k, v in config.section("backup").items() if isinstance(v, dict)]


def check_sources(bset: BackupSet) -> None:
    """Each source lands in the snapshot under its last path component: those must differ, and
    all sources must be on one host."""
    hosts = {s.host.name for s in bset.sources}
    if len(hosts) > 1:
        raise ConfigError(
            f"backup {bset.name}: sources are on several hosts ({', '.join(sorted(hosts))}); "
            "make one set per host"
        )
    seen: dict[str, str] = {}
    for s in bset.sources:
        base = posixpath.basename(s.path.rstrip("/")) or "/"
        if base in (".", "..", "/", "~"):
            raise ConfigError(
                f"backup {bset.name}: source {s} has no directory name to store under"
            )
        if base in seen:
            raise ConfigError(
                f"backup {bset.name}: sources {seen[base]} and {s} would both be stored as {base}/"
            )
        seen[base] = str(s)
