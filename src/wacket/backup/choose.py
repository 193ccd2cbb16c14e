"""Which backup sets a command names: a configured set (its target overridable), a set known only
by its --target, or the ad hoc set of `backup run --source`."""

from __future__ import annotations

from wacket.backup import sets
from wacket.config import Config
from wacket.errors import ConfigError
from wacket.fleet import Fleet


def named_set(config: Config, fleet: Fleet, name: str, target: str | None = None):
    """Set NAME of the config (at `target` if given), or one not in the config at `target`."""
    if name in sets.set_names(config):
        bset = sets.load_set(config, fleet, name)
        if target:
            bset.target = sets.parse_target(fleet, target)
        return bset
    if target:
        sets.check_name(name)
        return sets.BackupSet(name, [], sets.parse_target(fleet, target))
    known = ", ".join(sets.set_names(config)) or "none"
    raise ConfigError(f"no backup set {name!r} in {config.path} (sets: {known}); or give --target")


def sets_to_run(
    config: Config,
    fleet: Fleet,
    names: list[str],
    all_sets: bool,
    adhoc: tuple[list[str], str | None, str | None, list[str]],
) -> list:
    """The sets `backup run` makes snapshots of: NAMES, --all, or the ad hoc set `adhoc`
    (sources, target, name, excludes) when it has sources."""
    sources, target, name, exclude = adhoc
    if sources:
        if not target or not name or names or all_sets:
            raise ConfigError(
                "an ad hoc backup needs --source, --target and --name (and no set names)"
            )
        return [sets.adhoc_set(fleet, name, sources, target, exclude)]
    chosen = sets.set_names(config) if all_sets else list(names)
    if not chosen:
        raise ConfigError("name a backup set, use --all, or --source/--target/--name")
    return [named_set(config, fleet, n, target) for n in chosen]
