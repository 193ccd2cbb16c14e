"""The clip commands' runs that change something, each under its journal entry: copy (and place
on other machines), paste onto the system clipboard, rm, clear and share."""

from __future__ import annotations

from wacket.clip.context import Ctx, hub_call
from wacket.errors import Exit


def copy(c: Ctx, ring, items, targets, secret, ttl, primary, warn):
    """The items added to the ring, the last placed on `targets` (each failure's text to
    `warn`): (added entries, hosts placed on, exit code)."""
    from wacket import jobrun
    from wacket.clip import copying
    from wacket.transport.result import Policy

    code = Exit.OK
    with jobrun.run("clip copy", [ring.hub, *[h.name for h in targets]]) as j:
        added = copying.add_all(ring, items, secret, ttl)
        placed = []
        if targets:
            results = copying.place_on(c, targets, *added[-1], primary)
            for res in results.failed:
                warn(f"wacket: {res.error}")
            placed = [r.host for r in results.succeeded]
            code = results.exit_code(Policy.ALL_DOWN)
        j.summary = copying.summary(added, ring.hub, placed)
        j.finish(code)
    return added, placed, code


def paste_to_system(c: Ctx, entry: dict, data: bytes, primary: bool) -> str:
    """Put a ring entry on this machine's system clipboard (a secret for the rest of its
    lifetime); the backend that took it."""
    from wacket import jobrun
    from wacket.clip import copying
    from wacket.clip.backends import mime_for

    with jobrun.run("clip paste", ["local"]) as j:
        board = c.board("local", primary)
        secs = copying.secret_left(entry)
        backend = board.set(data, mime_for(entry, data), secs)["backend"]
        j.summary = f"#{entry['id']} {entry['kind']} {len(data)} B onto the clipboard"
    return backend


def remove(ring, n: int) -> dict:
    """Remove entry N from the ring; the entry it was."""
    from wacket import jobrun

    with jobrun.run("clip rm", [ring.hub]) as j:
        entry = hub_call(ring.remove, n)
        j.summary = f"#{entry['id']} {entry['kind']} {entry['size']} B"
    return entry


def clear(ring) -> int:
    """Remove every entry of the ring; how many there were."""
    from wacket import jobrun

    with jobrun.run("clip clear", [ring.hub]) as j:
        count = hub_call(ring.clear)
        j.summary = f"{count} entries removed"
    return count


def share(c: Ctx, chosen, boards, *, output, warn, on_ready, **limits) -> Exit:
    """`clip.share.share` of `boards` (the clipboards of the hosts `chosen`) with `limits`
    (interval, max_transfers, duration); each transfer goes to the `emit` of `output()`, the
    caller's renderer, a host's error to `warn` once until it changes. Partial after errors."""
    from wacket import jobrun
    from wacket.clip.share import share as run_share

    errors: dict[str, str] = {}

    def on_error(host, exc):
        if errors.get(host) != str(exc):
            warn(f"wacket: {exc}")
        errors[host] = str(exc)

    interval = limits.pop("interval") or c.settings.interval
    with jobrun.run("clip share", [h.name for h in chosen]) as j, output() as out:
        try:
            transfers = run_share(boards, interval=interval, on_transfer=out.emit,
                                  on_error=on_error, on_ready=on_ready, **limits)  # fmt: skip
        except KeyboardInterrupt:  # the journal says "interrupted"; exit 130 or 143
            j.summary = f"{out.count} transfers"
            raise
        j.summary = f"{transfers} transfers"
        j.finish(Exit.OK if not errors else Exit.PARTIAL)
    return Exit.OK if not errors else Exit.PARTIAL
