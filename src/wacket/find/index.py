"""`wacket find index`: walk each host's roots remotely (one tree.scan stream per root, hashes
cached on the host) and write the host's catalog. Hosts run in parallel; a host that cannot be
reached keeps its previous catalog and is reported."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from wacket.errors import ConfigError
from wacket.find import catalog

# Excluded unless `default_excludes = false`: caches, dependency trees, VCS internals, trash,
# and wacket's own data. A trailing / means directories only; a / inside anchors at the root.
DEFAULT_EXCLUDE = [
    ".cache/",
    ".thumbnails/",
    "node_modules/",
    "bower_components/",
    ".git/",
    ".hg/",
    ".svn/",
    ".bzr/",
    "_darcs/",
    "CVS/",
    "__pycache__/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".tox/",
    ".nox/",
    ".gradle/",
    ".npm/",
    ".Trash-*/",
    ".local/share/Trash/",
    ".local/share/wacket/",
    ".cargo/registry/",
    ".rustup/",
]
DEFAULT_HASH_MIN = 4096
DEFAULT_ROOTS = ["~"]
_KEYS = {"roots", "exclude", "default_excludes", "hash_min", "content"}


@dataclass
class Settings:
    roots: list[str] = field(default_factory=lambda: list(DEFAULT_ROOTS))
    exclude: list[str] = field(default_factory=list)
    hash_min: int = DEFAULT_HASH_MIN
    content: bool | None = None  # None: as the host's previous catalog

    def record(self) -> dict:
        return {"roots": self.roots, "exclude": self.exclude, "hash_min": self.hash_min}


def _list(config, value, *keys) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise config.error(f"{'.'.join(keys)} must be a list of strings", *keys)
    return list(value)


def settings_for(
    config,
    host: str,
    roots: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    content: bool | None = None,
) -> Settings:
    """[find] (and [find.hosts.NAME]) from the config, then the command line on top."""
    from wacket import timeparse

    section = config.section("find")
    per_host = section.get("hosts", {})
    if not isinstance(per_host, dict):
        raise config.error("[find.hosts] must be a table of host names", "find", "hosts")
    layers = [("find", section)]
    if isinstance(per_host.get(host), dict):
        layers.append((f"find.hosts.{host}", per_host[host]))
    s = Settings()
    default_excludes = True
    extra: list[str] = []
    for name, layer in layers:
        unknown = set(layer) - _KEYS - ({"hosts"} if name == "find" else set())
        if unknown:
            raise config.error(f"[{name}] unknown key {sorted(unknown)[0]!r}", *name.split("."))
        if "roots" in layer:
            s.roots = _list(config, layer["roots"], *name.split("."), "roots")
        if "exclude" in layer:
            extra += _list(config, layer["exclude"], *name.split("."), "exclude")
        if "default_excludes" in layer:
            default_excludes = bool(layer["default_excludes"])
        if "hash_min" in layer:
            v = layer["hash_min"]
            try:
                s.hash_min = int(v) if isinstance(v, int) else timeparse.size(str(v))
            except ConfigError:
                raise config.error(
                    f"bad hash_min {v!r}: use e.g. 4096 or 1M", name, "hash_min"
                ) from None
        if "content" in layer:
            s.content = bool(layer["content"])
    if roots:
        s.roots = list(roots)
    if content is not None:
        s.content = content
    s.exclude = (list(DEFAULT_EXCLUDE) if default_excludes else []) + extra + list(exclude)
    return s


def index_host(pool, host, settings: Settings) -> dict:
    """Walk `host`'s roots and replace its catalog. Returns a summary; raises if unreachable."""
    started = time.time()
    session = pool.session(host)
    helper = session.helper()
    roots = helper.call("find.roots", roots=settings.roots)
    writer = catalog.Writer(host.name)
    errors: list[list[str]] = []
    hashed = hashed_bytes = 0
    try:
        done_roots = []
        for _given, absroot, is_dir in roots:
            if not is_dir:
                errors.append([absroot, "not a directory (root skipped)"])
                continue
            if absroot in done_roots:
                continue
            done_roots.append(absroot)
            writer.add_root(absroot)
            final: dict = {}
            stream = helper.stream(
                "tree.scan",
                on_done=final.update,
                root=absroot,
                exclude=settings.exclude,
                hash=True,
                hash_min=settings.hash_min,
                cache="find-" + absroot,
                cache_inode=True,
                cache_prune=True,
                compress=not host.is_local,
                groups=True,
                workers=0,
            )
            for item in stream:
                writer.add_groups(item)
            writer.add_counts(final)
            for rel, message in final.get("errors", []):
                errors.append([absroot if rel == "." else catalog.join_path(absroot, rel), message])
            hashed += final.get("hashed", 0)
            hashed_bytes += final.get("hashed_bytes", 0)
        docs = None
        use_content = settings.content
        if use_content is None:
            previous = catalog.open_catalog(host.name)
            use_content = bool(previous and previous.has_docs)
            if previous is not None:
                previous.close()
        if use_content:
            from wacket.find import content

            docs = content.index_documents(helper, writer, host.name)
        meta = {
            "indexed_at": time.time(),
            "started": started,
            "roots": done_roots,
            "settings": settings.record(),
            "errors": errors[:200],
            "error_count": len(errors),
            "hashed_now": hashed,
            "hashed_bytes_now": hashed_bytes,
            "content": docs is not None,
            "docs": docs,
            "seconds": round(time.time() - started, 3),
        }
        writer.commit(meta)
    except BaseException:
        writer.abort()
        raise
    return dict(meta, **writer.counts, host=host.name)


def index(pool, hosts, settings_of, forks: int = 8, on_result=None) -> list:
    """Index `hosts` in parallel; `settings_of(host)` gives each one's Settings.

    Each host's outcome is recorded in hosts.json; results come back in host order.
    """
    from wacket.transport.fanout import fan_out

    order = {h.name: i for i, h in enumerate(hosts)}
    results = []
    for res in fan_out(hosts, lambda h: index_host(pool, h, settings_of(h)), forks):
        catalog.record_attempt(res.host, None if res.ok else describe_error(res.error))
        if on_result is not None:
            on_result(res)
        results.append(res)
    return sorted(results, key=lambda r: order[r.host])


def describe_error(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(exc)
    return f"{reason}: {text}" if reason and reason not in text else text


def host_record(res) -> dict:
    """One host's indexing (its HostResult) as `find index` shows it."""
    if not res.ok:
        return {"host": res.host, "state": "down" if res.unreachable else "failed",
                "error": str(res.error)}  # fmt: skip
    v = res.value
    return {
        "host": res.host,
        "state": "indexed",
        "entries": v["entries"],
        "files": v["files"],
        "dirs": v["dirs"],
        "hashed": v["hashed_now"],
        "errors": v["error_count"],
        "seconds": round(res.seconds, 2),
        "roots": v["roots"],
        "docs": v.get("docs"),
        "problems": v["errors"][:20],
    }


def summary(results) -> tuple[str, int]:
    """The journal's line for an index run (its hosts' HostResults) and how many entries could
    not be read."""
    ok = results.succeeded
    unreadable = sum(r.value["error_count"] for r in ok)
    line = "indexed: " + (", ".join(f"{r.host}({r.value['entries']})" for r in ok) or "-")
    if results.failed:
        line += "; not indexed: " + results.reasons(", ")
    if unreadable:
        line += f"; {unreadable} unreadable entries"
    return line, unreadable
