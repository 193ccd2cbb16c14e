"""Named sync profiles: `[sync.NAME]` sections of the config, run with `wacket sync NAME` or `--all`.

[sync.docs]
a = "local:~/Documents"
b = "nas:/srv/docs"
mode = "two-way"            # or "one-way" (a -> b)
exclude = ["*.tmp", ".cache/"]
"""

from __future__ import annotations

from typing import Any

from wacket.config import Config
from wacket.errors import ConfigError
from wacket.sync.job import CONFLICT_POLICIES, MODES, Job

_KEYS = {
    "a": str, "b": str, "mode": str, "exclude": list, "exclude_from": str, "delete": bool,
    "checksum": bool, "bwlimit": (str, int), "partial": bool, "compress": bool,
    "max_delete": int, "conflict": str, "trash_days": (int, float),
}  # fmt: skip


def clean(overrides: dict[str, Any]) -> dict[str, Any]:
    """Command-line options that were given (flags that are off and unset values are dropped)."""
    # `is`, not `in`: 0 (--max-delete 0) is a value given, though 0 == False
    return {k: v for k, v in overrides.items() if v is not None and v is not False and v != []}


def _job(config: Config, name: str, entry: Any) -> Job:
    if not isinstance(entry, dict):
        raise config.error(f"[sync.{name}] must be a table", "sync", name)
    for key, value in entry.items():
        kind = _KEYS.get(key)
        if kind is None:
            raise config.error(
                f"[sync.{name}]: unknown key {key!r} (known: {', '.join(sorted(_KEYS))})",
                "sync",
                name,
            )
        if not isinstance(value, kind) or (kind in (int, (int, float)) and isinstance(value, bool)):
            raise config.error(
                f"[sync.{name}] {key} has the wrong type ({type(value).__name__})", "sync", name
            )
    for key in ("a", "b"):
        if not entry.get(key):
            raise config.error(
                f'[sync.{name}] needs {key} = "HOST:PATH" (or a local path)', "sync", name
            )
    mode = entry.get("mode", "one-way")
    if mode not in MODES:
        raise config.error(f"[sync.{name}] mode must be one of {', '.join(MODES)}", "sync", name)
    conflict = entry.get("conflict", "keep-both")
    if conflict not in CONFLICT_POLICIES:
        raise config.error(
            f"[sync.{name}] conflict must be one of {', '.join(CONFLICT_POLICIES)}", "sync", name
        )
    excludes = entry.get("exclude", [])
    if not all(isinstance(p, str) for p in excludes):
        raise config.error(f"[sync.{name}] exclude must be a list of strings", "sync", name)
    return Job(
        entry["a"], entry["b"], mode=mode, name=name, excludes=list(excludes),
        exclude_from=entry.get("exclude_from"), delete=entry.get("delete", False),
        checksum=entry.get("checksum", False),
        bwlimit=str(entry["bwlimit"]) if "bwlimit" in entry else None,
        partial=entry.get("partial", False), compress=entry.get("compress", False),
        max_delete=entry.get("max_delete"), conflict=conflict,
        trash_days=float(entry.get("trash_days", 30)),
    )  # fmt: skip


def _override(job: Job, overrides: dict[str, Any]) -> Job:
    for key, value in clean(overrides).items():
        if key == "excludes":
            job.excludes = job.excludes + list(value)
        else:
            setattr(job, key, value)
    return job


def names(config: Config) -> list[str]:
    return list(config.section("sync"))


def load(config: Config, name: str, overrides: dict[str, Any] | None = None) -> Job:
    section = config.section("sync")
    if name not in section:
        known = ", ".join(section) or "none"
        raise ConfigError(
            f"no sync profile {name!r} in {config.path} (profiles: {known}); "
            "to sync two paths give SRC and DEST"
        )
    return _override(_job(config, name, section[name]), overrides or {})


def load_all(config: Config, overrides: dict[str, Any] | None = None) -> list[Job]:
    return [load(config, name, overrides) for name in names(config)]
