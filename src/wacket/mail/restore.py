"""`wacket mail restore ACCOUNT/FOLDER --to ACCOUNT2[/FOLDER]`: APPEND archived messages back to a
server with their flags and internal dates, skipping those already there (by Message-ID, else by
content hash)."""

from __future__ import annotations

import datetime as dt

from wacket.mail.digest import content_hash
from wacket.mail.export import folder_files
from wacket.mail.store import Store, imap_flags

BATCH = 100
BATCH_BYTES = 8 * 1024 * 1024


def _mid(data: bytes) -> str | None:
    from email.parser import BytesHeaderParser
    from email.policy import compat32

    end = data.find(b"\n\n")
    end2 = data.find(b"\r\n\r\n")
    cut = min(x for x in (end, end2, len(data)) if x >= 0)
    h = BytesHeaderParser(policy=compat32).parsebytes(data[: cut + 4])
    v = h.get("Message-ID")
    return str(v).strip() if v else None


def present_on_server(client, folder: str) -> tuple[set, set]:
    """Message-IDs and (for messages without one) content hashes already in the target folder."""
    client.select_folder(folder, readonly=True)
    uids = client.search("ALL")
    mids, hashes, nomid = set(), set(), []
    for i in range(0, len(uids), 2000):
        part = uids[i : i + 2000]
        for uid, d in client.fetch(part, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).items():
            raw = next((v for k, v in d.items() if k.startswith(b"BODY[HEADER")), b"") or b""
            mid = _mid(raw + b"\r\n")
            if mid:
                mids.add(mid)
            else:
                nomid.append(uid)
    for i in range(0, len(nomid), 100):
        for d in client.fetch(nomid[i : i + 100], ["BODY.PEEK[]"]).values():
            hashes.add(content_hash(d[b"BODY[]"]))
    return mids, hashes


def restore(store: Store, account: str, folder: str, client, target: str) -> dict:
    if not client.folder_exists(target):
        client.create_folder(target)
    mids, hashes = present_on_server(client, target)
    files = folder_files(store, account, folder)
    sent = skipped = missing = 0
    pending, size = [], 0
    multi = client.has_capability("MULTIAPPEND")

    def flush():
        nonlocal pending, size
        if not pending:
            return
        if multi:
            client.multiappend(target, pending)
        else:
            for m in pending:
                client.append(target, m["msg"], m.get("flags", ()), m.get("date"))
        pending, size = [], 0

    for path, flags, _date in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            missing += 1
            continue
        mid = _mid(data)
        if (mid and mid in mids) or (not mid and content_hash(data) in hashes):
            skipped += 1
            continue
        if mid:
            mids.add(mid)
        mtime = path.stat().st_mtime
        item = {"msg": data, "flags": imap_flags(flags),
                "date": dt.datetime.fromtimestamp(mtime, dt.UTC)}  # fmt: skip
        if not item["flags"]:
            del item["flags"]
        pending.append(item)
        size += len(data)
        sent += 1
        if len(pending) >= BATCH or size >= BATCH_BYTES:
            flush()
    flush()
    return {"from": f"{account}/{folder}", "to": target, "uploaded": sent, "skipped": skipped,
            "missing": missing}  # fmt: skip
