"""SOURCE arguments -> files on some machine -> private local copies -> merged into the master.

A SOURCE is `-` (JSON lines on stdin), a local file or directory, or `HOST:PATH` for a fleet host
(`HOST` a name from the fleet; a local path that exists wins over that reading). A directory stands
for the browser files in it and in its direct subdirectories: a Firefox profile or profiles dir, a
Chromium profile (`Default`) or user-data dir. A remote file is copied over SFTP (with its `-wal`
and `-journal`, again when it changed while being copied) before it is read.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wacket.errors import UnreachableError, WacketError
from wacket.links import chromium, firefox, netscape
from wacket.links.discover import browser_of
from wacket.links.master import Master, MergeResult, SourceInfo
from wacket.links.snapshot import SIDE_FILES, SQLITE_MAGIC, Snapshot, SourceError, open_copy

NAMES = ("places.sqlite", "History", "Bookmarks")


@dataclass
class Located:
    host: object  # wacket.fleet.Host
    path: str  # on that host
    spec: str  # what the user wrote

    @property
    def label(self) -> str:
        return self.path if self.host.is_local else f"{self.host.name}:{self.path}"


def parse_spec(spec: str, fleet_get: Callable[[str], object]):
    """(host, path) for one SOURCE argument."""
    from wacket.fleet import LOCAL

    if ":" in spec and not os.path.exists(spec):
        name, _, path = spec.partition(":")
        if name and "/" not in name:
            try:
                return fleet_get(name), path or "~"
            except WacketError:
                pass
    return fleet_get(LOCAL), spec


def expand_local(path: str) -> list[str]:
    p = Path(os.path.expanduser(path))
    if p.is_dir():
        found = [p / n for n in NAMES if (p / n).is_file()]
        for sub in sorted(x for x in p.iterdir() if x.is_dir()):
            found += [sub / n for n in NAMES if (sub / n).is_file()]
        if not found:
            raise SourceError(f"{path}: no places.sqlite, History or Bookmarks in this directory")
        return [str(f.resolve()) for f in found]
    if not p.exists() and not p.is_symlink():
        raise SourceError(f"{path}: no such file or directory")
    return [str(p.resolve()) if p.exists() else str(p)]


def _expand_script(path: str) -> str:
    import shlex

    if path == "~" or path.startswith("~/"):
        quoted = '"$HOME"' + shlex.quote(path[1:]) if len(path) > 1 else '"$HOME"'
    else:
        quoted = shlex.quote(path)
    names = " ".join(f'"$p"/{n}' for n in NAMES) + " " + " ".join(f'"$p"/*/{n}' for n in NAMES)
    return (
        f'p={quoted}; if [ -d "$p" ]; then for f in {names}; do [ -f "$f" ] &&'
        ' printf \'%s\\0\' "$f"; done; true; elif [ -e "$p" ]; then printf \'%s\\0\' "$p"; else'
        " echo 'no such file or directory' >&2; exit 2; fi"
    )


def expand_remote(session, path: str) -> list[str]:
    res = session.run(_expand_script(path), timeout=60)
    if res.rc != 0:
        raise SourceError(
            f"{session.host.name}:{path}: {res.stderr.decode(errors='replace').strip()}"
        )
    files = [f for f in res.stdout.decode("utf-8", "surrogateescape").split("\0") if f]
    if not files:
        raise SourceError(
            f"{session.host.name}:{path}: no places.sqlite, History or Bookmarks there"
        )
    return files


def fetch_remote(session, path: str, snap: Snapshot, tries: int = 3) -> Path:
    """Copy a remote file and its side files over SFTP; again if any changed meanwhile."""
    sftp = session.sftp
    dest = snap.path(os.path.basename(path) or "source")

    def stats():
        out = []
        for suffix in ("", *SIDE_FILES):
            try:
                st = sftp.stat(path + suffix)
                out.append((st.st_size, st.st_mtime))
            except OSError:
                out.append(None)
        return out

    for _ in range(tries):
        before = stats()
        if before[0] is None:
            raise SourceError(f"{session.host.name}:{path}: no such file")
        try:
            sftp.get(path, str(dest))
            for suffix, st in zip(SIDE_FILES, before[1:], strict=True):
                side = Path(str(dest) + suffix)
                side.unlink(missing_ok=True)
                if st is not None:
                    sftp.get(path + suffix, str(side))
        except PermissionError:
            raise SourceError(
                f"{session.host.name}:{path}: cannot read (permission denied)"
            ) from None
        except OSError as exc:
            if before[1:] != stats()[1:]:
                continue  # a side file vanished mid-copy (a checkpoint): copy again
            raise SourceError(f"{session.host.name}:{path}: cannot copy: {exc}") from None
        if stats() == before:
            return dest
    raise SourceError(f"{session.host.name}:{path}: kept changing while being copied; try again")


def detect(path: Path) -> str:
    """firefox | chromium | chromium-bookmarks | netscape, from the file's content."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except PermissionError:
        raise SourceError(f"{path}: cannot read (permission denied)") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.lstrip()[:1] == b"{":
        return "chromium-bookmarks"
    if netscape.looks_like(head):
        return "netscape"
    if not head:
        raise SourceError(f"{path}: empty file")
    raise SourceError(f"{path}: not a browser database or bookmark file")


def sqlite_kind(copy: Path, label: str) -> str:
    conn = open_copy(copy, label)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    if tables >= firefox.TABLES:
        return "firefox"
    if tables >= chromium.TABLES:
        return "chromium"
    raise SourceError(
        f"{label}: an SQLite database, but not Firefox places.sqlite or Chromium History"
    )


def profile_of(path: str) -> str:
    return os.path.basename(os.path.dirname(path)) or "-"


def merge_file(master: Master, host, path: str, local: Path, label: str, snap: Snapshot,
               *, copied: bool, full: bool = False) -> MergeResult:  # fmt: skip
    """Merge one file (`local` is the file itself or an already-taken copy of it)."""
    kind = detect(local)
    if kind == "sqlite":
        if copied:
            copy = local
        else:
            from wacket.links.snapshot import copy_consistent

            copy = copy_consistent(local, Path(snap.path("x").parent))
        kind = sqlite_kind(copy, label)
        info = SourceInfo(
            f"{host.name}:{path}", host.name, browser_of(path, kind), profile_of(path), path, kind
        )
        reader = firefox if kind == "firefox" else chromium
        try:
            return master.merge_history(info, copy, reader, full=full)
        except sqlite3.DatabaseError as exc:
            master.record_failure(info, str(exc))
            raise SourceError(f"{label}: unreadable database ({exc})") from None
    info = SourceInfo(
        f"{host.name}:{path}", host.name, browser_of(path, kind), profile_of(path), path, kind
    )
    try:
        if kind == "chromium-bookmarks":
            items = chromium.read_bookmarks(local)
        else:
            items = netscape.read(local)
    except (chromium.BookmarksError, OSError) as exc:
        master.record_failure(info, str(exc))
        raise SourceError(f"{label}: {exc}") from None
    return master.merge_bookmarks(info, items)


def merge_all(
    master: Master,
    located: list[Located],
    session_for: Callable,
    *,
    full: bool = False,
    on_result: Callable[[MergeResult | None, str, str], None] | None = None,
) -> list[tuple[str, WacketError]]:
    """Merge every located source; returns [(label, error)] for the ones that failed (the error
    itself, so a caller tells an unreachable host by its type).

    `on_result(result, label, error)` is called after each source (result None on failure).
    Errors of a host (unreachable) fail that host's sources only.
    """
    failures: list[tuple[str, WacketError]] = []
    dead_hosts: dict[str, UnreachableError] = {}

    def fail(label: str, error: WacketError):
        failures.append((label, error))
        if on_result:
            on_result(None, label, str(error))

    for loc in located:
        if loc.host.name in dead_hosts:
            fail(loc.label, dead_hosts[loc.host.name])
            continue
        try:
            with Snapshot() as snap:
                if loc.host.is_local:
                    files = expand_local(loc.path)
                else:
                    session = session_for(loc.host)
                    files = expand_remote(session, loc.path)
                for f in files:
                    label = f if loc.host.is_local else f"{loc.host.name}:{f}"
                    try:
                        if loc.host.is_local:
                            res = merge_file(
                                master, loc.host, f, Path(f), label, snap, copied=False, full=full
                            )
                        else:
                            local = fetch_remote(session, f, snap)
                            res = merge_file(
                                master, loc.host, f, local, label, snap, copied=True, full=full
                            )
                    except SourceError as exc:
                        fail(label, exc)
                        continue
                    if on_result:
                        on_result(res, label, "")
        except UnreachableError as exc:
            dead_hosts[loc.host.name] = exc
            fail(loc.label, exc)
        except SourceError as exc:
            fail(loc.label, exc)
    return failures
