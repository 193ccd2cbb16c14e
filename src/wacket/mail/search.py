"""Message metadata for the index, and `wacket mail search` over the SQLite FTS5 index."""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

BODY_LIMIT = 64 * 1024  # characters of body text indexed per message
_TAGS = re.compile(r"<[^>]*>|&[a-z]+;", re.S)


def _decode(value) -> str:
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:
        return str(value)


def _addresses(values) -> str:
    try:
        pairs = getaddresses([_decode(v) for v in values if v])
    except Exception:
        return " ".join(_decode(v) for v in values if v)
    return ", ".join(f"{n} <{a}>" if n else a for n, a in pairs if n or a)


def _header_end(data: bytes) -> int:
    """Offset just past the blank line ending the headers, or -1."""
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n", 0, crlf if crlf >= 0 else len(data))
    if lf >= 0:
        return lf + 2
    return crlf + 4 if crlf >= 0 else -1


def extract(data: bytes, internaldate: float | None = None) -> dict:
    """Message-ID, date, sender, recipients, subject and body text (bounded) of a raw message.

    Never raises: a malformed message still gets indexed with whatever could be read.
    """
    end = _header_end(data)
    head = data[:end] if end >= 0 else data
    try:
        h = BytesHeaderParser(policy=compat32).parsebytes(head)
    except Exception:
        h = None
    meta = {"size": len(data), "date": internaldate}
    if h is not None:
        mid = h.get("Message-ID")
        meta["message_id"] = str(mid).strip() if mid else None
        meta["subject"] = _decode(h.get("Subject"))
        meta["sender"] = _addresses(h.get_all("From") or [])
        meta["recipients"] = _addresses(
            (h.get_all("To") or []) + (h.get_all("Cc") or []) + (h.get_all("Bcc") or [])
        )
        try:
            date = h.get("Date")
            if date:
                meta["date"] = parsedate_to_datetime(str(date)).timestamp()
        except Exception:
            pass
    try:
        meta["body"] = _text(head, data[end:] if end >= 0 else b"", 0)[:BODY_LIMIT]
    except Exception:
        meta["body"] = data[:BODY_LIMIT].decode("utf-8", "replace")
    return meta


_CTYPE = re.compile(rb"^content-type:[ \t]*([^;\s]+)((?:[^\n]|\n[ \t])*)", re.I | re.M)
_BOUNDARY = re.compile(rb'boundary=(?:"([^"]+)"|([^;\s]+))', re.I)
_CHARSET = re.compile(rb'charset=(?:"([^"]+)"|([^;\s]+))', re.I)
_CTE = re.compile(rb"^content-transfer-encoding:[ \t]*([\w-]+)", re.I | re.M)
_FILENAME = re.compile(rb"^content-disposition:[ \t]*attachment|filename=|name=", re.I | re.M)


def _text(head: bytes, body: bytes, depth: int) -> str:
    """The text of a MIME entity: text/plain parts (text/html stripped if no plain), attachments
    skipped without decoding; multiparts split on their boundary (no full MIME parse: fast)."""
    m = _CTYPE.search(head)
    ctype = m.group(1).lower() if m else b"text/plain"
    params = m.group(2) if m else b""
    if ctype.startswith(b"multipart/") and depth < 5:
        b = _BOUNDARY.search(params)
        if not b:
            return ""
        delim = b"--" + (b.group(1) or b.group(2))
        plain, html = [], []
        for part in body.split(delim)[1:]:
            if part.startswith(b"--"):
                break
            if part.startswith(b"\r\n"):
                part = part[2:]
            elif part.startswith(b"\n"):
                part = part[1:]
            if part.startswith((b"\r\n", b"\n")):
                phead, pbody = b"", part
            else:
                end = _header_end(part)
                phead, pbody = (part, b"") if end < 0 else (part[:end], part[end:])
            pm = _CTYPE.search(phead)
            pt = pm.group(1).lower() if pm else b"text/plain"
            if pt.startswith(b"multipart/"):
                plain.append(_text(phead, pbody, depth + 1))
            elif pt in (b"text/plain", b"text/html") and not _FILENAME.search(phead):
                t = _decode_part(phead, pbody, pm.group(2) if pm else b"")
                (plain if pt == b"text/plain" else html).append(t)
            if sum(map(len, plain)) > BODY_LIMIT:
                break
        text = " ".join(x for x in plain if x)
        return text or _TAGS.sub(" ", " ".join(html))
    if ctype == b"text/html":
        return _TAGS.sub(" ", _decode_part(head, body, params))
    if ctype.startswith(b"text/") or not m:
        return _decode_part(head, body, params)
    return ""


def _decode_part(head: bytes, body: bytes, params: bytes) -> str:
    cte = _CTE.search(head)
    enc = cte.group(1).lower() if cte else b""
    body = body[: 4 * BODY_LIMIT]
    if enc == b"base64":
        import binascii

        try:
            body = binascii.a2b_base64(body)
        except binascii.Error:
            return ""
    elif enc == b"quoted-printable":
        import quopri

        body = quopri.decodestring(body)
    cs = _CHARSET.search(params)
    charset = (cs.group(1) or cs.group(2)).decode("ascii", "replace") if cs else "utf-8"
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


# -- queries --------------------------------------------------------------------------------------


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def build_match(words: list[str], sender=None, recipient=None, subject=None) -> str | None:
    parts = []
    for w in words:
        for token in w.split():
            parts.append(_phrase(token))
    for column, value in (("sender", sender), ("recipients", recipient), ("subject", subject)):
        if value:
            tokens = [t for t in re.split(r"[^\w]+", value) if t]
            if tokens:
                parts.append(f"{column} : (" + " ".join(_phrase(t) for t in tokens) + ")")
    return " AND ".join(parts) if parts else None


def search(store, words: list[str], *, sender=None, recipient=None, subject=None, since=None,
           until=None, account=None, folder=None, limit=100) -> list[dict]:  # fmt: skip
    """Messages matching everything given, newest first, one record per message."""
    match = build_match(words, sender, recipient, subject)
    where, args = [], []
    if match:
        where.append("m.id IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
        args.append(match)
    if since is not None:
        where.append("m.date >= ?")
        args.append(since)
    if until is not None:
        where.append("m.date < ?")
        args.append(until)
    if account or folder:
        sub = "SELECT msg FROM files WHERE 1"
        if account:
            sub += " AND account = ?"
            args.append(account)
        if folder:
            sub += " AND (folder = ? OR folder LIKE ? ESCAPE '\\')"
            args += [folder, folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                     + "/%"]  # fmt: skip
        where.append(f"m.id IN ({sub})")
    sql = (
        "SELECT m.id, m.date, m.sender, m.recipients, m.subject, m.size, m.message_id"
        " FROM messages m" + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY m.date DESC LIMIT ?"
    )  # fmt: skip
    args.append(limit)
    import sqlite3

    try:
        rows = store.db.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        from wacket.errors import ConfigError

        raise ConfigError(f"search: {exc}") from None
    locations: dict[int, tuple] = {}
    ids = [r[0] for r in rows]
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        sql = (
            "SELECT files.msg, files.account, files.folder, folders.dir, files.name FROM files"
            " JOIN folders USING (account, folder) WHERE files.msg IN ("
            + ",".join("?" * len(part))
            + ")"
            + (" AND files.account=?" if account else "")
            + " ORDER BY files.account, files.folder"
        )
        for msg, *loc in store.db.execute(sql, [*part, account] if account else part):
            if folder and loc[1] != folder and not loc[1].startswith(folder + "/"):
                continue
            locations.setdefault(msg, tuple(loc))
    out = []
    for mid, date, sender, recipients, subject, size, message_id in rows:
        acct, fold, d, name = locations.get(mid, (None, None, None, None))
        out.append(
            {
                "id": mid,
                "date": date,
                "account": acct,
                "folder": fold,
                "from": sender,
                "to": recipients,
                "subject": subject,
                "size": size,
                "message_id": message_id,
                "path": str(store.root / d / "cur" / name) if d else None,
            }
        )
    return out
