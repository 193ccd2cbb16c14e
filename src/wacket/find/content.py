"""`--content`: the words of documents (text, Markdown, HTML, PDF, office files) in an FTS5 table
of the host's catalog, so `wacket find --text WORDS` works with the machine switched off.

Text is extracted on the host (op find.text: pdftotext when present, zip+XML for office files).
A re-index extracts only documents whose size or mtime changed; the rest is carried over from
the previous catalog.
"""

from __future__ import annotations

from wacket.find import catalog

DOC_EXTS = {
    "txt", "text", "md", "markdown", "rst", "org", "csv", "tex", "log",
    "html", "htm", "xhtml", "pdf", "docx", "xlsx", "pptx", "odt", "ods", "odp",
}  # fmt: skip
MAX_DOC_SIZE = 64 * 1024 * 1024
TEXT_LIMIT = 1 << 20  # characters of text kept per document
CHUNK = 100


def _is_doc(path: str, size: int) -> bool:
    dot = path.rfind(".")
    return (
        dot > path.rfind("/") and path[dot + 1 :].lower() in DOC_EXTS and 0 < size <= MAX_DOC_SIZE
    )


def _previous(host: str) -> dict[str, tuple[int, int, str]]:
    """path -> (size, mtime_ns, text) from the host's current catalog, if it has documents."""
    cat = catalog.open_catalog(host)
    if cat is None:
        return {}
    try:
        if not cat.has_docs:
            return {}
        info = {
            i: (size, mtime, body)
            for i, size, mtime, body in cat.conn.execute(
                "SELECT i.id, i.size, i.mtime, d.body FROM docinfo i JOIN docs d ON d.rowid = i.id"
            )
        }
        return {path: info[eid] for eid, _r, path, *_rest in cat.entries(sorted(info))}
    finally:
        cat.close()


def index_documents(helper, writer: catalog.Writer, host: str) -> dict:
    """Fill the new catalog's docs table; returns counts."""
    conn = writer.conn
    writer._flush()
    if writer._pending:
        conn.executemany("INSERT INTO dirs VALUES (?,?,?,?)", writer._pending)
        writer._pending = []
    for stmt in catalog.DOCS_SCHEMA:
        conn.execute(stmt)
    roots = {
        rid: p.decode("utf-8", "surrogateescape")
        for rid, p in conn.execute("SELECT id, path FROM roots")
    }
    candidates: list[tuple[int, str, int, int]] = []
    for first, _n, rid, data in conn.execute(
        "SELECT first, n, root, data FROM dirs ORDER BY first"
    ):
        root = roots[rid]
        prefix = root if root.endswith("/") else root + "/"
        for k, (rel, kind, size, mtime, *_rest) in enumerate(catalog.dir_items(data)):
            if kind == "f" and _is_doc(rel, size):
                candidates.append((first + k, prefix + rel, size, mtime))
    old = _previous(host)
    counts = {"indexed": 0, "extracted": 0, "kept": 0, "failed": 0, "no_pdftotext": False}
    todo: dict[str, tuple[int, int, int]] = {}
    for eid, path, size, mtime in candidates:
        prev = old.get(path)
        if prev is not None and prev[0] == size and prev[1] == _int64(mtime):
            _store(conn, eid, size, mtime, prev[2])
            counts["kept"] += 1
        else:
            todo[path] = (eid, size, mtime)
    paths = list(todo)
    for i in range(0, len(paths), CHUNK):
        final: dict = {}
        for batch in helper.stream(
            "find.text", on_done=final.update, paths=paths[i : i + CHUNK], limit=TEXT_LIMIT
        ):
            for path, text, _problem in batch:
                if text is None:
                    counts["failed"] += 1
                    continue
                eid, size, mtime = todo[path]
                _store(conn, eid, size, mtime, text)
                counts["extracted"] += 1
        counts["no_pdftotext"] = counts["no_pdftotext"] or bool(final.get("no_pdftotext"))
    counts["indexed"] = counts["kept"] + counts["extracted"]
    return counts


def _int64(n: int) -> int:
    """n within SQLite's INTEGER range (an mtime after 2262 in nanoseconds is beyond it)."""
    return max(-(2**63), min(n, 2**63 - 1))


def _store(conn, eid: int, size: int, mtime: int, text: str) -> None:
    conn.execute("INSERT INTO docs (rowid, body) VALUES (?,?)", (eid, text))
    conn.execute("INSERT INTO docinfo VALUES (?,?,?)", (eid, size, _int64(mtime)))
