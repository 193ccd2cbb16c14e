"""Answering `wacket find PATTERN` from the catalogs alone (the hosts may be switched off).

A pattern is a substring, a glob (when it holds * ? or [, matched against the whole path, as
locate does) or, with --regex, a regular expression; case-insensitive unless asked otherwise.
The names file of each host is searched first (a mapped `find` over lower-cased paths, or a regex
over its text); only the hits are read from SQLite, where size, age and type filters apply.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator

from wacket.errors import ConfigError
from wacket.find import catalog
from wacket.find.catalog import Catalog, set_aside_if_damaged


class Query:
    """What to look for: the pattern and the filters of the command line. (Plain classes here:
    the dataclasses module would cost the query command's start-up a few milliseconds.)"""

    __slots__ = (
        "pattern", "regex", "literal", "case_sensitive", "basename", "exts", "larger",
        "smaller", "newer", "older", "types", "limit",
    )  # fmt: skip

    def __init__(
        self,
        pattern: str | None = None,
        regex: bool = False,
        literal: bool = False,  # a substring even if it holds * ? [
        case_sensitive: bool = False,
        basename: bool = False,
        exts: list[str] | None = None,
        larger: int | None = None,
        smaller: int | None = None,
        newer: float | None = None,  # epoch seconds: modified after
        older: float | None = None,  # modified before
        types: str | None = None,  # letters among f d l o
        limit: int | None = None,
    ):
        self.pattern = pattern
        self.regex = regex
        self.literal = literal
        self.case_sensitive = case_sensitive
        self.basename = basename
        self.exts = [] if exts is None else exts
        self.larger = larger
        self.smaller = smaller
        self.newer = newer
        self.older = older
        self.types = types
        self.limit = limit

    @property
    def kind(self) -> str:
        if self.pattern is None:
            return "all"
        if self.regex:
            return "regex"
        if self.literal:
            return "substring"
        return "glob" if any(c in self.pattern for c in "*?[") else "substring"


class Hit:
    """One catalog entry that matched."""

    __slots__ = ("host", "path", "type", "size", "mtime_ns", "hash", "link")

    def __init__(self, host, path, type, size, mtime_ns, hash, link):  # noqa: A002
        self.host: str = host
        self.path: str = path
        self.type: str = type
        self.size: int = size
        self.mtime_ns: int = mtime_ns
        self.hash: str | None = hash
        self.link: str | None = link

    def __repr__(self) -> str:
        return f"Hit({self.host!r}, {self.path!r})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Hit):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


def _literal(glob: str) -> str:
    """The longest run of plain characters in a glob (outside [...] classes)."""
    runs, cur, i = [], "", 0
    while i < len(glob):
        c = glob[i]
        if c in "*?":
            runs.append(cur)
            cur = ""
        elif c == "[":
            j = glob.find("]", i + 2)
            if j < 0:
                cur += c
            else:
                runs.append(cur)
                cur = ""
                i = j
        else:
            cur += c
        i += 1
    runs.append(cur)
    return max(runs, key=len)


class Matcher:
    """Finds candidate record numbers (0-based) in a names file, exact for the lower-cased key;
    `verify(path)` then checks the real path (case, basename) when that matters."""

    def __init__(self, q: Query):
        self.q = q
        self.kind = q.kind
        # re and fnmatch are loaded here, not at the top: a substring query needs neither
        # (start-up time).
        import re

        flags = 0 if q.case_sensitive else re.IGNORECASE
        self.rx = None
        self.key_rx = None
        if self.kind == "regex":
            try:
                self.rx = re.compile(q.pattern, flags)
                self.key_rx = re.compile(q.pattern, re.IGNORECASE)
            except re.error as exc:
                raise ConfigError(f"bad regular expression {q.pattern!r}: {exc}") from None
        elif self.kind == "glob":
            import fnmatch

            self.rx = re.compile(fnmatch.translate(q.pattern), flags | re.DOTALL)
            key = catalog.search_key(q.pattern)
            self.key_rx = re.compile(
                fnmatch.translate(key).encode("utf-8", "surrogateescape"), re.S
            )
            self.literal = catalog.search_key(_literal(key)).encode("utf-8", "surrogateescape")
        elif self.kind == "substring":
            self.needle = catalog.search_key(q.pattern).encode("utf-8", "surrogateescape")
        self.ext_needles = [
            ("." + e.lower().lstrip(".")).encode("utf-8", "surrogateescape") for e in q.exts
        ]

    def candidates(self, names: catalog.Names) -> list[int] | None:
        """Record numbers that may match, ascending; None for "all of them"."""
        if names.count == 0:
            return []
        base = self.q.basename
        if self.kind == "substring":
            return _find(names, self.needle, base)
        if self.kind == "glob":
            hits = _find(names, self.literal, base) if self.literal else range(names.count)
            match = self.key_rx.match
            if base:
                return [i for i in hits if match(names.record(i))]
            out, end, line, firsts = [], -1, b"", names.firsts
            for i in hits:  # ascending: each directory's path is looked up once
                if i >= end:
                    d = names.dir_of(i)
                    line, end = names.dirline(d), firsts[d + 1]
                if match(line + names.record(i)):
                    out.append(i)
            return out
        if self.kind == "regex":
            return self._regex(names)
        if self.ext_needles:  # no pattern: the extension narrows it down
            if len(self.ext_needles) == 1:
                return _find(names, self.ext_needles[0], True)
        return None

    def _regex(self, names: catalog.Names) -> list[int]:
        """Each directory's records, with its path in front (only the names with --basename),
        against the regex."""
        rx = self.key_rx
        mm, base, offs, firsts = names.mm, names.base, names.offsets, names.firsts
        out: list[int] = []
        search = rx.search
        if self.q.basename:
            text = names.text().decode("utf-8", "surrogateescape")
            return [k for k, rec in enumerate(text.split("\n")) if search(rec)]
        for d in range(names.ndirs):
            a, b = firsts[d], firsts[d + 1]
            if a == b:
                continue
            prefix = names.dirline(d).decode("utf-8", "surrogateescape")
            text = mm[base + offs[a] : base + offs[b] - 1].decode("utf-8", "surrogateescape")
            out.extend(k for k, rec in enumerate(text.split("\n"), a) if search(prefix + rec))
        return out

    def verify(self, path: str, name: str) -> bool:
        q = self.q
        if self.ext_needles:
            lname = name.lower().encode("utf-8", "surrogateescape")
            if not any(lname.endswith(e) for e in self.ext_needles):
                return False
        target = name if q.basename else path
        if self.kind == "substring" and q.case_sensitive:
            return q.pattern in target
        if self.kind == "glob" and q.case_sensitive:
            return self.rx.match(target) is not None
        if self.kind == "regex":
            return self.rx.search(target) is not None
        return True


def _find(names: catalog.Names, needle: bytes, basename: bool = False) -> list[int]:
    """Records whose whole path (directory line, then name) holds `needle`, ascending; with
    `basename`, whose name does.

    A needle without "/" is in a name or inside a directory's line (then every entry of that
    directory matches). One with "/" is inside a directory's line, or runs from the end of one
    (up to a "/" of the needle) into the start of a name there."""
    hits = [] if b"/" in needle else _lines(names.mm, needle, names.base, names.end,
                                           names.offsets, names.count)  # fmt: skip
    if basename:
        return hits
    firsts = names.firsts
    extra: list[int] = []
    for d in _lines(names.mm, needle, names.dbase, names.dend, names.doffsets, names.ndirs):
        extra.extend(range(firsts[d], firsts[d + 1]))
    cut = needle.find(b"/")
    while 0 <= cut < len(needle) - 1:
        head, tail = needle[: cut + 1], needle[cut + 1 :]
        for d in _ending(names, head):
            extra.extend(
                i for i in range(firsts[d], firsts[d + 1]) if names.record(i).startswith(tail)
            )
        cut = needle.find(b"/", cut + 1)
    return sorted(set(hits).union(extra)) if extra else hits


def _finder(mm, needle: bytes, lo: int, hi: int):
    """`find(buffer, start, end)`: where `needle` first occurs in buffer[start:end], or -1; for
    searches within mm[lo:hi].

    memchr is ~20x faster than any substring scan here, so when one byte of the needle is rare
    in the text (estimated from samples) the search jumps from one occurrence of that byte to
    the next and compares the needle there. Otherwise a compiled literal regex scans (1.3-1.6x
    faster than mmap.find on file names); a single byte is memchr itself."""
    m = len(needle)
    if m == 1:
        return lambda buf, a, b: buf.find(needle, a, b)
    step = max((hi - lo) // 4, 1)
    sample = b"".join(mm[x : min(x + 65536, hi)] for x in range(lo, hi, step))
    seen, k = min((sample.count(needle[j : j + 1]), j) for j in range(m))
    if seen * 1000 < len(sample):  # one in a thousand bytes or fewer: a jump costs ~0.3 us
        byte = needle[k : k + 1]

        def jump(buf, a: int, b: int) -> int:
            find = buf.find
            p = find(byte, a + k, b)
            while p >= 0:
                s = p - k
                if s + m > b:
                    return -1
                if buf[s : s + m] == needle:
                    return s
                p = find(byte, p + 1, b)
            return -1

        return jump
    import re

    search = re.compile(re.escape(needle)).search

    def scan(buf, a: int, b: int) -> int:
        hit = search(buf, a, b)
        return -1 if hit is None else hit.start()

    return scan


def _lines(mm, needle: bytes, lo: int, hi: int, offs, count: int) -> list[int]:
    """Lines (numbered by `offs`, relative to `lo`) of the text at mm[lo:hi] that hold
    `needle`: a search, then on from the next line after each hit."""
    find = _finder(mm, needle, lo, hi)
    out: list[int] = []
    append = out.append
    pos = find(mm, lo, hi)
    i = 0
    while pos >= 0:
        i = bisect_right(offs, pos - lo, i, count) - 1
        append(i)
        i += 1
        if i >= count:
            break
        pos = find(mm, lo + offs[i], hi)
    return out


def _ending(names: catalog.Names, head: bytes) -> list[int]:
    """Directories whose line ends with `head`."""
    mm, lo, hi, offs = names.mm, names.dbase, names.dend, names.doffsets
    find = _finder(mm, head + b"\n", lo, hi)
    out = []
    pos = find(mm, lo, hi)
    while pos >= 0:
        out.append(bisect_right(offs, pos - lo, 0, names.ndirs) - 1)
        pos = find(mm, pos + 1, hi)
    return out


def _keep(q: Query):
    """A filter on raw tree.scan items [rel, type, size, mtime_ns, mode, hash, link], or None."""
    tests = []
    if q.larger is not None:
        tests.append(lambda it, n=q.larger: it[2] > n)
    if q.smaller is not None:
        tests.append(lambda it, n=q.smaller: it[2] < n)
    if q.newer is not None:
        tests.append(lambda it, t=int(q.newer * 1e9): it[3] > t)
    if q.older is not None:
        tests.append(lambda it, t=int(q.older * 1e9): it[3] < t)
    if q.types:
        tests.append(lambda it, ts=q.types: it[1] in ts)
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return lambda it: all(t(it) for t in tests)


def accepts(q: Query, hit: Hit) -> bool:
    """The size, age and type filters of `q`, on a hit found another way (--text)."""
    keep = _keep(q)
    return keep is None or keep([hit.path, hit.type, hit.size, hit.mtime_ns, 0, hit.hash, None])


def search(q: Query, catalogs: list[Catalog]) -> Iterator[Hit]:
    """Hits from each catalog in turn (catalog order, then walk order)."""
    matcher = Matcher(q)
    keep = _keep(q)
    left = q.limit
    for cat in catalogs:
        names = cat.names()
        cands = matcher.candidates(names)
        ids = None if cands is None else [i + 1 for i in cands]
        for _eid, _root, path, kind, size, mtime, digest, link in _readable(cat, ids, keep):
            name = path[path.rfind("/") + 1 :]
            if not matcher.verify(path, name):
                continue
            yield Hit(cat.host, path, kind, size, mtime, digest, link)
            if left is not None:
                left -= 1
                if left <= 0:
                    return


def _readable(cat: Catalog, ids, keep=None) -> Iterator[tuple]:
    """`cat.entries(...)` up to any damage the reads find: that catalog is set aside (a warning
    says how to rebuild it) and the query goes on with the other hosts."""
    import sqlite3

    try:
        yield from cat.entries(ids, keep)
    except sqlite3.DatabaseError as exc:
        if not set_aside_if_damaged(cat, exc):
            raise


def text_search(words: str, catalogs: list[Catalog], limit: int | None = None) -> Iterator[tuple]:
    """(Hit, snippet) for documents whose words match (FTS5 query syntax; plain words = AND)."""
    import sqlite3

    left = limit
    for cat in catalogs:
        if not cat.has_docs:
            continue
        sql = (
            "SELECT rowid, snippet(docs, 0, '[', ']', '…', 12) FROM docs WHERE docs MATCH ? "
            "ORDER BY rank"
        )
        try:
            rows = cat.conn.execute(sql, (_fts_query(words),)).fetchall()
        except sqlite3.OperationalError as exc:
            raise ConfigError(f"bad --text query {words!r}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if not set_aside_if_damaged(cat, exc):
                raise
            continue
        snippets = dict(rows)
        for eid, _root, path, kind, size, mtime, digest, _link in _readable(cat, sorted(snippets)):
            yield Hit(cat.host, path, kind, size, mtime, digest, None), snippets[eid]
            if left is not None:
                left -= 1
                if left <= 0:
                    return


def _fts_query(words: str) -> str:
    """Plain words become quoted terms (AND); text with FTS5 operators or quotes passes as is."""
    import re

    if re.search(r'["()*:^]|\b(AND|OR|NOT|NEAR)\b', words):
        return words
    return " ".join('"' + w.replace('"', '""') + '"' for w in words.split())


# --- is the host up now? -------------------------------------------------------------------


class Probe:
    """TCP-connect to each host's SSH port in the background while the catalogs are searched."""

    def __init__(self, hosts: list, timeout: float = 0.8, up=()):
        import threading

        self.state: dict[str, bool | None] = dict.fromkeys(up, True)
        self.threads = []
        for h in hosts:
            if h.is_local:
                self.state[h.name] = True
                continue
            t = threading.Thread(target=self._one, args=(h, timeout), daemon=True)
            t.start()
            self.threads.append(t)

    def _one(self, host, timeout: float) -> None:
        import socket

        try:
            with socket.create_connection((host.address, host.port or 22), timeout=timeout):
                self.state[host.name] = True
        except OSError:
            self.state[host.name] = False

    def get(self, name: str) -> bool | None:
        import time

        deadline = time.monotonic() + 2
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return self.state.get(name)
