"""The work of `wacket clip copy` and `paste`: what to copy (stdin, files, a system clipboard),
the entries added to the ring, an entry placed on other machines' clipboards or written out."""

from __future__ import annotations

import os
import sys

from wacket.clip.context import Ctx, hub_call
from wacket.errors import WacketError


def system_item(board) -> dict:
    """A system clipboard's content as an item to copy; refused if it is sensitive or empty."""
    got = board.get()
    if got.get("sensitive"):
        raise WacketError(
            f"{board.host}: the clipboard holds something a password manager marked as "
            "sensitive: it is never stored in the ring (pipe it in with --secret if you must)"
        )
    if not got["size"]:
        raise WacketError(f"{board.host}: the system clipboard is empty: nothing copied")
    return {"data": got["data"], "mime": got.get("mime"), "source": None}


def file_items(files) -> list[dict]:
    """Items from FILEs (`-` is stdin): a file keeps its name and mode."""
    items = []
    for path in files:
        if path == "-":
            data = sys.stdin.buffer.read() if sys.stdin is not None else b""
            if not data:
                raise WacketError("stdin was empty: nothing copied")
            items.append({"data": data})
            continue
        from wacket.fsutil import user_path_error

        try:
            with open(path, "rb") as fh:
                data = fh.read()
                mode = os.fstat(fh.fileno()).st_mode & 0o7777
        except OSError as exc:
            raise user_path_error(path, exc, "read") from None
        items.append({"data": data, "name": os.path.basename(path), "mode": mode})
    return items


def add_all(ring, items: list[dict], secret: bool, ttl) -> list[tuple[dict, bytes]]:
    """Each item added to the ring, as (its entry, its data)."""
    added = []
    for item in items:
        entry = hub_call(
            ring.add,
            item["data"],
            mime=item.get("mime"),
            name=item.get("name"),
            mode=item.get("mode"),
            secret=secret,
            ttl=ttl,
        )
        added.append((entry, item["data"]))
    return added


def summary(added: list[tuple[dict, bytes]], hub: str, placed: list[str]) -> str:
    """The journal's line for a copy."""
    return "; ".join(f"#{e['id']} {e['kind']} {e['size']} B on {hub}" for e, _ in added) + (
        f"; placed on {','.join(placed)}" if placed else ""
    )


def place_on(c: Ctx, targets, entry: dict, data: bytes, primary: bool):
    """The entry put on the system clipboards of `targets`: their HostResults."""
    from wacket.clip.backends import SystemClipboard, mime_for
    from wacket.transport.fanout import fan_out_ordered
    from wacket.transport.result import HostResults

    mime = mime_for(entry, data)
    clear_after = secret_left(entry)

    def put(host):
        board = SystemClipboard(c.place(host.name), c.settings, primary)
        return board.set(data, mime, clear_after)

    return HostResults(fan_out_ordered(targets, put))


def secret_left(entry: dict) -> float | None:
    """Seconds a secret entry has left (a system clipboard holding it is emptied then)."""
    import time

    if not entry.get("secret"):
        return None
    return max(0.5, entry["expires"] - time.time())


def system_entry(board, host: str) -> tuple[dict, bytes]:
    """A system clipboard's content as (an entry, its data) to paste; refused if sensitive."""
    got = board.get()
    if got.get("sensitive"):
        raise WacketError(
            f"{host}: the clipboard holds something a password manager marked as "
            "sensitive: not shown"
        )
    return {"kind": got["kind"], "mime": got.get("mime"), "id": 0}, got["data"]


def write_into(out_dir: str, entry: dict, data: bytes, force: bool) -> str:
    """The entry written as a file in `out_dir` (a copied file gets its own name and mode)."""
    from wacket.clip.ring import safe_name
    from wacket.fsutil import user_path_error, write_output

    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise user_path_error(out_dir, exc, "create") from None
    target = os.path.join(out_dir, safe_name(entry.get("name"), entry))
    if os.path.exists(target) and not force:
        raise WacketError(f"{target} exists (use --force to replace it)")
    mode = entry.get("mode") if entry.get("kind") == "file" and entry.get("mode") else 0o644
    write_output(target, data, mode & 0o777)
    return target


def added_records(added: list[tuple[dict, bytes]], hub: str, placed: list[str]) -> list[dict]:
    """The entries `copy` added, as `clip list` shows them, with the hosts it placed them on."""
    from wacket.clip import kinds

    return [{**kinds.record(entry, hub), "placed_on": placed} for entry, _ in added]


def is_binary(entry: dict, data: bytes) -> bool:
    """An entry not to write to a terminal: binary, image or file data that is not text."""
    from wacket.clip.kinds import is_text

    return entry["kind"] in ("binary", "image", "file") and not is_text(data)
