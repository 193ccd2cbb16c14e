"""wacket find without SSH: the catalog format, the matcher, config, tree.scan additions, CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wacket.config import Config
from wacket.errors import ConfigError
from wacket.find import catalog, index, query


def make_catalog(host: str, root: str, items: list) -> catalog.Catalog:
    w = catalog.Writer(host)
    w.add_root(root)
    w.add_batch(items)
    w.commit({"indexed_at": 1.0})
    return catalog.open_catalog(host)


def item(rel, kind="f", size=0, mtime=0, digest=None, link=None):
    return [rel, kind, size, mtime, 0o644, digest, link]


def test_catalog_roundtrip_odd_names(isolated_env):
    odd = os.fsdecode(b"caf\xe9-latin1.txt")
    items = [
        item("docs", "d"),
        item("docs/Report.PDF", size=10),
        item("docs/new\nline.txt"),
        item("docs/" + odd),
        item("docs/link", "l", link="../docs"),
        item("x.bin", size=5000, digest="ab" * 32),
    ]
    cat = make_catalog("h", "/home/u", items)
    assert cat.count == 6
    got = [e[2] for e in cat.entries()]
    assert got == [
        "/home/u/docs",
        "/home/u/docs/Report.PDF",
        "/home/u/docs/new\nline.txt",
        "/home/u/docs/" + odd,
        "/home/u/docs/link",
        "/home/u/x.bin",
    ]
    assert os.fsencode(got[3]) == b"/home/u/docs/caf\xe9-latin1.txt"
    assert [e[0] for e in cat.entries([2, 5])] == [2, 5]
    assert next(cat.entries([5]))[7] == "../docs"
    for p in (catalog.db_path("h"), catalog.names_path("h")):
        assert p.stat().st_mode & 0o777 == 0o600

    def names(pattern, **kw):
        return [h.path.rsplit("/", 1)[-1] for h in query.search(query.Query(pattern, **kw), [cat])]

    assert names("report") == ["Report.PDF"]
    assert names("REPORT") == ["Report.PDF"]
    assert names("report", case_sensitive=True) == []
    assert names("new\nline") == ["new\nline.txt"]  # a newline in a pattern matches one in a name
    assert names("line.txt") == ["new\nline.txt"]
    assert names("caf\udce9") == [odd]
    assert names("*.pdf") == ["Report.PDF"]
    assert names("docs", basename=True) == ["docs"]
    assert names("/home/u/docs/*") == ["Report.PDF", "new\nline.txt", odd, "link"]
    assert names("^/home/u/[a-z]+\\.bin$", regex=True) == ["x.bin"]
    assert names("u", types="l") == ["link"]
    assert names("u", larger=100) == ["x.bin"]
    cat.close()


def test_names_rebuilt_when_missing_or_stale(isolated_env):
    cat = make_catalog("h", "/r", [item("a.txt"), item("b.txt")])
    cat.close()
    catalog.names_path("h").unlink()
    cat = catalog.open_catalog("h")
    assert [h.path for h in query.search(query.Query("b.t"), [cat])] == ["/r/b.txt"]
    cat.close()
    catalog.names_path("h").write_bytes(b"WKNAMES2 other 0 0 I".ljust(64))
    cat = catalog.open_catalog("h")
    assert len(list(query.search(query.Query("txt"), [cat]))) == 2
    cat.close()


def test_empty_catalog(isolated_env):
    w = catalog.Writer("e")
    w.commit({"indexed_at": 1.0})
    cat = catalog.open_catalog("e")
    assert list(query.search(query.Query("x"), [cat])) == []
    cat.close()


def test_glob_literal():
    assert query._literal("*/photos/*.jpg") == "/photos/"
    assert query._literal("img_[0-9]*.png") == "img_"
    assert query._literal("*") == ""


def cfg(text: str, tmp_path: Path) -> Config:
    import tomllib

    p = tmp_path / "config.toml"
    p.write_text(text)
    return Config(p, tomllib.loads(text), text)


def test_settings(tmp_path):
    c = cfg(
        '[find]\nroots = ["~/Documents"]\nexclude = ["*.iso"]\nhash_min = "1M"\n'
        '[find.hosts.nas]\nroots = ["/srv"]\ndefault_excludes = false\n',
        tmp_path,
    )
    s = index.settings_for(c, "laptop")
    assert s.roots == ["~/Documents"] and s.hash_min == 1024 * 1024
    assert "node_modules/" in s.exclude and "*.iso" in s.exclude
    n = index.settings_for(c, "nas", exclude=("tmp/",))
    assert n.roots == ["/srv"] and n.exclude == ["*.iso", "tmp/"]
    assert index.settings_for(c, "nas", roots=("/x",)).roots == ["/x"]
    with pytest.raises(ConfigError, match=r"config.toml:1: \[find\] unknown key 'root'"):
        index.settings_for(cfg('[find]\nroot = ["x"]\n', tmp_path), "h")
    with pytest.raises(ConfigError, match="bad hash_min"):
        index.settings_for(cfg('[find]\nhash_min = "lots"\n', tmp_path), "h")


def run_op(name: str, **args):
    """Call a remote op in-process (the helper's own modules, imported as the client does)."""
    from wacket.remote.helper import OPS
    from wacket.remote.ops import find, tree

    assert find and tree  # imported for the ops they register
    items: list = []
    args["_emit"] = items.append
    return OPS[name](args), items


def test_tree_scan_excludes(tmp_path):
    root = tmp_path / "t"
    for rel in (
        "keep.txt",
        "a.tmp",
        "node_modules/x.js",
        "sub/node_modules",  # a file named like an excluded dir: kept (dir-only rule)
        "sub/.cache/c",
        "top/only.txt",
        "sub/top/kept.txt",
        "deep/er/path.txt",
    ):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    excl = ["*.tmp", "node_modules/", ".cache/", "/top", "deep/er/"]
    _, plain = run_op("tree.scan", root=str(root), exclude=excl)
    rels = sorted(e[0] for batch in plain for e in batch)
    assert rels == [
        "deep",
        "keep.txt",
        "sub",
        "sub/node_modules",
        "sub/top",
        "sub/top/kept.txt",
    ]


def test_find_roots_and_text_ops(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "d").mkdir()
    value, _ = run_op("find.roots", roots=["~/d", "~/missing"])
    assert value == [
        ["~/d", str(tmp_path / "d"), True],
        ["~/missing", str(tmp_path / "missing"), False],
    ]
    (tmp_path / "d/a.txt").write_bytes("caf\u00e9 au lait".encode())
    (tmp_path / "d/b.txt").write_bytes(b"caf\xe9 latin-1")
    (tmp_path / "d/c.html").write_text("<style>p{}</style><p>Hello&nbsp;<b>world</b></p>")
    (tmp_path / "d/broken.docx").write_text("not a zip")
    paths = [str(tmp_path / "d" / n) for n in ("a.txt", "b.txt", "c.html", "broken.docx", "x.jpg")]
    _, batches = run_op("find.text", paths=paths)
    out = {Path(p).name: (t, prob) for b in batches for p, t, prob in b}
    assert out["a.txt"] == ("caf\u00e9 au lait", None)
    assert out["b.txt"] == ("caf\u00e9 latin-1", None)
    assert out["c.html"][0] == "Hello world"
    assert out["broken.docx"][0] is None and out["broken.docx"][1]
    assert out["x.jpg"] == (None, "not a document type")


def test_cli_help_and_usage(run_wacket):
    r = run_wacket("find", "--help")
    assert r.returncode == 0
    text = r.stdout.decode()
    assert "Usage: wacket find [PATTERN] [OPTIONS] | COMMAND [ARGS]..." in text
    for sub in ("index", "dupes", "where", "missing", "get", "query"):
        assert f"  {sub} " in text
    assert run_wacket("find").stdout.decode() == text
    r = run_wacket("find", "query", "--help")
    assert b"--online-only" in r.stdout and b"--stale" in r.stdout
    r = run_wacket("find", "anything")
    assert r.returncode == 1 and b"no catalog yet" in r.stderr
    r = run_wacket("find", "--stale", "--jsonl")
    assert r.returncode == 0 and r.stdout == b""
    r = run_wacket("find", "index", "nosuchhost")
    assert r.returncode == 2 and b"unknown host" in r.stderr


def test_cli_local_index_and_query(run_wacket, tmp_path):
    root = tmp_path / "r"
    (root / "a").mkdir(parents=True)
    (root / "a/Budget 2026.ods").write_text("x")
    r = run_wacket("find", "index", "local", "--root", str(root), "--jsonl")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["host"] == "local" and rec["entries"] == 2
    r = run_wacket("find", "budget", "--plain")
    assert r.stdout.decode().split("\t")[:3] == ["local", str(root / "a/Budget 2026.ods"), "1"]
    assert r.stdout.decode().rstrip("\n").endswith("\tup")
    r = run_wacket("find", "--ext", "ODS", "--jsonl")
    assert [json.loads(x)["path"] for x in r.stdout.splitlines()] == [
        str(root / "a/Budget 2026.ods")
    ]
    r = run_wacket("find", "budget", "--json")
    assert [x["host"] for x in json.loads(r.stdout)] == ["local"]


def test_literal_pattern_with_glob_characters(isolated_env):
    cat = make_catalog("h", "/r", [item("a[1].txt"), item("a1.txt"), item("star*.md")])
    lit = [h.path for h in query.search(query.Query("a[1]", literal=True), [cat])]
    assert lit == ["/r/a[1].txt"]
    assert [h.path for h in query.search(query.Query("/r/a[1].txt"), [cat])] == ["/r/a1.txt"]
    assert [h.path for h in query.search(query.Query("r*", literal=True), [cat])] == ["/r/star*.md"]
    cat.close()


def test_tree_scan_cache_by_inode_and_prune(tmp_path, isolated_env):
    import sqlite3

    root = tmp_path / "c"
    root.mkdir()
    for n in ("a", "b"):
        (root / n).write_bytes(n.encode() * 5000)
    kw = dict(
        root=str(root), hash=True, hash_min=4096, cache="t", cache_inode=True, cache_prune=True
    )
    first, _ = run_op("tree.scan", **kw)
    assert first["hashed"] == 2
    (root / "a").rename(root / "a-moved")
    (root / "b").unlink()
    second, batches = run_op("tree.scan", **kw)
    assert second["hashed"] == 0  # same inode, size and mtime: the old hash
    assert [e[0] for b in batches for e in b] == ["a-moved"]
    db = Path(os.environ["WACKET_DATA"]) / "scan-cache" / "t.sqlite"
    assert db.stat().st_mode & 0o777 == 0o600  # paths and hashes
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT dir, name, ino FROM f").fetchall() == [
        (b"", b"a-moved", (root / "a-moved").stat().st_ino)
    ]
    conn.close()
    # Without the new options the cache behaves as before (keyed by path only).
    plain, _ = run_op("tree.scan", root=str(root), hash=True, hash_min=4096, cache="t2")
    assert plain["hashed"] == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_hash_cache_reads_by_directory_writes_only_changes_and_prunes(
    tmp_path, isolated_env, workers
):
    """The cache is read one directory at a time and written only where something changed: a
    second scan of an unchanged tree leaves its file untouched; a deleted file, a directory
    that lost its big files and a removed directory lose their rows; a cache of the earlier
    layout (whole paths) is taken over without hashing again."""
    import sqlite3

    root = tmp_path / "t"
    many = [f"m/d{i:02d}/f.bin" for i in range(20)]  # subtrees for the workers to share
    for rel in ["a/one.bin", "a/two.bin", "b/c/three.bin", "b/four.bin", "top.bin", *many]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode() * 1000)
    kw = dict(root=str(root), hash=True, hash_min=4096, cache="k", cache_inode=True,
              cache_prune=True, groups=True, workers=workers)  # fmt: skip
    db = Path(os.environ["WACKET_DATA"]) / "scan-cache" / "k.sqlite"

    def rows():
        with sqlite3.connect(db) as conn:
            return sorted(conn.execute("SELECT dir, name FROM f"))

    assert run_op("tree.scan", **kw)[0]["hashed"] == 25
    before = db.stat().st_mtime_ns, rows()
    assert run_op("tree.scan", **kw)[0]["hashed"] == 0
    assert (db.stat().st_mtime_ns, rows()) == before  # nothing written
    (root / "a/two.bin").unlink()
    (root / "b/four.bin").write_bytes(b"small")
    for p in (root / "b/c").iterdir():
        p.unlink()
    (root / "b/c").rmdir()
    (root / "m/d07/f.bin").unlink()
    (root / "m/d08/f.bin").rename(root / "m/d09/moved.bin")
    assert run_op("tree.scan", **kw)[0]["hashed"] == 0  # the moved file kept its hash
    kept = [(b"", b"top.bin"), (b"a", b"one.bin")]
    kept += [(f"m/d{i:02d}".encode(), b"f.bin") for i in range(20) if i not in (7, 8)]
    kept += [(b"m/d09", b"moved.bin")]
    assert rows() == sorted(kept)
    for rel in many:
        if (root / rel).exists():
            (root / rel).unlink()
    (root / "m/d09/moved.bin").unlink()
    # The earlier layout: h (path -> hash) and hi (inode -> hash) tables.
    with sqlite3.connect(db) as conn:
        digests = dict(conn.execute("SELECT name, hash FROM f"))
        conn.execute("DROP TABLE f")
        conn.execute("DROP TABLE d")
        conn.execute("CREATE TABLE h (path BLOB PRIMARY KEY, size INT, mtime INT, hash TEXT)")
        conn.execute("CREATE TABLE hi (dev INT, ino INT, size INT, mtime INT, hash TEXT)")
        for rel in ("top.bin", "a/one.bin"):
            st = (root / rel).stat()
            name = rel.rpartition("/")[2].encode()
            conn.execute("INSERT INTO h VALUES (?,?,?,?)",
                         (rel.encode(), st.st_size, st.st_mtime_ns, digests[name]))  # fmt: skip
    assert run_op("tree.scan", **kw)[0]["hashed"] == 0
    assert rows() == [(b"", b"top.bin"), (b"a", b"one.bin")]


def test_index_lock_and_excludes(run_wacket, tmp_path):
    from wacket.lock import job_lock

    root = tmp_path / "r"
    for rel in ("keep.txt", "big.iso", "node_modules/x.js", "build/out.o"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    with job_lock("find-index"):
        r = run_wacket("find", "index", "local", "--root", str(root))
    assert r.returncode == 4 and b"another wacket run holds the lock" in r.stderr
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('[find]\nexclude = ["*.iso"]\n')
    r = run_wacket("find", "index", "local", "--root", str(root), "--exclude", "build/", "--jsonl")
    assert r.returncode == 0, r.stderr
    paths = [
        json.loads(x)["path"] for x in run_wacket("find", str(root), "--jsonl").stdout.splitlines()
    ]
    assert paths == [str(root / "keep.txt")]
    log = run_wacket("log", "--jsonl").stdout.decode()
    assert "find index" in log and "indexed: local(1)" in log


def test_leftovers_of_dead_runs_are_removed(isolated_env):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    d = catalog.find_dir()
    stale = [d / f"h.db.new-{dead.pid}", d / f"h.names.new-{dead.pid}"]
    alive = d / f"h.db.new-{os.getppid()}"
    for p in [*stale, alive]:
        p.write_bytes(b"half-written")
    make_catalog("h", "/r", [item("a")]).close()
    assert not any(p.exists() for p in stale)
    assert alive.exists()  # another live process: not ours to remove


def test_patterns_across_the_root_prefix(isolated_env):
    """Records hold paths relative to their root; matches may cover the root, or straddle it."""
    w = catalog.Writer("m")
    w.add_root("/home/Alice")
    w.add_batch([item("docs", "d"), item("docs/plan.txt"), item("notes.md")])
    w.add_root("/srv/empty")  # a root without entries
    w.add_root("/")
    w.add_batch([item("etc", "d"), item("etc/alice.conf")])
    w.commit({"indexed_at": 1.0})
    cat = catalog.open_catalog("m")

    def paths(pattern, **kw):
        return [h.path for h in query.search(query.Query(pattern, **kw), [cat])]

    assert paths("home/alice") == [
        "/home/Alice/docs",
        "/home/Alice/docs/plan.txt",
        "/home/Alice/notes.md",
    ]
    assert paths("alice/do") == ["/home/Alice/docs", "/home/Alice/docs/plan.txt"]
    assert paths("ice/notes") == ["/home/Alice/notes.md"]
    assert paths("/etc/a") == ["/etc/alice.conf"]
    assert paths("alice") == [
        "/home/Alice/docs",
        "/home/Alice/docs/plan.txt",
        "/home/Alice/notes.md",
        "/etc/alice.conf",
    ]
    assert paths("Alice", case_sensitive=True) == paths("home/alice")
    assert paths("/home/*/notes.md") == ["/home/Alice/notes.md"]
    assert paths("*alice*", basename=True) == ["/etc/alice.conf"]
    assert paths(r"^/home/alice/[a-z.]+$", regex=True) == [
        "/home/Alice/docs",
        "/home/Alice/notes.md",
    ]
    assert paths(r"^/etc", regex=True) == ["/etc", "/etc/alice.conf"]
    assert paths(r"^(alice|notes)\.", regex=True, basename=True) == [
        "/home/Alice/notes.md",
        "/etc/alice.conf",
    ]
    cat.close()
    # A rebuilt names file (deleted here) answers the same.
    catalog.names_path("m").unlink()
    cat = catalog.open_catalog("m")
    assert [h.path for h in query.search(query.Query("alice/do"), [cat])] == [
        "/home/Alice/docs",
        "/home/Alice/docs/plan.txt",
    ]
    cat.close()


def _decoded(batch: bytes) -> tuple[list, list, list]:
    """A grouped tree.scan batch as (entries with their relative paths, keys, hashes)."""
    got = []
    rows, dirs, keys, hashes = catalog.read_groups(batch)
    for (n, blob), parent in zip(rows, dirs, strict=True):
        part = catalog.dir_items(blob)
        assert len(part) == n
        assert {e[0].rpartition("/")[0] for e in part} == {parent}  # one directory, named in d
        got += part
    return got, keys.split("\n"), hashes


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("exclude", [["*.tmp", "node_modules/"], ["node_modules/"]])
def test_tree_scan_groups_same_records_as_plain(tmp_path, isolated_env, workers, exclude):
    """tree.scan with `groups` (what find index uses), walked by one process or by forked
    workers, with a rule for files (each entry looked at in turn) or only for directories (the
    columns built in bulk), gives the plain walk's records in the same order, hashes, counts and
    errors, and a catalog built from it equals one built entry by entry."""
    import zlib

    root = tmp_path / "hostile"
    for d in range(40):  # enough subtrees for the workers to share
        for f in range(3):
            p = root / "many" / f"d{d:02d}" / f"f{f}.dat"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"m%d-%d" % (d, f) * (2000 if f == 0 else 1))
    names = [
        "new\nline.txt",
        "sp ace s.txt",
        "-leading-dash",
        "--",
        "UPPER.PDF",
        "a.tmp",
        "sub/inner\nnl/deep.txt",
        "sub/x.bin",
        "node_modules/y.js",
    ]
    for rel in names:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"z" * (5000 if rel.endswith(".bin") else 3))
    bad = os.path.join(os.fsencode(root), b"caf\xe9\nbad")
    os.mkdir(bad)
    with open(os.path.join(bad, b"\xff\xfe.txt"), "wb") as fh:
        fh.write(b"q" * 6000)
    os.symlink("sub", root / "link-to-sub")
    os.symlink("missing\ntarget", root / "dangling")
    os.symlink(".", root / "sub" / "loop")
    os.mkfifo(root / "fifo")
    (root / "future").mkdir()  # an mtime beyond int64 nanoseconds (year 2300): a JSON row
    (root / "future" / "far.txt").write_text("f")
    os.utime(root / "future" / "far.txt", ns=(0, 10_413_792_000 * 10**9))
    os.utime(root / "sp ace s.txt", ns=(0, -86_400 * 10**9))  # before 1970
    kw = dict(root=str(root), exclude=exclude, hash=True, hash_min=4096, batch=4)
    plain_final, plain = run_op("tree.scan", cache="p", **kw)
    group_final, grouped = run_op("tree.scan", cache="g", groups=True, workers=workers, **kw)
    records = [e for b in plain for e in b]
    assert len(grouped) > 1  # several batches
    got, keys, hashes = [], [], []
    for b in grouped:
        assert isinstance(b, bytes) and b'"z":false' in b[: b.index(b"\n")]
        part, part_keys, part_hashes = _decoded(b)
        hashes += [(len(got) + i, h, size) for i, h, size in part_hashes]
        got += part
        keys += part_keys
    assert got == records
    mtimes = {e[0]: e[3] for e in got}
    assert mtimes["future/far.txt"] == 10_413_792_000 * 10**9
    assert mtimes["sp ace s.txt"] == -86_400 * 10**9
    kinds = {zlib.decompress(row)[:1] for b in grouped for _n, row in catalog.read_groups(b)[0]}
    assert kinds == {b"\x01", b"["}  # binary columns, and the JSON row for year 2300
    assert keys == [e[0].rpartition("/")[2].replace("\n", "\0") for e in records]  # names
    assert hashes == [(i, e[5], e[2]) for i, e in enumerate(records) if e[5] is not None]
    assert len(hashes) == 42
    assert group_final["entries"] == len(records)
    assert group_final["links"] == sum(e[1] == "l" for e in records) == 3
    for k in ("files", "dirs", "bytes", "hashed", "hashed_bytes", "errors"):
        assert group_final[k] == plain_final[k], k
    # Hashes come from the cache the first walk filled (the workers' additions included).
    again_final, packed = run_op(
        "tree.scan", cache="g", groups=True, compress=True, workers=workers, **kw
    )
    assert again_final["hashed"] == 0 and group_final["hashed"] == 42
    assert [_decoded(b) for b in packed] == [_decoded(b) for b in grouped]
    assert all(b'"z":true' in b[: b.index(b"\n")] for b in packed)

    def build(host, batches, grouped_batches):
        w = catalog.Writer(host)
        w.add_root("/r")
        for b in batches:
            if grouped_batches:
                w.add_groups(b)
            else:
                w.add_batch(b)
        if grouped_batches:
            w.add_counts(group_final)
        w.commit({"indexed_at": 1.0})
        return w.counts, catalog.open_catalog(host)

    counts_a, a = build("a", plain, False)
    counts_b, b = build("b", grouped, True)
    assert counts_a == counts_b
    assert list(a.entries()) == list(b.entries())
    assert a.names().text() == b.names().text()
    assert [a.names().full(i) for i in range(a.count)] == [
        b.names().full(i) for i in range(b.count)
    ]
    assert [h.path for h in query.search(query.Query("line"), [b])] == ["/r/new\nline.txt"]
    hits = [h.path for h in query.search(query.Query("nl"), [b])]
    assert hits == ["/r/sub/inner\nnl", "/r/sub/inner\nnl/deep.txt"]
    assert (
        a.conn.execute("SELECT * FROM hashes").fetchall()
        == b.conn.execute("SELECT * FROM hashes").fetchall()
    )
    a.close()
    b.close()


def test_query_of_local_catalog_reads_no_fleet(isolated_env):
    """With only this machine's catalog, a query neither reads the config and ~/.ssh/config nor
    imports the fleet modules (start-up time), and still shows the local host as up."""
    from probe import run_probe

    make_catalog("local", "/home/me", [item("docs/zebra-quartz.pdf")]).close()
    lines, loaded = run_probe(
        "from wacket.cli.main import cli",
        "cli.main(['find', 'zebra', '--plain'], prog_name='wacket')",
    )
    assert lines[0].split("\t")[:2] == ["local", "/home/me/docs/zebra-quartz.pdf"]
    assert lines[0].split("\t")[4] == "up"
    assert "EXIT 0" in lines
    assert not {"wacket.fleet", "wacket.config", "wacket.sshconfig"} & loaded


def _flat(batches: list) -> list:
    return [e for b in batches for e in _decoded(b)[0]]


def test_tree_scan_more_subtrees_than_the_task_pipe_holds(tmp_path, isolated_env):
    """17,000 subtrees (68 KB of task numbers, more than a pipe buffer) are all handed out, and
    the forked walk still gives the single walk's entries in order."""
    root = tmp_path / "wide"
    root.mkdir()
    for i in range(17000):
        os.mkdir(root / f"d{i:05d}")
    (root / "d16999" / "last.txt").write_text("x")
    kw = dict(root=str(root), groups=True, batch=500)
    one_final, one = run_op("tree.scan", workers=1, **kw)
    two_final, two = run_op("tree.scan", workers=2, **kw)
    assert _flat(two) == _flat(one)
    assert len(_flat(one)) == 17001 and _flat(one)[-1][0] == "d16999/last.txt"
    assert two_final == one_final


def test_tree_scan_walks_alone_when_it_cannot_fork(tmp_path, isolated_env, monkeypatch):
    root = tmp_path / "t"
    for d in range(40):
        (root / f"d{d:02d}").mkdir(parents=True)
        (root / f"d{d:02d}" / "f.txt").write_text(str(d))
    one_final, one = run_op("tree.scan", root=str(root), groups=True, workers=1)

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    final, got = run_op("tree.scan", root=str(root), groups=True, workers=2)
    assert _flat(got) == _flat(one) and final == one_final


def test_dir_items_reads_columns_and_earlier_rows():
    """A directory row holds columns; a catalog written by an earlier wacket (one row per entry,
    full relative paths) still reads the same."""
    import zlib

    rows = [
        ["docs/a.txt", "f", 5, 1_700_000_000_123_456_789, 0o640, "ab" * 32, None],
        ["docs/link", "l", 7, 1_700_000_000_000_000_000, 0o777, None, "a.txt"],
        ["docs/sub", "d", 4096, 1_700_000_000_000_000_001, 0o755, None, None],
        ["docs/fifo", "o", 0, 1_700_000_000_000_000_002, 0o600, None, None],
    ]
    columns = [
        "docs",
        ["a.txt", "link", "sub", "fifo"],
        [0o100640, 0o120777, 0o040755, 0o010600],
        [5, 7, 4096, 0],
        [r[3] for r in rows],
        {"0": "ab" * 32},
        {"1": "a.txt"},
    ]
    for stored in (columns, rows):
        blob = zlib.compress(json.dumps(stored).encode())
        assert catalog.dir_items(blob) == rows
        assert catalog.dir_items(blob, [3, 0, 1]) == [rows[3], rows[0], rows[1]]  # hits only


def test_substring_search_agrees_with_a_plain_scan(isolated_env):
    """Every substring of the catalog's paths (within a name, inside a directory or the root,
    across the end of a directory into a name) finds exactly the paths that hold it."""
    import random

    rels = ["a", "a/b", "a/b/cd.txt", "a/bc", "a/bc/d", "ab", "ab/c.d", "b/a/b", "b/a/b/ab.c"]
    rels += ["Sub Dir", "Sub Dir/Nl\nName", "x/y/z/xyz", "x/y/z/y.x", "x/yz"]
    kinds = {r: ("d" if any(o.startswith(r + "/") for o in rels) else "f") for r in rels}
    cat = make_catalog("m", "/r/oo", [item(r, kinds[r]) for r in sorted(rels)])
    paths = ["/r/oo/" + r for r in sorted(rels)]
    rnd = random.Random(5)
    needles = {p[i:j] for p in paths for i in range(len(p)) for j in range(i + 1, len(p) + 1)}
    needles = sorted(needles)
    for needle in rnd.sample(needles, 400) + ["/", "o/a", "oo/", "/ab", "b/a", "z/x", "r/oo/a"]:
        want = [p for p in paths if needle.lower() in p.lower()]
        got = [h.path for h in query.search(query.Query(needle, literal=True), [cat])]
        assert got == want, needle
    cat.close()


def test_finder_jumps_on_a_rare_byte_and_scans_otherwise():
    """Both ways of finding a needle (jumping between occurrences of its rarest byte, or a
    regex scan when no byte of it is rare) agree with bytes.find on every window tried."""
    import random

    rnd = random.Random(7)
    common = b"abcdefgh/.\n"
    text = bytearray(rnd.choice(common) for _ in range(200_000))
    for at in rnd.sample(range(len(text) - 8), 40):  # a few rare bytes, some in needles
        text[at : at + 3] = b"zq" + bytes([rnd.choice(common)])
    text = bytes(text)
    needles = [b"zqa", b"azq", b"q", b"abc", b"h/.", b"zq\n", b"qz", b"ba" * 3]
    for needle in needles:
        find = query._finder(text, needle, 0, len(text))
        if len(needle) > 1:
            rare = b"z" in needle or b"q" in needle
            assert find.__name__ == ("jump" if rare else "scan"), needle
        for _ in range(60):
            a = rnd.randrange(len(text))
            b = rnd.randrange(a, len(text) + 1)
            assert find(text, a, b) == text.find(needle, a, b), (needle, a, b)


def test_document_dated_after_2262_is_indexed_and_kept(run_wacket, tmp_path):
    """An mtime beyond int64 nanoseconds (touch -d 2300-01-01) neither fails the index nor
    the documents' table, and the document's text is kept, not extracted again, next time."""
    import calendar

    doc = tmp_path / "r" / "future" / "plan.txt"
    doc.parent.mkdir(parents=True)
    doc.write_text("quarterly invoice for the far future")
    far = calendar.timegm((2300, 6, 15, 12, 0, 0)) * 10**9
    assert far > 2**63
    os.utime(doc, ns=(0, far))
    for extracted, kept in ((1, 0), (0, 1)):
        r = run_wacket(
            "find", "index", "local", "--root", str(tmp_path / "r"), "--content", "--jsonl"
        )
        assert r.returncode == 0, r.stderr
        docs = json.loads(r.stdout)["docs"]
        assert (docs["extracted"], docs["kept"]) == (extracted, kept)
    r = run_wacket("find", "--text", "quarterly", "--jsonl")
    hit = json.loads(r.stdout)
    assert hit["path"] == str(doc) and hit["mtime"].startswith("2300-06-15")


def test_data_dir_with_uri_characters(run_wacket, tmp_path):
    """SQLite opens catalogs and the journal read-only through URIs: a data dir whose path
    holds ? # % and a space still works (index, query, log)."""
    data = tmp_path / "da ?#%25ta"
    root = tmp_path / "r"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "zebra.txt").write_text("z")
    env = {"WACKET_DATA": str(data)}
    r = run_wacket("find", "index", "local", "--root", str(root), env=env)
    assert r.returncode == 0, r.stderr
    assert (data / "find" / "local.db").exists()
    r = run_wacket("find", "zebra", "--plain", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split("\t")[1] == str(root / "sub" / "zebra.txt")
    r = run_wacket("log", "--jsonl", env=env)
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["command"] for x in r.stdout.splitlines()] == ["find index"]
