"""Names for the shell completions: `wacket complete KIND [WORD]` prints one name a line.

The completion scripts (bin/gen-docs) are static; only names that live in the config (backup
sets, sync profiles, mail accounts, GPIO pin names) or on a backup target (snapshots) are asked
for, through this. It runs without click (wacket.cli.entry answers it first) and prints nothing
rather than an error: a TAB never shows a traceback.
"""

from __future__ import annotations

import os
import sys

KINDS = ("set", "profile", "account", "pin", "snapshot")


def _config():
    from wacket import config

    path = os.environ.get("WACKET_CONFIG") or None
    return config.load(path and os.path.expanduser(path))


def _tables(section: dict) -> list[str]:
    return [name for name, value in section.items() if isinstance(value, dict)]


def _pins(config, hostset: str) -> list[str]:
    """Pin names of the [gpio.HOST] tables of the hosts named in `hostset` (all tables when it
    names none of them: a tag or `all`)."""
    gpio = config.section("gpio")
    chosen = [w for w in hostset.split(",") if w in gpio] or _tables(gpio)
    return sorted(
        {
            k
            for host in chosen
            if isinstance(gpio.get(host), dict)
            for k in gpio[host]
            if k != "backend"
        }
    )


def _snapshots(config, set_name: str) -> list[str]:
    """The snapshots of backup set `set_name`, from its target (a short connect timeout: the
    user is waiting at a TAB), newest first, then `latest`."""
    from wacket.app import App
    from wacket.backup import catalog, sets

    if set_name not in sets.set_names(config):
        return []
    app = App(config.path, True, False)
    try:
        bset = sets.load_set(config, app.fleet, set_name)
        t = catalog.open_target(app.pool(False, 3.0), app.fleet, bset)
        names = [s["snapshot"] for s in catalog.listing(t)["snapshots"]]
    finally:
        app.close()
    return [*sorted(names, reverse=True), "latest"]


def names(kind: str, word: str = "") -> list[str]:
    """The names of `kind`; `word` is the argument they depend on (a pin's host set, a
    snapshot's backup set)."""
    config = _config()
    if kind == "set":
        return _tables(config.section("backup"))
    if kind == "profile":
        return _tables(config.section("sync"))
    if kind == "account":
        return _tables(config.section("mail"))
    if kind == "pin":
        return _pins(config, word)
    if kind == "snapshot":
        return _snapshots(config, word)
    return []


def main(args: list[str]) -> int:
    if not args or args[0] not in KINDS:
        print(f"usage: wacket complete {{{','.join(KINDS)}}} [WORD]", file=sys.stderr)
        return 2
    try:
        found = names(args[0], args[1] if len(args) > 1 else "")
    except Exception:  # a broken config or an unreachable target: no names, no noise
        return 0
    for name in found:
        if "\n" not in name:
            print(name)
    return 0
