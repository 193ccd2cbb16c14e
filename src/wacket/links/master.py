"""The master database: one row per normalised URL, every visit with its source, bookmark placements.

SQLite in the data dir (0600, WAL). A merge of one source is one transaction: a crash or an error
leaves the master as it was before that source. Visits are keyed by (source, link, time), so merging
the same source again adds nothing; a per-source watermark (the highest visit id read) makes a
re-merge read only the visits added since, and a source whose visit ids went backwards (a new or
reset profile at the same path) is read in full again. Placements (bookmarks) of a source are
replaced by the source's current bookmarks on every merge.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from wacket import paths
from wacket.errors import Exit, WacketError
from wacket.links import normalize as norm
from wacket.links.model import KIND, KINDS, Bookmark

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    browser TEXT NOT NULL,
    profile TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    first_merged REAL,
    last_merged REAL,
    last_outcome TEXT,
    last_error TEXT,
    watermark INTEGER NOT NULL DEFAULT 0,
    visits INTEGER NOT NULL DEFAULT 0,
    bookmarks INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS links (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    site TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    title_time INTEGER NOT NULL DEFAULT 0,
    first_visit INTEGER,
    last_visit INTEGER,
    visit_count INTEGER NOT NULL DEFAULT 0,
    bookmarks INTEGER NOT NULL DEFAULT 0,
    frecency INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS links_frecency ON links (frecency);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visits (
    source_id INTEGER NOT NULL,
    link_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    PRIMARY KEY (link_id, time, source_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS placements (
    source_id INTEGER NOT NULL,
    link_id INTEGER NOT NULL,
    folder TEXT NOT NULL,
    title TEXT NOT NULL,
    tags TEXT NOT NULL,
    added INTEGER,
    PRIMARY KEY (source_id, link_id, folder)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS placements_link ON placements (link_id);
CREATE VIRTUAL TABLE IF NOT EXISTS links_fts USING fts5(
    url, title, content='links', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS links_ai AFTER INSERT ON links BEGIN
    INSERT INTO links_fts (rowid, url, title) VALUES (new.id, new.url, new.title);
END;
CREATE TRIGGER IF NOT EXISTS links_au AFTER UPDATE OF title ON links BEGIN
    INSERT INTO links_fts (links_fts, rowid, url, title) VALUES ('delete', old.id, old.url, old.title);
    INSERT INTO links_fts (rowid, url, title) VALUES (new.id, new.url, new.title);
END;
CREATE TRIGGER IF NOT EXISTS links_ad AFTER DELETE ON links BEGIN
    INSERT INTO links_fts (links_fts, rowid, url, title) VALUES ('delete', old.id, old.url, old.title);
END;
"""

DAY_US = 86_400_000_000
# Frecency-like score: (visits + 1) x recency weight of the last visit x 2 when bookmarked.
# Stored in links.frecency (indexed) for the links a merge touches; like Firefox's, the recency
# part ages, so a merge recomputes every link's score when the last full recompute is a day old.
RECENCY = ((4, 100), (14, 70), (31, 50), (90, 30))
RESCORE_AFTER_US = DAY_US
# Places visited this long before the newest visit already merged are read again for their
# titles: browsers write a page's title after its visit, and a merge can fall in between.
TITLE_RECHECK_US = 3600 * 1_000_000


def score_sql(now_us: int) -> str:
    whens = " ".join(f"WHEN last_visit >= {now_us - d * DAY_US} THEN {w}" for d, w in RECENCY)
    return (
        f"((visit_count + 1) * (CASE {whens} ELSE 10 END)"
        " * (CASE WHEN bookmarks > 0 THEN 2 ELSE 1 END))"
    )


@dataclass
class SourceInfo:
    key: str
    host: str
    browser: str
    profile: str
    path: str
    kind: str  # firefox | chromium | chromium-bookmarks | netscape | jsonl


@dataclass
class MergeResult:
    source: SourceInfo
    new_visits: int = 0
    new_links: int = 0
    bookmarks: int = 0
    skipped: int = 0
    seconds: float = 0.0
    error: str = ""
    full: bool = False

    def record(self) -> dict:
        return {
            "host": self.source.host,
            "browser": self.source.browser,
            "profile": self.source.profile,
            "path": self.source.path,
            "kind": self.source.kind,
            "new_visits": self.new_visits,
            "new_links": self.new_links,
            "bookmarks": self.bookmarks,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "outcome": "failed" if self.error else "ok",
            "error": self.error,
        }


def default_path() -> Path:
    from wacket import paths

    return paths.data_dir() / "links.sqlite"


class Master:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_path()
        try:
            if not self.path.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            from wacket.fsutil import user_path_error

            raise user_path_error(self.path, exc, "create") from None
        self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise self.damaged(exc) or exc from None

    def damaged(self, exc: BaseException) -> WacketError | None:
        """The one-line error for a damaged database (it is not rebuildable: the browsers may
        no longer hold the history it gathered), or None if `exc` is not damage."""
        from wacket.sqlitedb import is_damage

        if not is_damage(exc):
            return None
        return WacketError(
            f"{self.path}: not a links database, or damaged ({exc}); move it aside and run"
            " `wacket links merge` to start a new one (or restore it from a backup)",
            Exit.USAGE,
        )

    def _setup(self) -> None:
        self.conn.execute("PRAGMA journal_mode=WAL")  # the first read: fails on a foreign file
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA temp_store=MEMORY")
        self.conn.execute("PRAGMA cache_size=-65536")
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if self.path.stat().st_mode & 0o077:
            self.path.chmod(0o600)
        if version == 0:
            self.conn.executescript(SCHEMA)
            self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Master:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        self.close()
        error = self.damaged(exc) if exc is not None else None
        if error is not None:
            raise error from None

    # --- sources ---------------------------------------------------------------------------

    def _source_id(self, info: SourceInfo) -> tuple[int, int]:
        row = self.conn.execute(
            "SELECT id, watermark FROM sources WHERE key = ?", (info.key,)
        ).fetchone()
        if row:
            self.conn.execute(
                "UPDATE sources SET host=?, browser=?, profile=?, path=?, kind=? WHERE id=?",
                (info.host, info.browser, info.profile, info.path, info.kind, row[0]),
            )
            return row[0], row[1]
        cur = self.conn.execute(
            "INSERT INTO sources (key, host, browser, profile, path, kind, first_merged)"
            " VALUES (?,?,?,?,?,?,?)",
            (info.key, info.host, info.browser, info.profile, info.path, info.kind, time.time()),
        )
        return cur.lastrowid, 0

    def record_failure(self, info: SourceInfo, error: str) -> None:
        """Note a failed merge on a source already known (unknown sources are not created)."""
        self.conn.execute(
            "UPDATE sources SET last_outcome='failed', last_error=? WHERE key=?", (error, info.key)
        )

    def sources(self) -> list[dict]:
        cur = self.conn.execute(
            "SELECT s.id, s.host, s.browser, s.profile, s.path, s.kind, s.first_merged,"
            " s.last_merged, s.last_outcome, s.last_error, s.visits, s.bookmarks, s.key"
            " FROM sources s ORDER BY s.host, s.browser, s.profile, s.path"
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur]

    # --- merge -----------------------------------------------------------------------------

    def merge_history(
        self, info: SourceInfo, copy: Path, reader, full: bool = False
    ) -> MergeResult:
        """Merge a Firefox/Chromium history database (a private copy) in one transaction."""
        start = time.monotonic()
        res = MergeResult(info)
        conn = self.conn
        conn.execute("ATTACH DATABASE ? AS src", (paths.ro_uri(copy),))
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                sid, watermark = self._source_id(info)
                top = conn.execute(reader.max_visit_sql()).fetchone()[0]
                if top < watermark or full:
                    watermark = 0  # a new or reset profile at the same path: read it all
                res.full = watermark == 0
                if res.full:
                    check = conn.execute("PRAGMA src.quick_check(1)").fetchone()
                    if not check or check[0] != "ok":
                        raise sqlite3.DatabaseError(
                            f"damaged database ({check[0] if check else '?'})"
                        )
                before_links = conn.execute("SELECT count(*) FROM links").fetchone()[0]
                self._load_places(conn, reader, watermark, res)
                cur = conn.execute(
                    "INSERT OR IGNORE INTO visits (source_id, link_id, time, kind)"
                    f" SELECT ?, m.link_id, v.t, v.k FROM ({reader.visits_sql()}) v"
                    " JOIN temp.src_map m ON m.place_id = v.place_id ORDER BY m.link_id, v.t",
                    (sid, watermark),
                )
                res.new_visits = cur.rowcount
                self._update_aggregates(conn, "SELECT link_id FROM temp.src_map")
                if hasattr(reader, "bookmarks"):
                    res.bookmarks = self._replace_placements(conn, sid, reader.bookmarks(conn), res)
                res.new_links = (
                    conn.execute("SELECT count(*) FROM links").fetchone()[0] - before_links
                )
                conn.execute(
                    "UPDATE sources SET watermark=?, last_merged=?, last_outcome='ok',"
                    " last_error=NULL, visits=visits+?, bookmarks=? WHERE id=?",
                    (top, time.time(), res.new_visits, res.bookmarks, sid),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute("DROP TABLE IF EXISTS temp.src_places")
            conn.execute("DROP TABLE IF EXISTS temp.src_map")
            conn.execute("DETACH DATABASE src")
        res.seconds = time.monotonic() - start
        return res

    def _load_places(self, conn, reader, watermark: int, res: MergeResult) -> None:
        conn.execute(
            "CREATE TEMP TABLE src_places (place_id INTEGER PRIMARY KEY, url TEXT NOT NULL,"
            " site TEXT NOT NULL, title TEXT NOT NULL, ttime INTEGER NOT NULL)"
        )
        normalize, clean = norm.normalize_with_host, norm.clean_title
        fast, max_url, max_title = norm._FAST.match, norm.MAX_URL, norm.MAX_TITLE
        rows = []
        append = rows.append
        last = conn.execute(reader.visit_time_sql(), (watermark,)).fetchone() if watermark else None
        since = last[0] - TITLE_RECHECK_US if last and last[0] is not None else 1 << 62
        for pid, url, title, ttime in conn.execute(reader.places_sql(), (watermark, since)):
            # The common case inline (already-normal URL, plain title): same result as the calls.
            m = fast(url) if isinstance(url, str) and len(url) <= max_url else None
            if m is not None and m.group(2):
                n = (url, m.group(1))
            else:
                n = normalize(url) if isinstance(url, str) else None
                if n is None:
                    res.skipped += 1
                    continue
            if (
                not title
                or len(title) > max_title
                or not title.isprintable()
                or "  " in title
                or title.strip() != title
            ):
                title = clean(title)
            append((pid, n[0], n[1], title, ttime or 0))
        conn.executemany("INSERT INTO temp.src_places VALUES (?,?,?,?,?)", rows)
        conn.execute(
            "INSERT INTO links (url, site, title, title_time)"
            " SELECT url, site, title, ttime FROM temp.src_places WHERE true ORDER BY url"
            " ON CONFLICT (url) DO UPDATE SET title = excluded.title, title_time = excluded.title_time"
            " WHERE excluded.title != '' AND excluded.title != links.title"
            " AND (excluded.title_time > links.title_time OR links.title = '')"
        )
        conn.execute(
            "CREATE TEMP TABLE src_map (place_id INTEGER PRIMARY KEY, link_id INTEGER NOT NULL)"
        )
        conn.execute(
            "INSERT INTO temp.src_map SELECT p.place_id, l.id FROM temp.src_places p"
            " JOIN links l ON l.url = p.url"
        )

    def _update_aggregates(self, conn, link_ids_sql: str) -> None:
        conn.execute(
            "UPDATE links SET visit_count = a.n, first_visit = a.f, last_visit = a.l FROM"
            " (SELECT link_id, count(*) AS n, min(time) AS f, max(time) AS l FROM visits"
            f" WHERE link_id IN ({link_ids_sql}) GROUP BY link_id) AS a WHERE links.id = a.link_id"
        )
        self._rescore(conn, f"id IN ({link_ids_sql})")

    def _rescore(self, conn, where: str | None = None) -> None:
        """Recompute stored scores (of `where`'s links, or all when a full rescore is due)."""
        now = int(time.time() * 1_000_000)
        row = conn.execute("SELECT value FROM meta WHERE key = 'scored_at'").fetchone()
        if where is None or row is None or now - int(row[0]) > RESCORE_AFTER_US:
            conn.execute(f"UPDATE links SET frecency = {score_sql(now)}")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('scored_at', ?)", (now,))
        else:
            conn.execute(f"UPDATE links SET frecency = {score_sql(now)} WHERE {where}")

    def merge_bookmarks(self, info: SourceInfo, items: list[Bookmark]) -> MergeResult:
        start = time.monotonic()
        res = MergeResult(info)
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            sid, _ = self._source_id(info)
            before_links = conn.execute("SELECT count(*) FROM links").fetchone()[0]
            res.bookmarks = self._replace_placements(conn, sid, items, res)
            res.new_links = conn.execute("SELECT count(*) FROM links").fetchone()[0] - before_links
            conn.execute(
                "UPDATE sources SET last_merged=?, last_outcome='ok', last_error=NULL, bookmarks=?"
                " WHERE id=?",
                (time.time(), res.bookmarks, sid),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        res.seconds = time.monotonic() - start
        return res

    def merge_records(self, info: SourceInfo, records: list[dict]) -> MergeResult:
        """JSON-lines input (wacket.links.jsonl): links, their visits and bookmarks."""
        from wacket.links.jsonl import split_records

        visits, marks = split_records(records)
        start = time.monotonic()
        res = MergeResult(info)
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            sid, _ = self._source_id(info)
            before_links = conn.execute("SELECT count(*) FROM links").fetchone()[0]
            conn.execute(
                "CREATE TEMP TABLE src_map (place_id INTEGER PRIMARY KEY, link_id INTEGER)"
            )
            new = 0
            for i, (url, title, times) in enumerate(visits):
                n = norm.normalize(url)
                if n is None:
                    res.skipped += 1
                    continue
                link_id = self._link(conn, n, norm.clean_title(title), max(times, default=0))
                if not times:
                    continue  # the link, without a visit
                conn.execute("INSERT OR IGNORE INTO temp.src_map VALUES (?, ?)", (i, link_id))
                new += conn.executemany(
                    "INSERT OR IGNORE INTO visits VALUES (?,?,?,?)",
                    [(sid, link_id, t, KIND["other"]) for t in times],
                ).rowcount
            res.new_visits = new
            self._update_aggregates(conn, "SELECT link_id FROM temp.src_map")
            conn.execute("DROP TABLE temp.src_map")
            res.bookmarks = self._replace_placements(conn, sid, marks, res) if marks else 0
            res.new_links = conn.execute("SELECT count(*) FROM links").fetchone()[0] - before_links
            conn.execute(
                "UPDATE sources SET last_merged=?, last_outcome='ok', last_error=NULL,"
                " visits=visits+?, bookmarks=? WHERE id=?",
                (time.time(), new, res.bookmarks, sid),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            conn.execute("DROP TABLE IF EXISTS temp.src_map")
            raise
        res.seconds = time.monotonic() - start
        return res

    def _link(self, conn, url: str, title: str, ttime: int = 0) -> int:
        row = conn.execute(
            "INSERT INTO links (url, site, title, title_time) VALUES (?,?,?,?)"
            " ON CONFLICT (url) DO UPDATE SET title = excluded.title"
            " WHERE links.title = '' AND excluded.title != '' RETURNING id",
            (url, norm.host_of(url), title, ttime),
        ).fetchone()
        if row:
            return row[0]
        return conn.execute("SELECT id FROM links WHERE url = ?", (url,)).fetchone()[0]

    def _replace_placements(self, conn, sid: int, items: list[Bookmark], res: MergeResult) -> int:
        """Make the source's placements exactly `items`; nothing is written when they are unchanged."""
        import hashlib

        rows = []
        for b in items:
            n = norm.normalize_with_host(b.url, bookmark=True)
            if n is None:
                res.skipped += 1
                continue
            title = norm.clean_title(b.title)
            rows.append((n[0], n[1], title, b.folder, ",".join(b.tags), b.added))
        digest = hashlib.sha256(repr(rows).encode("utf-8", "surrogateescape")).hexdigest()
        key = f"placements:{sid}"
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row and row[0] == digest:
            return len({(r[0], r[3]) for r in rows})
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS touched (id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.touched")
        conn.execute(
            "INSERT INTO temp.touched SELECT DISTINCT link_id FROM placements WHERE source_id=?",
            (sid,),
        )
        conn.execute("DELETE FROM placements WHERE source_id=?", (sid,))
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS src_marks (url TEXT, site TEXT, title TEXT, folder TEXT,"
            " tags TEXT, added INTEGER)"
        )
        conn.execute("DELETE FROM temp.src_marks")
        conn.executemany("INSERT INTO temp.src_marks VALUES (?,?,?,?,?,?)", rows)
        conn.execute(
            "INSERT INTO links (url, site, title) SELECT url, site, title FROM temp.src_marks"
            " WHERE true ORDER BY url ON CONFLICT (url) DO UPDATE SET title = excluded.title"
            " WHERE links.title = '' AND excluded.title != ''"
        )
        conn.execute(
            "INSERT OR REPLACE INTO placements SELECT ?, l.id, m.folder, m.title, m.tags, m.added"
            " FROM temp.src_marks m JOIN links l ON l.url = m.url",
            (sid,),
        )
        conn.execute(
            "INSERT OR IGNORE INTO temp.touched SELECT DISTINCT link_id FROM placements"
            " WHERE source_id=?",
            (sid,),
        )
        conn.execute(
            "UPDATE links SET bookmarks = (SELECT count(*) FROM placements p"
            " WHERE p.link_id = links.id) WHERE id IN (SELECT id FROM temp.touched)"
        )
        self._rescore(conn, "id IN (SELECT id FROM temp.touched)")
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, digest))
        return conn.execute("SELECT count(*) FROM placements WHERE source_id=?", (sid,)).fetchone()[
            0
        ]

    # --- queries ---------------------------------------------------------------------------

    def search(
        self,
        terms: list[str],
        *,
        since_us: int | None = None,
        host: str | None = None,
        bookmarked: bool = False,
        limit: int | None = 50,
    ) -> list[dict]:
        where, params = [], []
        if terms:
            where.append("l.id IN (SELECT rowid FROM links_fts WHERE links_fts MATCH ?)")
            params.append(fts_query(terms))
        if since_us is not None:
            where.append("l.last_visit >= ?")
            params.append(since_us)
        if bookmarked:
            where.append("l.bookmarks > 0")
        if host:
            ids = [
                r[0] for r in self.conn.execute("SELECT id FROM sources WHERE host = ?", (host,))
            ]
            marks = ",".join(str(i) for i in ids) or "NULL"
            where.append(
                f"(EXISTS (SELECT 1 FROM visits v WHERE v.source_id IN ({marks}) AND v.link_id = l.id)"
                f" OR EXISTS (SELECT 1 FROM placements p WHERE p.source_id IN ({marks})"
                " AND p.link_id = l.id))"
            )
        sql = (
            "SELECT l.id, l.url, l.title, l.site, l.visit_count, l.first_visit, l.last_visit,"
            " l.bookmarks, l.frecency AS score FROM links l"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY l.frecency DESC, l.last_visit DESC, l.id"
            + (f" LIMIT {int(limit)}" if limit else "")
        )
        try:
            cur = self.conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            from wacket.errors import ConfigError

            raise ConfigError(f"bad search terms: {exc}") from None
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur]

    def placements(self, link_ids: list[int] | None = None) -> list[dict]:
        sql = (
            "SELECT p.link_id, l.url, p.title, p.folder, p.tags, p.added, s.host, s.browser,"
            " s.profile FROM placements p JOIN links l ON l.id = p.link_id"
            " JOIN sources s ON s.id = p.source_id"
        )
        params: list = []
        if link_ids is not None:
            sql += f" WHERE p.link_id IN ({','.join('?' * len(link_ids))})"
            params = list(link_ids)
        cur = self.conn.execute(sql + " ORDER BY p.folder, p.title, l.url", params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur]

    def visits(self, link_id: int) -> list[dict]:
        cur = self.conn.execute(
            "SELECT v.time, v.kind, s.host, s.browser, s.profile FROM visits v"
            " JOIN sources s ON s.id = v.source_id WHERE v.link_id = ? ORDER BY v.time",
            (link_id,),
        )
        return [
            {"time": t, "kind": KINDS[k] if 0 <= k < len(KINDS) else "other", "host": h,
             "browser": b, "profile": p}
            for t, k, h, b, p in cur
        ]  # fmt: skip

    def stats(self) -> dict:
        c = self.conn
        links, visited, bookmarked = c.execute(
            "SELECT count(*), sum(visit_count > 0), sum(bookmarks > 0) FROM links"
        ).fetchone()
        visits, first, last = c.execute(
            "SELECT count(*), min(time), max(time) FROM visits"
        ).fetchone()
        placements = c.execute("SELECT count(*) FROM placements").fetchone()[0]
        sources = c.execute("SELECT count(*) FROM sources").fetchone()[0]
        hosts = c.execute("SELECT count(DISTINCT host) FROM sources").fetchone()[0]
        size = sum(
            Path(str(self.path) + s).stat().st_size
            for s in ("", "-wal")
            if Path(str(self.path) + s).exists()
        )
        return {
            "links": links,
            "visited_links": visited or 0,
            "bookmarked_links": bookmarked or 0,
            "visits": visits,
            "placements": placements,
            "sources": sources,
            "hosts": hosts,
            "first_visit": first,
            "last_visit": last,
            "database": str(self.path),
            "bytes": size,
        }


def fts_query(terms: list[str]) -> str:
    """Every term must match (as a prefix), in URL or title; quotes make FTS syntax inert."""
    words = []
    for term in terms:
        for word in term.split():
            words.append('"' + word.replace('"', '""') + '"*')
    return " AND ".join(words) if words else '""'
