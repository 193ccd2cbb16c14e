"""Content questions over the catalogs: duplicates, where a file's copies are, what B lacks."""

from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from wacket.errors import WacketError
from wacket.find.catalog import Catalog


@dataclass
class Group:
    number: int
    hash: str
    size: int
    copies: list[tuple[str, str]] = field(default_factory=list)  # (host, path)

    @property
    def wasted(self) -> int:
        return self.size * (len(self.copies) - 1)


def dupes(catalogs: list[Catalog], min_size: int = 1) -> list[Group]:
    """Groups of two or more files with the same content hash, biggest waste first."""
    counts: Counter = Counter()
    sizes: dict[str, int] = {}
    for cat in catalogs:
        for digest, size, n in cat.conn.execute(
            "SELECT hash, size, count(*) FROM hashes WHERE size >= ? GROUP BY hash", (min_size,)
        ):
            counts[digest] += n
            sizes[digest] = size
    dup = {h for h, n in counts.items() if n > 1}
    copies: dict[str, list] = defaultdict(list)
    for cat in catalogs:
        of_id = {
            i: h
            for i, h in cat.conn.execute("SELECT id, hash FROM hashes WHERE size >= ?", (min_size,))
            if h in dup
        }
        for eid, _root, path, *_rest in cat.entries(sorted(of_id)):
            copies[of_id[eid]].append((cat.host, path))
    groups = [Group(0, h, sizes[h], sorted(c)) for h, c in copies.items() if len(c) > 1]
    groups.sort(key=lambda g: (-g.wasted, g.copies))
    for n, g in enumerate(groups, 1):
        g.number = n
    return groups


@dataclass
class Target:
    """What `where` looks for: a content hash, else a (name, size) pair."""

    hash: str | None
    size: int
    name: str


def _hash_min(catalogs: list[Catalog]) -> int:
    values = [c.meta.get("settings", {}).get("hash_min", 4096) for c in catalogs]
    return min(values) if values else 4096


def describe_target(spec: str, catalogs: list[Catalog], fleet) -> Target:
    host, sep, path = spec.partition(":")
    if sep and host in {c.host for c in catalogs} and not os.path.exists(spec):
        cat = next(c for c in catalogs if c.host == host)
        from wacket.find import query

        q = query.Query(path, literal=True, case_sensitive=True)
        for hit in query.search(q, [cat]):
            if hit.path == path:
                return Target(hit.hash, hit.size, path.rsplit("/", 1)[-1])
        raise WacketError(f"{spec}: not in {host}'s catalog (run `wacket find {path}` to look)")
    local = os.path.expanduser(spec)
    try:
        st = os.stat(local)
    except OSError as exc:
        raise WacketError(f"{spec}: {exc.strerror}") from None
    if not os.path.isfile(local):
        raise WacketError(f"{spec}: not a regular file")
    digest = None
    if st.st_size >= _hash_min(catalogs):
        h = hashlib.sha256()
        with open(local, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
    return Target(digest, st.st_size, os.path.basename(local))


def where(target: Target, catalogs: list[Catalog]) -> Iterator[tuple[str, str, int, str]]:
    """(host, path, size, how) for every catalogued copy; how is "content" or "name+size"."""
    if target.hash is not None:
        for cat in catalogs:
            ids = [
                i
                for (i,) in cat.conn.execute("SELECT id FROM hashes WHERE hash = ?", (target.hash,))
            ]
            for _eid, _root, path, _kind, size, *_rest in cat.entries(sorted(ids)):
                yield cat.host, path, size, "content"
        return
    from wacket.find import query

    q = query.Query(target.name, literal=True, case_sensitive=True, basename=True, types="f")
    for hit in query.search(q, catalogs):
        if hit.size == target.size and hit.path.rsplit("/", 1)[-1] == target.name:
            yield hit.host, hit.path, hit.size, "name+size"


def missing(
    a: Catalog, b: Catalog, min_size: int = 1, under: str | None = None
) -> Iterator[tuple[str, int, int]]:
    """(path, size, mtime_ns) of A's files whose content is nowhere on B."""
    b_hashes = {h for (h,) in b.conn.execute("SELECT hash FROM hashes")}
    b_small = set()
    for _eid, _root, path, kind, size, _mtime, digest, _link in b.entries():
        if kind == "f" and digest is None:
            b_small.add((path.rsplit("/", 1)[-1], size))
    prefix = None
    if under:
        prefix = under.rstrip("/") + "/"
    for _eid, _root, path, _kind, size, mtime, digest, _link in a.entries(
        None, lambda it: it[1] == "f" and it[2] >= min_size
    ):
        if prefix and not path.startswith(prefix):
            continue
        if digest is not None:
            if digest in b_hashes:
                continue
        elif (path.rsplit("/", 1)[-1], size) in b_small:
            continue
        yield path, size, mtime
