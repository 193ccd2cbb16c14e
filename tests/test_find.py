"""wacket find against real sshd hosts (the core test bed): index, query, down hosts, incremental
re-index, awkward names, dupes/where/missing, get, document text."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

KB8 = 8192


def jsonl(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


def ok(proc, code: int = 0):
    assert proc.returncode == code, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def content(seed: str, size: int = KB8) -> bytes:
    return (seed.encode() * (size // len(seed) + 1))[:size]


def write(path: Path, data: bytes | str = b"", mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def trees(fleet, tmp_path: Path, isolated_env: Path, run_wacket):
    """A tree per host (h1..h3 roots under tmp) wired into [find.hosts.*]; returns {name: root}."""
    roots = {name: tmp_path / f"tree-{name}" for name in ("h1", "h2", "h3")}
    extra = "[find]\nhash_min = 4096\n" + "".join(
        f'[find.hosts.{n}]\nroots = ["{r}"]\n' for n, r in roots.items()
    )
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), extra_toml=extra)
    old = time.time() - 400 * 86400
    h1, h2, h3 = roots["h1"], roots["h2"], roots["h3"]
    write(h1 / "Documents/Quarterly Report.pdf", content("report", 20000))
    write(h1 / "Documents/notes.md", "# notes\n")
    write(h1 / "Pictures/holiday/img_0001.jpg", content("jpeg-one", 3 * 1024 * 1024))
    write(h1 / "Pictures/holiday/img_0002.jpg", content("jpeg-two"), mtime=old)
    write(h1 / "shared/a.bin", content("AAAA"))
    write(h1 / "shared/b.bin", content("BBBB"))
    write(h1 / "shared/small.txt", "tiny")
    write(h1 / "node_modules/left-pad/index.js", "skip me")
    write(h1 / ".git/HEAD", "ref")
    write(h2 / "backup/a-copy.bin", content("AAAA"))
    write(h2 / "backup/c.bin", content("CCCC"))
    write(h2 / "backup/small.txt", "tiny")
    write(h2 / "docs/report-2024.PDF", content("h2report", 5000))
    write(h3 / "archive/a-again.bin", content("AAAA"))
    write(h3 / "archive/budget.ods", "not really ods")
    return roots


def test_index_three_hosts_and_query(trees, run_wacket):
    r = ok(run_wacket("find", "index", "h1,h2,h3", "--jsonl"))
    by_host = {rec["host"]: rec for rec in jsonl(r)}
    assert sorted(by_host) == ["h1", "h2", "h3"]
    assert all(rec["state"] == "indexed" for rec in by_host.values())
    assert by_host["h1"]["hashed"] == 5  # the files of 4096 bytes or more
    # Catalog files are private.
    data = Path(os.environ["WACKET_DATA"]) / "find"
    for p in data.iterdir():
        assert p.stat().st_mode & 0o077 == 0, p

    # Substring, case-insensitive by default; matches the whole path.
    hits = jsonl(ok(run_wacket("find", "report", "--jsonl")))
    assert sorted((h["host"], Path(h["path"]).name) for h in hits) == [
        ("h1", "Quarterly Report.pdf"),
        ("h2", "report-2024.PDF"),
    ]
    assert all(h["up"] == "up" for h in hits)
    first = next(h for h in hits if h["host"] == "h1")
    assert first["path"] == str(trees["h1"] / "Documents/Quarterly Report.pdf")
    assert first["size"] == 20000 and first["type"] == "f" and len(first["hash"]) == 64
    # Case-sensitive.
    hits = jsonl(ok(run_wacket("find", "Report", "-c", "--jsonl")))
    assert [Path(h["path"]).name for h in hits] == ["Quarterly Report.pdf"]
    # Glob: whole path, like locate.
    hits = jsonl(ok(run_wacket("find", "*.pdf", "--jsonl")))
    assert sorted(Path(h["path"]).name for h in hits) == ["Quarterly Report.pdf", "report-2024.PDF"]
    hits = jsonl(ok(run_wacket("find", "*/holiday/img_000?.jpg", "--jsonl")))
    assert len(hits) == 2
    # Regex.
    hits = jsonl(ok(run_wacket("find", "--regex", r"img_\d+1\.jpg$", "--jsonl")))
    assert [Path(h["path"]).name for h in hits] == ["img_0001.jpg"]
    # Size and age filters.
    hits = jsonl(ok(run_wacket("find", "img", "--larger", "1M", "--jsonl")))
    assert [Path(h["path"]).name for h in hits] == ["img_0001.jpg"]
    hits = jsonl(ok(run_wacket("find", "img", "--older", "1y", "--jsonl")))
    assert [Path(h["path"]).name for h in hits] == ["img_0002.jpg"]
    hits = jsonl(ok(run_wacket("find", ".bin", "--smaller", "10K", "--newer", "1d", "--jsonl")))
    assert len(hits) == 5
    # --ext and --host, a pattern-less query.
    hits = jsonl(ok(run_wacket("find", "--ext", "pdf", "--host", "h2", "--jsonl")))
    assert [Path(h["path"]).name for h in hits] == ["report-2024.PDF"]
    # Default excludes: node_modules and .git are not in the catalog.
    ok(run_wacket("find", "left-pad"), 1)
    ok(run_wacket("find", "HEAD", "-c"), 1)
    # Nothing found: exit 1; --count; bad regex is a usage error.
    r = ok(run_wacket("find", "no-such-thing-anywhere"), 1)
    assert r.stdout == b""
    assert ok(run_wacket("find", "bin", "--count")).stdout == b"5\n"
    r = ok(run_wacket("find", "--regex", "(unclosed"), 2)
    assert b"bad regular expression" in r.stderr
    # A pattern that is a subcommand name goes through `query`.
    assert ok(run_wacket("find", "query", "holiday", "--count")).stdout == b"3\n"
    # The journal has the run.
    log = ok(run_wacket("log", "--jsonl")).stdout.decode()
    assert "find index" in log


def test_host_down_answers_from_catalog(trees, fleet, run_wacket):
    ok(run_wacket("find", "index", "h1,h2,h3", "--jsonl"))
    h3 = fleet.by_name()["h3"]
    h3.stop()
    try:
        hits = jsonl(ok(run_wacket("find", "budget", "--jsonl")))
        assert [(h["host"], h["up"]) for h in hits] == [("h3", "down")]
        # --online-only drops it.
        ok(run_wacket("find", "budget", "--online-only"), 1)
        assert len(jsonl(ok(run_wacket("find", ".bin", "--online-only", "--jsonl")))) == 4
        # Re-index: h3 is reported (exit 3) and keeps its previous catalog.
        r = run_wacket("find", "index", "--jsonl", "--connect-timeout", "3")
        assert r.returncode == 3, r.stderr
        states = {rec["host"]: rec["state"] for rec in jsonl(r)}
        assert states["h3"] == "down" and states["h1"] == "indexed"
        assert b"h3" in r.stderr and b"previous catalog is kept" in r.stderr
        assert [h["host"] for h in jsonl(ok(run_wacket("find", "budget", "--jsonl")))] == ["h3"]
        stale = {s["host"]: s for s in jsonl(ok(run_wacket("find", "--stale", "--jsonl")))}
        assert "refused" in stale["h3"]["last_error"]
        assert stale["h1"]["last_error"] == "" and stale["h3"]["entries"] > 0
        # With --stale results carry the catalog's age.
        hit = jsonl(ok(run_wacket("find", "budget", "--stale", "--jsonl")))[0]
        assert hit["indexed"]
    finally:
        h3.start()


def test_incremental_reindex(trees, run_wacket):
    root = trees["h1"]
    first = jsonl(ok(run_wacket("find", "index", "h1", "--jsonl")))[0]
    assert first["hashed"] == 5
    again = jsonl(ok(run_wacket("find", "index", "h1", "--jsonl")))[0]
    assert again["hashed"] == 0  # nothing changed: nothing read again
    write(root / "shared/added.bin", content("NEW!"))
    write(root / "shared/b.bin", content("CHANGED", 9000))  # size changes
    (root / "Documents/notes.md").unlink()
    (root / "shared/a.bin").rename(root / "shared/a-renamed.bin")
    third = jsonl(ok(run_wacket("find", "index", "h1", "--jsonl")))[0]
    assert third["hashed"] == 2  # added and changed; the renamed file kept its inode and hash
    ok(run_wacket("find", "notes.md"), 1)
    ok(run_wacket("find", "shared/a.bin"), 1)
    names = [Path(h["path"]).name for h in jsonl(ok(run_wacket("find", "shared/", "--jsonl")))]
    assert sorted(names) == ["a-renamed.bin", "added.bin", "b.bin", "small.txt"]
    b = jsonl(ok(run_wacket("find", "b.bin", "--host", "h1", "--jsonl")))[0]
    assert b["size"] == 9000


def remove_deep_chain(base: Path) -> None:
    """Remove base/d/d/d/... without recursion (pytest's and shutil's rmtree recurse once per
    level and fail past ~1000 levels): move each child up next to base, then drop its parent."""
    cur, n = base / "d", 0
    while cur.is_dir():
        child, nxt = cur / "d", None
        if child.is_dir():
            nxt = base / f"up-{n}"
            n += 1
            os.rename(child, nxt)
        shutil.rmtree(cur)
        if nxt is None:
            break
        cur = nxt


@pytest.fixture
def deep_dir(tmp_path):
    path = tmp_path / "odd" / "deep"
    yield path
    if path.exists():
        remove_deep_chain(path)


def test_awkward_names_deep_trees_loops(fleet, tmp_path, isolated_env, run_wacket, deep_dir):
    root = tmp_path / "odd"
    extra = f'[find.hosts.h1]\nroots = ["{root}"]\n'
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), extra_toml=extra)
    root.mkdir()
    raw = os.fsencode(root)
    for name in (b"new\nline.txt", b"latin-\xe9t\xe9.txt", b"with space and 'quote'.txt"):
        with open(raw + b"/" + name, "wb") as fh:
            fh.write(b"x")
    (root / "loop").symlink_to(".")
    (root / "self").symlink_to("self")
    (root / "updown").mkdir()
    (root / "updown/back").symlink_to("..")
    deep = deep_dir
    deep.mkdir()
    fd = os.open(deep, os.O_RDONLY)
    try:  # 2100 levels: the full path grows past PATH_MAX (4096)
        for _ in range(2100):
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    r = run_wacket("find", "index", "h1", "--jsonl", timeout=120)
    assert r.returncode == 1, r.stderr  # some entries unreadable (name too long), rest indexed
    rec = jsonl(r)[0]
    assert rec["state"] == "indexed" and rec["errors"] >= 1
    assert b"too long" in r.stderr
    hits = jsonl(ok(run_wacket("find", "line", "--jsonl")))
    assert [os.fsencode(h["path"]) for h in hits] == [raw + b"/new\nline.txt"]
    hits = jsonl(ok(run_wacket("find", "latin-", "--jsonl")))
    assert [os.fsencode(h["path"]) for h in hits] == [raw + b"/latin-\xe9t\xe9.txt"]
    # Plain output writes the original bytes, with a newline inside a name escaped.
    plain = ok(run_wacket("find", "latin-", "--plain")).stdout
    assert raw + b"/latin-\xe9t\xe9.txt" in plain
    assert b"new\\nline.txt" in ok(run_wacket("find", "new", "--plain")).stdout
    # NUL-separated for xargs -0: exact bytes.
    out = ok(run_wacket("find", "space and", "-0")).stdout
    assert out == b"h1:" + raw + b"/with space and 'quote'.txt\0"
    # Symlinks are catalogued, never followed.
    hits = {
        Path(h["path"]).name: h for h in jsonl(ok(run_wacket("find", "--type", "l", "--jsonl")))
    }
    assert sorted(hits) == ["back", "loop", "self"]
    assert hits["loop"]["link"] == "."
    # The deep tree is there down to where paths get too long.
    count = int(ok(run_wacket("find", "deep/d/d/d", "--count")).stdout)
    assert count > 1900


def test_permission_denied_dir(tmp_path, run_wacket):
    """Root reads everything, so the walk runs with DAC capabilities dropped (setpriv)."""
    root = tmp_path / "perm"
    write(root / "open/readable.txt", "x")
    write(root / "locked/secret.txt", "x")
    (root / "locked").chmod(0)
    try:
        r = subprocess.run(
            ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
             "--bounding-set=-dac_override,-dac_read_search",
             sys.executable, "-m", "wacket", "find", "index", "local", "--root", str(root),
             "--jsonl"],
            capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
    finally:
        (root / "locked").chmod(0o755)
    assert r.returncode == 1, r.stderr
    assert b"locked: Permission denied" in r.stderr
    ok(run_wacket("find", "readable"))
    ok(run_wacket("find", "secret"), 1)
    assert len(jsonl(ok(run_wacket("find", "locked", "--jsonl")))) == 1  # the dir itself


def test_dupes_where_missing(trees, run_wacket, tmp_path):
    ok(run_wacket("find", "index", "h1,h2,h3"))
    rows = jsonl(ok(run_wacket("find", "dupes", "--jsonl")))
    groups: dict[int, list] = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    assert len(groups) == 1
    (group,) = groups.values()
    assert sorted((r["host"], Path(r["path"]).name) for r in group) == [
        ("h1", "a.bin"),
        ("h2", "a-copy.bin"),
        ("h3", "a-again.bin"),
    ]
    assert group[0]["wasted"] == 2 * KB8 and group[0]["copies"] == 3
    ok(run_wacket("find", "dupes", "--min-size", "1M"))
    none = [{"host": h, "state": "none", "rows": 0} for h in ("h1", "h2", "h3")]
    assert jsonl(run_wacket("find", "dupes", "--min-size", "1M", "--jsonl")) == none

    # where: from a catalog entry and from a local file.
    a = trees["h1"] / "shared/a.bin"
    where = jsonl(ok(run_wacket("find", "where", f"h1:{a}", "--jsonl")))
    assert sorted(w["host"] for w in where) == ["h1", "h2", "h3"]
    assert all(w["match"] == "content" for w in where)
    local = write(tmp_path / "mine.bin", content("CCCC"))
    where = jsonl(ok(run_wacket("find", "where", str(local), "--jsonl")))
    assert [(w["host"], Path(w["path"]).name) for w in where if "path" in w] == [("h2", "c.bin")]
    assert [w for w in where if "path" not in w] == [
        {"host": h, "state": "none", "rows": 0} for h in ("h1", "h3")
    ]
    small = write(tmp_path / "small.txt", "tiny")
    where = jsonl(ok(run_wacket("find", "where", str(small), "--jsonl")))
    assert sorted(w["host"] for w in where if "path" in w) == ["h1", "h2"]
    assert {w["match"] for w in where if "path" in w} == {"name+size"}
    ok(run_wacket("find", "where", str(write(tmp_path / "lonely.bin", content("ZZ")))), 1)

    # missing: what h1 has that h2 lacks (content anywhere on h2; small files by name+size).
    r = run_wacket("find", "missing", "h1", "h2", "--jsonl")
    assert r.returncode == 1
    names = sorted(Path(m["path"]).name for m in jsonl(r))
    assert names == ["Quarterly Report.pdf", "b.bin", "img_0001.jpg", "img_0002.jpg", "notes.md"]
    r = run_wacket("find", "missing", "h1", "h2", "--under", str(trees["h1"] / "shared"), "--jsonl")
    assert [Path(m["path"]).name for m in jsonl(r)] == ["b.bin"]
    ok(run_wacket("find", "missing", "h2", "nosuchhost"), 1)


def test_get(trees, fleet, run_wacket, tmp_path):
    ok(run_wacket("find", "index", "h2"))
    src = trees["h2"] / "backup/c.bin"
    dest = tmp_path / "fetched"
    dest.mkdir()
    r = ok(run_wacket("find", "get", f"h2:{src}", str(dest)))
    assert (dest / "c.bin").read_bytes() == src.read_bytes()
    assert b"c.bin" in r.stderr
    # A missing path is named in one line, exit 2 like sync's missing source (not "Broken pipe").
    for missing in ("/no/such/file", "/no/such/dir/", "~/no such file"):
        r = ok(run_wacket("find", "get", f"h2:{missing}", str(dest)), 2)
        assert r.stderr.decode().splitlines() == [f"wacket: error: h2:{missing}: no such file"]
    assert sorted(p.name for p in dest.iterdir()) == ["c.bin"]
    ok(run_wacket("find", "get", "nocolon"), 2)
    h2 = fleet.by_name()["h2"]
    h2.stop()
    try:
        r = run_wacket("find", "get", f"h2:{src}", str(dest), "--connect-timeout", "3")
        assert r.returncode == 3, r.stderr
    finally:
        h2.start()


MINI_PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R
/Resources << /Font << /F1 5 0 R >> >> >> endobj
4 0 obj << /Length 58 >> stream
BT /F1 12 Tf 10 50 Td (Quarterly invoice for walrus) Tj ET
endstream endobj
5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""


def test_content_index_and_text_search(fleet, tmp_path, isolated_env, run_wacket):
    root = tmp_path / "docs"
    extra = f'[find.hosts.h1]\nroots = ["{root}"]\n'
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), extra_toml=extra)
    write(root / "plain.txt", "The aardvark ate the quarterly invoice.\n")
    write(root / "readme.md", "# Heading\nA **zebra** in markdown.\n")
    write(root / "page.html", "<html><script>var hidden='okapi'</script><p>Giraffe &amp; co</p>")
    write(root / "scan.pdf", MINI_PDF)
    with zipfile.ZipFile(root / "letter.docx", "w") as z:
        z.writestr("word/document.xml", "<w:document><w:t>Dear narwhal</w:t></w:document>")
    with zipfile.ZipFile(root / "sheet.odt", "w") as z:
        z.writestr("content.xml", "<office:text><text:p>penguin minutes</text:p></office:text>")
    write(root / "photo.jpg", content("not text"))
    r = ok(run_wacket("find", "index", "h1", "--content", "--jsonl"))
    assert jsonl(r)[0]["docs"]["indexed"] == 6

    def text(words, *more):
        r = run_wacket("find", "--text", words, *more, "--jsonl")
        assert r.returncode in (0, 1), r.stderr
        return sorted(Path(h["path"]).name for h in jsonl(r))

    assert text("quarterly invoice") == ["plain.txt", "scan.pdf"]
    assert text("walrus") == ["scan.pdf"]
    assert text("zebra") == ["readme.md"]
    assert text("giraffe") == ["page.html"]
    assert jsonl(run_wacket("find", "--text", "okapi", "--jsonl")) == []  # script text dropped
    assert text("narwhal") == ["letter.docx"]
    assert text("penguin") == ["sheet.odt"]
    assert text("invoice", "--ext", "txt") == ["plain.txt"]
    assert text("invoice", "--larger", "100") == ["scan.pdf"]  # filters apply to --text too
    assert text("invoice", "--limit", "1") in (["plain.txt"], ["scan.pdf"])
    hit = jsonl(ok(run_wacket("find", "--text", "aardvark", "--jsonl")))[0]
    assert "[aardvark]" in hit["snippet"]
    # Re-index: unchanged documents are carried over, changed ones extracted again.
    write(root / "plain.txt", "Now about a capybara.\n")
    r = ok(run_wacket("find", "index", "h1", "--jsonl"))  # content stays on from the last run
    docs = jsonl(r)[0]["docs"]
    assert docs["extracted"] == 1 and docs["kept"] == 5
    assert text("capybara") == ["plain.txt"]
    assert text("aardvark") == []
