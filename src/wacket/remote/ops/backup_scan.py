# Reading a tree for a backup: its entries through the shared tree.scan walker, and content hashes
# over a few threads (hashlib releases the GIL).
import os

from wacket.remote.helper import lstat_entry
from wacket.remote.ops.tree import _tree_scan
from wacket.remote.ops.tree_hash import file_hash


def _entry_for(full, rel, st=None):
    kind, size, mtime, mode, link = lstat_entry(full, st)
    return [rel, kind, size if kind == "f" else 0, mtime, mode, None, link]


def _scan_entries(top, errors):
    """All entries under `top` via the shared tree.scan walker (no hashing there)."""
    out = []

    def collect(batch):
        for item in batch:
            rel, kind, size, mtime, mode, _digest, link = item
            out.append([rel, kind, size if kind == "f" else 0, mtime, mode, None, link])

    result = _tree_scan({"root": top, "_emit": collect, "hash": False})
    for err in result.get("errors") or []:
        errors.append(err)
    return out


def _hash_entries(top, entries, errors):
    todo = [e for e in entries if e[1] == "f" and e[5] is None]
    digests = _hash_many([os.path.join(top, e[0]) for e in todo], _threads())
    hashed = [0, 0]
    for i, e in enumerate(todo):
        digest = digests[i]
        if isinstance(digest, OSError):
            errors.append([e[0], str(digest)])
            continue
        e[5] = digest
        hashed[0] += 1
        hashed[1] += e[2]
    return hashed


def _threads():
    return max(2, min(4, os.cpu_count() or 2))


def _map_chunked(pool, fn, items, chunk=256):
    """pool.map in chunks: one future per file costs more than hashing a small file."""

    def run(part):
        return [fn(x) for x in part]

    parts = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    out = []
    for res in pool.map(run, parts):
        out.extend(res)
    return out


def _hash_many(paths, threads):
    """sha256 of many files: hashlib releases the GIL, so a few threads keep the disk busy."""
    if threads <= 1 or len(paths) < 64:
        out = []
        for p in paths:
            try:
                out.append(file_hash(p))
            except OSError as exc:
                out.append(OSError(exc.strerror or str(exc)))
        return out
    from concurrent.futures import ThreadPoolExecutor

    def one(p):
        try:
            return file_hash(p)
        except OSError as exc:
            return OSError(exc.strerror or str(exc))

    with ThreadPoolExecutor(threads) as pool:
        return _map_chunked(pool, one, paths)
