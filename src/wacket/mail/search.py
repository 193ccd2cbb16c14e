"""Message metadata for the index, and `wacket mail search` over the SQLite FTS5 index."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

BODY_LIMIT = 64 * 1024  # characters of body text indexed per message
_TAGS = re.compile(r"<[^>]*>|&[a-z]+;", re.S)
_HDR_END = re.compile(rb"\r?\n\r?\n")


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


def _text_of(part) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def extract(data: bytes, internaldate: float | None = None) -> dict:
    """Message-ID, date, sender, recipients, subject and body text (bounded) of a raw message.

    Never raises: a malformed message still gets indexed with whatever could be read.
    """
    m = _HDR_END.search(data)
    head = data[: m.end()] if m else data
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
        ctype = (h.get_content_type() or "text/plain").lower()
    else:
        ctype = "text/plain"
    meta["body"] = _body(data, m, ctype)
    return meta


def _body(data: bytes, m, ctype: str) -> str:
    try:
        if ctype.startswith("multipart/") or ctype == "text/html" or m is None:
            msg = message_from_bytes(data[: 4 * BODY_LIMIT * 4], policy=compat32)
            plain, html = [], []
            for part in msg.walk():
                t = part.get_content_type()
                if part.get_content_maintype() == "multipart":
                    continue
                if part.get_filename():
                    continue
                if t == "text/plain":
                    plain.append(_text_of(part))
                elif t == "text/html":
                    html.append(_TAGS.sub(" ", _text_of(part)))
            return (" ".join(plain) or " ".join(html))[:BODY_LIMIT]
        if not ctype.startswith("text/"):
            return ""
        head = data[: m.end()]
        if b"quoted-printable" in head.lower() or b"base64" in head.lower():
            msg = message_from_bytes(data[: 4 * BODY_LIMIT], policy=compat32)
            return _text_of(msg)[:BODY_LIMIT]
        charset = "utf-8"
        cm = re.search(rb'charset="?([A-Za-z0-9_.:-]+)', head, re.I)
        if cm:
            charset = cm.group(1).decode("ascii")
        body = data[m.end() : m.end() + 2 * BODY_LIMIT]
        try:
            return body.decode(charset, "replace")[:BODY_LIMIT]
        except LookupError:
            return body.decode("utf-8", "replace")[:BODY_LIMIT]
    except Exception:
        return data[:BODY_LIMIT].decode("utf-8", "replace")


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
    out = []
    for mid, date, sender, recipients, subject, size, message_id in rows:
        loc = store.db.execute(
            "SELECT files.account, files.folder, folders.dir, files.name FROM files"
            " JOIN folders USING (account, folder) WHERE files.msg=?"
            + (" AND files.account=?" if account else "")
            + " LIMIT 1",
            (mid, account) if account else (mid,),
        ).fetchone()
        acct, fold, d, name = loc if loc else (None, None, None, None)
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
