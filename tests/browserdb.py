"""Browser databases with the REAL current schemas, filled the way the browsers fill them.

Schemas (taken with `sqlite3 .schema` from profiles the browsers wrote on the test machine, and
checked against the sources found with the code search: gecko's
toolkit/components/places/nsPlacesTables.h and chromium's components/history/core/browser/
url_database.cc + visit_database.cc):

- Firefox 153.8.0 ESR (Debian firefox-esr 153.8.0esr-1~deb12u1): places.sqlite, Places schema
  version 86 (`PRAGMA user_version`), WAL mode, page size 32768.
- Chromium 156.0.8078.108 (Debian chromium 156.0.8078.108-1~deb12u1): History, `meta` version 70,
  last_compatible_version 16, rollback journal.

Conventions followed: Firefox `url_hash` (mozilla::places::HashURL: 16 bits of the scheme's hash
above the 32-bit golden-ratio hash of the first 1500 bytes), `rev_host` (reversed host + "."), guids,
`frecency` (visit bonus x recency weight, as Places computes it), `moz_origins`, visit types
(1 LINK, 2 TYPED, 3 BOOKMARK, 4 EMBED, 5/6 REDIRECT, 7 DOWNLOAD, 8 FRAMED_LINK, 9 RELOAD), times in
µs since 1970. Chromium: times in µs since 1601-01-01 (the WebKit epoch), `transition` = core type
(0 LINK, 1 TYPED, 3 AUTO_SUBFRAME, 8 RELOAD ...) | qualifiers (CHAIN_START 0x10000000, CHAIN_END
0x20000000, FROM_ADDRESS_BAR 0x02000000), `urls.visit_count`/`typed_count`/`last_visit_time` kept
in step with `visits`; Bookmarks JSON with its MD5 checksum as BookmarkCodec computes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

FIREFOX_VERSION = "153.8.0esr"
FIREFOX_PLACES_SCHEMA_VERSION = 86
CHROMIUM_VERSION = "156.0.8078.108"
CHROMIUM_HISTORY_VERSION = 70

FIREFOX_SCHEMA = """
CREATE TABLE moz_origins ( id INTEGER PRIMARY KEY, prefix TEXT NOT NULL, host TEXT NOT NULL, frecency INTEGER NOT NULL, recalc_frecency INTEGER NOT NULL DEFAULT 0, alt_frecency INTEGER, recalc_alt_frecency INTEGER NOT NULL DEFAULT 0, block_until_ms INTEGER, block_pages_until_ms INTEGER, UNIQUE (prefix, host) );
CREATE TABLE moz_places (   id INTEGER PRIMARY KEY, url LONGVARCHAR, title LONGVARCHAR, rev_host LONGVARCHAR, visit_count INTEGER DEFAULT 0, hidden INTEGER DEFAULT 0 NOT NULL, typed INTEGER DEFAULT 0 NOT NULL, frecency INTEGER DEFAULT -1 NOT NULL, last_visit_date INTEGER , guid TEXT, foreign_count INTEGER DEFAULT 0 NOT NULL, url_hash INTEGER DEFAULT 0 NOT NULL , description TEXT, preview_image_url TEXT, site_name TEXT, origin_id INTEGER REFERENCES moz_origins(id), recalc_frecency INTEGER NOT NULL DEFAULT 0, alt_frecency INTEGER, recalc_alt_frecency INTEGER NOT NULL DEFAULT 0);
CREATE TABLE moz_places_extra (  place_id INTEGER PRIMARY KEY NOT NULL, sync_json TEXT, FOREIGN KEY (place_id) REFERENCES moz_places(id) ON DELETE CASCADE );
CREATE INDEX moz_places_url_hashindex ON moz_places (url_hash);
CREATE INDEX moz_places_hostindex ON moz_places (rev_host);
CREATE INDEX moz_places_visitcount ON moz_places (visit_count);
CREATE INDEX moz_places_frecencyindex ON moz_places (frecency);
CREATE INDEX moz_places_lastvisitdateindex ON moz_places (last_visit_date);
CREATE UNIQUE INDEX moz_places_guid_uniqueindex ON moz_places (guid);
CREATE INDEX moz_places_originidindex ON moz_places (origin_id);
CREATE INDEX moz_places_altfrecencyindex ON moz_places (alt_frecency);
CREATE TABLE moz_historyvisits (  id INTEGER PRIMARY KEY, from_visit INTEGER, place_id INTEGER, visit_date INTEGER, visit_type INTEGER, session INTEGER, source INTEGER DEFAULT 0 NOT NULL, triggeringPlaceId INTEGER);
CREATE TABLE moz_historyvisits_extra (  visit_id INTEGER PRIMARY KEY NOT NULL, sync_json TEXT, FOREIGN KEY (visit_id) REFERENCES moz_historyvisits(id) ON   DELETE CASCADE);
CREATE INDEX moz_historyvisits_placedateindex ON moz_historyvisits (place_id, visit_date);
CREATE INDEX moz_historyvisits_fromindex ON moz_historyvisits (from_visit);
CREATE INDEX moz_historyvisits_dateindex ON moz_historyvisits (visit_date);
CREATE TABLE moz_inputhistory (  place_id INTEGER NOT NULL, input LONGVARCHAR NOT NULL, use_count INTEGER, PRIMARY KEY (place_id, input));
CREATE TABLE moz_bookmarks (  id INTEGER PRIMARY KEY, type INTEGER, fk INTEGER DEFAULT NULL, parent INTEGER, position INTEGER, title LONGVARCHAR, keyword_id INTEGER, folder_type TEXT, dateAdded INTEGER, lastModified INTEGER, guid TEXT, syncStatus INTEGER NOT NULL DEFAULT 0, syncChangeCounter INTEGER NOT NULL DEFAULT 1);
CREATE TABLE moz_bookmarks_deleted (  guid TEXT PRIMARY KEY, dateRemoved INTEGER NOT NULL DEFAULT 0);
CREATE INDEX moz_bookmarks_itemindex ON moz_bookmarks (fk, type);
CREATE INDEX moz_bookmarks_parentindex ON moz_bookmarks (parent, position);
CREATE INDEX moz_bookmarks_itemlastmodifiedindex ON moz_bookmarks (fk, lastModified);
CREATE INDEX moz_bookmarks_dateaddedindex ON moz_bookmarks (dateAdded);
CREATE UNIQUE INDEX moz_bookmarks_guid_uniqueindex ON moz_bookmarks (guid);
CREATE TABLE moz_keywords (  id INTEGER PRIMARY KEY AUTOINCREMENT, keyword TEXT UNIQUE, place_id INTEGER, post_data TEXT);
CREATE UNIQUE INDEX moz_keywords_placepostdata_uniqueindex ON moz_keywords (place_id, post_data);
CREATE TABLE moz_anno_attributes (  id INTEGER PRIMARY KEY, name VARCHAR(32) UNIQUE NOT NULL);
CREATE TABLE moz_annos (  id INTEGER PRIMARY KEY, place_id INTEGER NOT NULL, anno_attribute_id INTEGER, content LONGVARCHAR, flags INTEGER DEFAULT 0, expiration INTEGER DEFAULT 0, type INTEGER DEFAULT 0, dateAdded INTEGER DEFAULT 0, lastModified INTEGER DEFAULT 0);
CREATE UNIQUE INDEX moz_annos_placeattributeindex ON moz_annos (place_id, anno_attribute_id);
CREATE TABLE moz_items_annos (  id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, anno_attribute_id INTEGER, content LONGVARCHAR, flags INTEGER DEFAULT 0, expiration INTEGER DEFAULT 0, type INTEGER DEFAULT 0, dateAdded INTEGER DEFAULT 0, lastModified INTEGER DEFAULT 0);
CREATE UNIQUE INDEX moz_items_annos_itemattributeindex ON moz_items_annos (item_id, anno_attribute_id);
CREATE TABLE moz_meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID ;
CREATE TABLE moz_places_metadata (id INTEGER PRIMARY KEY, place_id INTEGER NOT NULL, referrer_place_id INTEGER, created_at INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL DEFAULT 0, total_view_time INTEGER NOT NULL DEFAULT 0, typing_time INTEGER NOT NULL DEFAULT 0, key_presses INTEGER NOT NULL DEFAULT 0, scrolling_time INTEGER NOT NULL DEFAULT 0, scrolling_distance INTEGER NOT NULL DEFAULT 0, document_type INTEGER NOT NULL DEFAULT 0, search_query_id INTEGER, FOREIGN KEY (place_id) REFERENCES moz_places(id) ON DELETE CASCADE, FOREIGN KEY (referrer_place_id) REFERENCES moz_places(id) ON DELETE CASCADE, FOREIGN KEY(search_query_id) REFERENCES moz_places_metadata_search_queries(id) ON DELETE CASCADE CHECK(place_id != referrer_place_id) );
CREATE UNIQUE INDEX moz_places_metadata_placecreated_uniqueindex ON moz_places_metadata (place_id, created_at);
CREATE INDEX moz_places_metadata_referrerindex ON moz_places_metadata (referrer_place_id);
CREATE TABLE moz_places_metadata_search_queries ( id INTEGER PRIMARY KEY, terms TEXT NOT NULL UNIQUE );
CREATE TABLE moz_previews_tombstones (   hash TEXT PRIMARY KEY ) WITHOUT ROWID;
CREATE TABLE moz_newtab_story_click (   feature TEXT NOT NULL,   timestamp_s INTEGER NOT NULL,   card_format_enum INTEGER NOT NULL,   position INTEGER NOT NULL,   section_position INTEGER NOT NULL,   feature_value REAL NOT NULL DEFAULT 1 );
CREATE TABLE moz_newtab_story_impression (   feature TEXT NOT NULL,   timestamp_s INTEGER NOT NULL,   card_format_enum INTEGER NOT NULL,   position INTEGER NOT NULL,   section_position INTEGER NOT NULL,   feature_value REAL NOT NULL DEFAULT 1 );
CREATE INDEX moz_newtab_story_click_newtab_click_timestampindex ON moz_newtab_story_click (timestamp_s);
CREATE INDEX moz_newtab_story_impression_newtab_impression_timestampindex ON moz_newtab_story_impression (timestamp_s);
CREATE TABLE moz_newtab_shortcuts_interaction (   id INTEGER PRIMARY KEY,   place_id INTEGER NOT NULL REFERENCES moz_places(id) ON DELETE CASCADE,   event_type INTEGER NOT NULL,   timestamp_s INTEGER NOT NULL,   pinned INTEGER NOT NULL CHECK (pinned IN (0, 1)),   tile_position INTEGER NOT NULL);
CREATE INDEX moz_newtab_shortcuts_interaction_timestampindex ON moz_newtab_shortcuts_interaction (timestamp_s);
CREATE INDEX moz_newtab_shortcuts_interaction_placeidindex ON moz_newtab_shortcuts_interaction (place_id);
"""

CHROMIUM_SCHEMA = """
CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR);
CREATE TABLE urls(id INTEGER PRIMARY KEY AUTOINCREMENT,url LONGVARCHAR,title LONGVARCHAR,visit_count INTEGER DEFAULT 0 NOT NULL,typed_count INTEGER DEFAULT 0 NOT NULL,last_visit_time INTEGER NOT NULL,hidden INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE visits(id INTEGER PRIMARY KEY AUTOINCREMENT,url INTEGER NOT NULL,visit_time INTEGER NOT NULL,from_visit INTEGER,external_referrer_url TEXT,transition INTEGER DEFAULT 0 NOT NULL,segment_id INTEGER,visit_duration INTEGER DEFAULT 0 NOT NULL,incremented_omnibox_typed_score BOOLEAN DEFAULT FALSE NOT NULL,opener_visit INTEGER,originator_cache_guid TEXT,originator_visit_id INTEGER,originator_from_visit INTEGER,originator_opener_visit INTEGER,is_known_to_sync BOOLEAN DEFAULT FALSE NOT NULL,consider_for_ntp_most_visited BOOLEAN DEFAULT FALSE NOT NULL,visited_link_id INTEGER DEFAULT 0 NOT NULL,app_id TEXT);
CREATE TABLE visit_source(id INTEGER PRIMARY KEY,source INTEGER NOT NULL);
CREATE INDEX visits_url_index ON visits (url);
CREATE INDEX visits_from_index ON visits (from_visit);
CREATE INDEX visits_time_index ON visits (visit_time);
CREATE INDEX visits_originator_id_index ON visits (originator_visit_id);
CREATE TABLE keyword_search_terms (keyword_id INTEGER NOT NULL,url_id INTEGER NOT NULL,term LONGVARCHAR NOT NULL,normalized_term LONGVARCHAR NOT NULL);
CREATE INDEX keyword_search_terms_index1 ON keyword_search_terms (keyword_id, normalized_term);
CREATE INDEX keyword_search_terms_index2 ON keyword_search_terms (url_id);
CREATE INDEX keyword_search_terms_index3 ON keyword_search_terms (term);
CREATE TABLE downloads (id INTEGER PRIMARY KEY,guid VARCHAR NOT NULL,current_path LONGVARCHAR NOT NULL,target_path LONGVARCHAR NOT NULL,start_time INTEGER NOT NULL,received_bytes INTEGER NOT NULL,total_bytes INTEGER NOT NULL,state INTEGER NOT NULL,danger_type INTEGER NOT NULL,interrupt_reason INTEGER NOT NULL,hash BLOB NOT NULL,end_time INTEGER NOT NULL,opened INTEGER NOT NULL,last_access_time INTEGER NOT NULL,transient INTEGER NOT NULL,referrer VARCHAR NOT NULL,site_url VARCHAR NOT NULL,embedder_download_data VARCHAR NOT NULL,tab_url VARCHAR NOT NULL,tab_referrer_url VARCHAR NOT NULL,http_method VARCHAR NOT NULL,by_ext_id VARCHAR NOT NULL,by_ext_name VARCHAR NOT NULL,by_web_app_id VARCHAR NOT NULL,etag VARCHAR NOT NULL,last_modified VARCHAR NOT NULL,mime_type VARCHAR(255) NOT NULL,original_mime_type VARCHAR(255) NOT NULL);
CREATE TABLE downloads_url_chains (id INTEGER NOT NULL,chain_index INTEGER NOT NULL,url LONGVARCHAR NOT NULL, PRIMARY KEY (id, chain_index) );
CREATE TABLE downloads_slices (download_id INTEGER NOT NULL,offset INTEGER NOT NULL,received_bytes INTEGER NOT NULL,finished INTEGER NOT NULL DEFAULT 0,PRIMARY KEY (download_id, offset) );
CREATE TABLE segments (id INTEGER PRIMARY KEY,name VARCHAR,url_id INTEGER NON NULL);
CREATE INDEX segments_name ON segments(name);
CREATE INDEX segments_url_id ON segments(url_id);
CREATE TABLE segment_usage (id INTEGER PRIMARY KEY,segment_id INTEGER NOT NULL,time_slot INTEGER NOT NULL,visit_count INTEGER DEFAULT 0 NOT NULL);
CREATE INDEX segment_usage_time_slot_segment_id ON segment_usage(time_slot, segment_id);
CREATE INDEX segments_usage_seg_id ON segment_usage(segment_id);
CREATE TABLE content_annotations(visit_id INTEGER PRIMARY KEY,visibility_score NUMERIC,floc_protected_score NUMERIC,categories VARCHAR,page_topics_model_version INTEGER,annotation_flags INTEGER NOT NULL,entities VARCHAR,related_searches VARCHAR,search_normalized_url VARCHAR,search_terms LONGVARCHAR,alternative_title VARCHAR,page_language VARCHAR,password_state INTEGER DEFAULT 0 NOT NULL,has_url_keyed_image BOOLEAN NOT NULL);
CREATE TABLE context_annotations(visit_id INTEGER PRIMARY KEY,context_annotation_flags INTEGER NOT NULL,duration_since_last_visit INTEGER,page_end_reason INTEGER,total_foreground_duration INTEGER,browser_type INTEGER DEFAULT 0 NOT NULL,window_id INTEGER DEFAULT -1 NOT NULL,tab_id INTEGER DEFAULT -1 NOT NULL,task_id INTEGER DEFAULT -1 NOT NULL,root_task_id INTEGER DEFAULT -1 NOT NULL,parent_task_id INTEGER DEFAULT -1 NOT NULL,response_code INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE clusters(cluster_id INTEGER PRIMARY KEY AUTOINCREMENT,should_show_on_prominent_ui_surfaces BOOLEAN NOT NULL,label VARCHAR NOT NULL,raw_label VARCHAR NOT NULL,triggerability_calculated BOOLEAN NOT NULL,originator_cache_guid TEXT NOT NULL,originator_cluster_id INTEGER NOT NULL);
CREATE TABLE clusters_and_visits(cluster_id INTEGER NOT NULL,visit_id INTEGER NOT NULL,score NUMERIC DEFAULT 0 NOT NULL,engagement_score NUMERIC DEFAULT 0 NOT NULL,url_for_deduping LONGVARCHAR NOT NULL,normalized_url LONGVARCHAR NOT NULL,url_for_display LONGVARCHAR NOT NULL,interaction_state INTEGER DEFAULT 0 NOT NULL,PRIMARY KEY(cluster_id,visit_id))WITHOUT ROWID;
CREATE INDEX clusters_for_visit ON clusters_and_visits(visit_id);
CREATE TABLE cluster_keywords(cluster_id INTEGER NOT NULL,keyword VARCHAR NOT NULL,type INTEGER NOT NULL,score NUMERIC NOT NULL,collections VARCHAR NOT NULL);
CREATE INDEX cluster_keywords_cluster_id_index ON cluster_keywords(cluster_id);
CREATE TABLE cluster_visit_duplicates(visit_id INTEGER NOT NULL,duplicate_visit_id INTEGER NOT NULL,PRIMARY KEY(visit_id,duplicate_visit_id))WITHOUT ROWID;
CREATE TABLE visited_links(id INTEGER PRIMARY KEY AUTOINCREMENT,link_url_id INTEGER NOT NULL,top_level_url LONGVARCHAR NOT NULL,frame_url LONGVARCHAR NOT NULL,visit_count INTEGER DEFAULT 0 NOT NULL);
CREATE INDEX visited_links_index ON visited_links (link_url_id, top_level_url, frame_url);
CREATE TABLE history_sync_metadata (storage_key INTEGER PRIMARY KEY NOT NULL, value BLOB);
CREATE TABLE journeys (journey_id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, emoji TEXT, overview TEXT, short_overview TEXT, creation_time_micros INTEGER NOT NULL);
CREATE INDEX journeys_creation_time_idx ON journeys (creation_time_micros);
CREATE TABLE journey_history_entries (journey_id TEXT NOT NULL, visit_timestamp_micros INTEGER NOT NULL, PRIMARY KEY (journey_id, visit_timestamp_micros)) WITHOUT ROWID;
CREATE INDEX journey_history_entries_timestamp_idx ON journey_history_entries (visit_timestamp_micros);
CREATE TABLE journey_continuation_queries (id INTEGER PRIMARY KEY, journey_id TEXT NOT NULL, title TEXT NOT NULL, prompt TEXT NOT NULL);
CREATE INDEX journey_continuation_queries_journey_id_idx ON journey_continuation_queries (journey_id);
CREATE TABLE journey_sync_metadata (storage_key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
CREATE INDEX urls_url_index ON urls (url);
"""

GOLDEN_RATIO = 0x9E3779B9
WEBKIT_EPOCH_DELTA_US = 11644473600000000
DAY_US = 86_400_000_000


def _hash_bytes(data: bytes) -> int:
    h = 0
    for c in data:
        h = ((((h << 5) | (h >> 27)) & 0xFFFFFFFF) ^ c) * GOLDEN_RATIO & 0xFFFFFFFF
    return h


def firefox_url_hash(url: str) -> int:
    """mozilla::places::HashURL(spec, "") as the SQL function hash(url) computes it."""
    data = url.encode("utf-8")
    colon = data.find(b":")
    prefix = data[:colon] if colon >= 0 else b""
    return ((_hash_bytes(prefix) & 0xFFFF) << 32) + _hash_bytes(data[:1500])


def _guid() -> str:
    return base64.urlsafe_b64encode(os.urandom(9)).decode()


def now_us() -> int:
    return int(time.time() * 1_000_000)


# Places frecency: points per visit type, weighted by the visit's age bucket (days -> weight).
_FF_BONUS = {1: 100, 2: 2000, 3: 75, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0}
_FF_BUCKETS = ((4, 100), (14, 70), (31, 50), (90, 30))


class FirefoxProfile:
    """A places.sqlite filled through Firefox's conventions. `conn` stays open (WAL) until close()."""

    ROOTS = [
        (1, 0, "", "root________"),
        (2, 1, "menu", "menu________"),
        (3, 1, "toolbar", "toolbar_____"),
        (4, 1, "tags", "tags________"),
        (5, 1, "unfiled", "unfiled_____"),
        (6, 1, "mobile", "mobile______"),
    ]

    def __init__(self, path: Path, *, wal: bool = True):
        self.path = Path(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("PRAGMA page_size=32768")
        if wal:
            self.conn.execute("PRAGMA journal_mode=WAL")
            # Firefox checkpoints itself; keep rows in the WAL like a running browser does.
            self.conn.execute("PRAGMA wal_autocheckpoint=0")
        self.conn.executescript(FIREFOX_SCHEMA)
        self.conn.execute(f"PRAGMA user_version={FIREFOX_PLACES_SCHEMA_VERSION}")
        t = now_us()
        for i, parent, title, guid in self.ROOTS:
            self.conn.execute(
                "INSERT INTO moz_bookmarks (id, type, fk, parent, position, title, dateAdded,"
                " lastModified, guid, syncStatus, syncChangeCounter) VALUES (?,2,NULL,?,?,?,?,?,?,1,1)",
                (i, parent, max(0, i - 2), title, t, t, guid),
            )

    def _origin(self, url: str) -> int | None:
        parts = urlsplit(url)
        if not parts.netloc:
            return None
        prefix = f"{parts.scheme}://"
        host = parts.netloc.rsplit("@", 1)[-1]
        self.conn.execute(
            "INSERT OR IGNORE INTO moz_origins (prefix, host, frecency) VALUES (?,?,1)",
            (prefix, host),
        )
        return self.conn.execute(
            "SELECT id FROM moz_origins WHERE prefix=? AND host=?", (prefix, host)
        ).fetchone()[0]

    def place(self, url: str, title: str | None = None) -> int:
        row = self.conn.execute(
            "SELECT id FROM moz_places WHERE url_hash=? AND url=?", (firefox_url_hash(url), url)
        ).fetchone()
        if row:
            if title is not None:
                self.conn.execute("UPDATE moz_places SET title=? WHERE id=?", (title, row[0]))
            return row[0]
        host = (urlsplit(url).hostname or "") if "://" in url else ""
        cur = self.conn.execute(
            "INSERT INTO moz_places (url, title, rev_host, hidden, typed, frecency, guid,"
            " foreign_count, url_hash, origin_id, recalc_frecency) VALUES (?,?,?,0,0,-1,?,0,?,?,1)",
            (url, title, host[::-1] + ".", _guid(), firefox_url_hash(url), self._origin(url)),
        )
        return cur.lastrowid

    def visit(self, url: str, title: str | None = None, when: int | None = None, visit_type: int = 1,
              from_visit: int = 0) -> int:  # fmt: skip
        """Record a visit as Firefox does: a moz_historyvisits row, moz_places counters, frecency."""
        when = when if when is not None else now_us()
        pid = self.place(url, title)
        cur = self.conn.execute(
            "INSERT INTO moz_historyvisits (from_visit, place_id, visit_date, visit_type, session,"
            " source) VALUES (?,?,?,?,0,0)",
            (from_visit, pid, when, visit_type),
        )
        counted = visit_type not in (4, 7, 8, 5, 6)
        self.conn.execute(
            "UPDATE moz_places SET visit_count = visit_count + ?, typed = max(typed, ?),"
            " last_visit_date = max(coalesce(last_visit_date, 0), ?) WHERE id = ?",
            (1 if counted else 0, 1 if visit_type == 2 else 0, when, pid),
        )
        self._frecency(pid)
        return cur.lastrowid

    def _frecency(self, pid: int) -> None:
        rows = self.conn.execute(
            "SELECT visit_date, visit_type FROM moz_historyvisits WHERE place_id=?"
            " ORDER BY visit_date DESC LIMIT 10",
            (pid,),
        ).fetchall()
        count = self.conn.execute(
            "SELECT visit_count FROM moz_places WHERE id=?", (pid,)
        ).fetchone()[0]
        now = now_us()
        points = 0.0
        for when, vtype in rows:
            age = (now - when) / DAY_US
            weight = next((w for days, w in _FF_BUCKETS if age <= days), 10)
            points += _FF_BONUS.get(vtype, 0) / 100 * weight
        frecency = int(max(count, 1) * points / len(rows)) if rows else 0
        self.conn.execute(
            "UPDATE moz_places SET frecency=?, recalc_frecency=0 WHERE id=?", (frecency, pid)
        )

    def folder(self, title: str, parent_guid: str = "toolbar_____") -> int:
        parent = self.conn.execute(
            "SELECT id FROM moz_bookmarks WHERE guid=?", (parent_guid,)
        ).fetchone()[0]
        return self._item(2, None, parent, title)

    def _item(self, kind: int, fk: int | None, parent: int, title: str | None) -> int:
        pos = self.conn.execute(
            "SELECT count(*) FROM moz_bookmarks WHERE parent=?", (parent,)
        ).fetchone()[0]
        t = now_us()
        cur = self.conn.execute(
            "INSERT INTO moz_bookmarks (type, fk, parent, position, title, dateAdded, lastModified,"
            " guid, syncStatus, syncChangeCounter) VALUES (?,?,?,?,?,?,?,?,1,1)",
            (kind, fk, parent, pos, title, t, t, _guid()),
        )
        if fk is not None:
            self.conn.execute(
                "UPDATE moz_places SET foreign_count = foreign_count + 1 WHERE id=?", (fk,)
            )
        return cur.lastrowid

    def bookmark(
        self, url: str, title: str, parent: int | str = "toolbar_____", tags: list[str] = ()
    ) -> int:
        pid = self.place(url)
        if isinstance(parent, str):
            parent = self.conn.execute(
                "SELECT id FROM moz_bookmarks WHERE guid=?", (parent,)
            ).fetchone()[0]
        item = self._item(1, pid, parent, title)
        for tag in tags:
            row = self.conn.execute(
                "SELECT id FROM moz_bookmarks WHERE parent=4 AND type=2 AND title=?", (tag,)
            ).fetchone()
            folder = row[0] if row else self._item(2, None, 4, tag)
            self._item(1, pid, folder, None)
        return item

    def close(self) -> None:
        self.conn.close()


class ChromiumProfile:
    """A Chromium profile directory: History (SQLite) and Bookmarks (JSON)."""

    def __init__(self, profile_dir: Path):
        self.dir = Path(profile_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "History"
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.executescript(CHROMIUM_SCHEMA)
        self.conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?,?)",
            [("mmap_status", "-1"), ("version", str(CHROMIUM_HISTORY_VERSION)),
             ("last_compatible_version", "16")],
        )  # fmt: skip
        self.bookmark_roots = {"bookmark_bar": [], "other": [], "synced": []}
        self._next_id = 4

    @staticmethod
    def webkit(unix_us: int) -> int:
        return unix_us + WEBKIT_EPOCH_DELTA_US

    def url_id(self, url: str, title: str = "") -> int:
        row = self.conn.execute("SELECT id FROM urls WHERE url=?", (url,)).fetchone()
        if row:
            if title:
                self.conn.execute("UPDATE urls SET title=? WHERE id=?", (title, row[0]))
            return row[0]
        return self.conn.execute(
            "INSERT INTO urls (url, title, visit_count, typed_count, last_visit_time, hidden)"
            " VALUES (?,?,0,0,0,0)",
            (url, title),
        ).lastrowid

    def visit(self, url: str, title: str = "", when: int | None = None, core: int = 0,
              qualifiers: int = 0x30000000) -> int:  # fmt: skip
        """`when` in µs since 1970 (stored in the WebKit epoch); CHAIN_START|CHAIN_END by default."""
        when = self.webkit(when if when is not None else now_us())
        uid = self.url_id(url, title)
        cur = self.conn.execute(
            "INSERT INTO visits (url, visit_time, from_visit, transition, segment_id, visit_duration,"
            " incremented_omnibox_typed_score, is_known_to_sync, consider_for_ntp_most_visited)"
            " VALUES (?,?,0,?,0,0,?,0,1)",
            (uid, when, core | qualifiers, 1 if core == 1 else 0),
        )
        if core not in (3, 4):  # subframes do not count as visits of the page
            self.conn.execute(
                "UPDATE urls SET visit_count = visit_count + 1, typed_count = typed_count + ?,"
                " last_visit_time = max(last_visit_time, ?) WHERE id=?",
                (1 if core == 1 else 0, when, uid),
            )
        return cur.lastrowid

    def bookmark(
        self, url: str, name: str, folder: list[str] = (), root: str = "bookmark_bar"
    ) -> None:
        children = self.bookmark_roots[root]
        for part in folder:
            node = next((n for n in children if n["type"] == "folder" and n["name"] == part), None)
            if node is None:
                node = self._node("folder", part)
                node["children"] = []
                children.append(node)
            children = node["children"]
        node = self._node("url", name)
        node["url"] = url
        children.append(node)
        self.write_bookmarks()

    def _node(self, kind: str, name: str) -> dict:
        self._next_id += 1
        t = str(self.webkit(now_us()))
        return {"date_added": t, "date_last_used": "0", "guid": _uuid(), "id": str(self._next_id),
                "name": name, "type": kind, **({"date_modified": t} if kind == "folder" else {})}  # fmt: skip

    def write_bookmarks(self) -> None:
        names = {"bookmark_bar": ("1", "Bookmarks bar"), "other": ("2", "Other bookmarks"),
                 "synced": ("3", "Mobile bookmarks")}  # fmt: skip
        roots = {}
        md5 = hashlib.md5()
        for key, (rid, name) in names.items():
            node = {"children": self.bookmark_roots[key], "date_added": "0", "date_modified": "0",
                    "guid": _uuid(), "id": rid, "name": name, "type": "folder"}  # fmt: skip
            _checksum(md5, node)
            roots[key] = node
        data = {"checksum": md5.hexdigest(), "roots": roots, "version": 1}
        (self.dir / "Bookmarks").write_text(json.dumps(data, indent=3, ensure_ascii=False))

    def close(self) -> None:
        self.conn.close()


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _checksum(md5, node: dict) -> None:
    """BookmarkCodec: id, title (UTF-16LE), then "url"+url or "folder" and the children."""
    md5.update(node["id"].encode())
    md5.update(node["name"].encode("utf-16-le"))
    if node["type"] == "url":
        md5.update(b"url")
        md5.update(node["url"].encode())
    else:
        md5.update(b"folder")
        for child in node["children"]:
            _checksum(md5, child)


def netscape_html(path: Path, items: list[tuple[str, str, str, list[str]]]) -> Path:
    """A bookmark export as Firefox writes it: (url, title, folder "A/B", tags)."""
    import html

    lines = ["<!DOCTYPE NETSCAPE-Bookmark-file-1>",
             '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">',
             "<TITLE>Bookmarks</TITLE>", "<H1>Bookmarks Menu</H1>", "", "<DL><p>"]  # fmt: skip
    for url, title, folder, tags in items:
        parts = [p for p in folder.split("/") if p]
        for depth, part in enumerate(parts):
            lines.append(
                "    " * (depth + 1) + f'<DT><H3 ADD_DATE="1700000000">{html.escape(part)}</H3>'
            )
            lines.append("    " * (depth + 1) + "<DL><p>")
        tag_attr = f' TAGS="{html.escape(",".join(tags))}"' if tags else ""
        lines.append(
            "    " * (len(parts) + 1)
            + f'<DT><A HREF="{html.escape(url)}" ADD_DATE="1700000000"{tag_attr}>{html.escape(title)}</A>'
        )
        for depth in reversed(range(len(parts))):
            lines.append("    " * (depth + 1) + "</DL><p>")
    lines.append("</DL>")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)
