"""`wacket mail archive`: incremental, crash-safe copy of every selected folder into the store.

Per folder: one LIST-STATUS answer tells whether anything changed (UIDVALIDITY, UIDNEXT,
HIGHESTMODSEQ); only changed folders are EXAMINEd (read-only). New UIDs are fetched in batches
(bounded by count and bytes), each batch made durable before the folder's highest UID advances.
Messages larger than BIG are fetched in partial chunks straight to disk, so memory stays bounded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from wacket.errors import Exit
from wacket.mail import imap
from wacket.mail.digest import NormHash
from wacket.mail.store import Batch, Staged, Store, maildir_flags

BATCH_COUNT = 500
BATCH_BYTES = 8 * 1024 * 1024
BIG = 16 * 1024 * 1024  # fetched alone, in CHUNK-sized partial fetches
CHUNK = 8 * 1024 * 1024
META_CHUNK = 5000


def _chunks(seq, n):
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _ts(value) -> float | None:
    try:
        return value.timestamp()
    except Exception:
        return None


def archive_account(store: Store, account, client, progress: Callable | None = None,
                    batch_count: int = BATCH_COUNT,
                    expunge_before: float | None = None) -> list[dict]:  # fmt: skip
    condstore = client.has_capability("CONDSTORE")
    if expunge_before is not None and not client.has_capability("UIDPLUS"):
        from wacket.errors import WacketError

        raise WacketError(
            f"mail {account.name}: the server lacks UIDPLUS (UID EXPUNGE): refusing to expunge,"
            " since other messages marked deleted could go too"
        )
    out = []
    for f in imap.list_folders(client):
        if not account.wants(f.name):
            continue
        rec = archive_folder(store, account, client, f, condstore, progress, batch_count)
        if expunge_before is not None:
            rec["expunged"] = expunge_archived(store, account, client, f, expunge_before)
        out.append(rec)
    return out


def expunge_archived(store: Store, account, client, f: imap.Folder, before: float) -> int:
    """Remove from the server the messages older than `before` (internal date) that are verified
    in the archive: UID known under the current UIDVALIDITY, file present with the same size and
    content hash. Only those UIDs are flagged and UID EXPUNGEd."""
    import datetime as dt

    from wacket.mail.digest import content_hash

    if not f.messages:
        return 0
    client.select_folder(f.name, readonly=True)
    day = dt.date.fromtimestamp(before)
    old = client.search(["BEFORE", day])
    if not old:
        return 0
    archived = {
        uid: (size, h, d, name)
        for uid, size, h, d, name in store.db.execute(
            "SELECT uids.uid, uids.size, messages.hash, folders.dir, files.name FROM uids"
            " JOIN messages ON messages.id=uids.msg"
            " JOIN folders ON folders.account=uids.account AND folders.folder=uids.folder"
            " JOIN files ON files.account=uids.account AND files.folder=uids.folder"
            " AND files.msg=uids.msg"
            " WHERE uids.account=? AND uids.folder=? AND uids.uidvalidity=?",
            (account.name, f.name, f.uidvalidity),
        )
    }
    sizes = {}
    for part in _chunks(old, META_CHUNK):
        for uid, data in client.fetch(part, ["RFC822.SIZE"]).items():
            sizes[uid] = data.get(b"RFC822.SIZE")
    verified = []
    for uid in old:
        if uid not in archived or uid not in sizes:
            continue
        size, h, d, name = archived[uid]
        path = store.root / d / "cur" / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        if size == sizes[uid] and content_hash(data) == h:
            verified.append(uid)
    if not verified:
        return 0
    client.select_folder(f.name, readonly=False)  # the only read-write SELECT wacket ever does
    try:
        for part in _chunks(verified, 1000):
            client.add_flags(part, [b"\\Deleted"], silent=True)
            client.uid_expunge(part)
    finally:
        # Never CLOSE (it would expunge every \\Deleted message): EXAMINE deselects without that.
        client.select_folder(f.name, readonly=True)
    return len(verified)


def archive_folder(store: Store, account, client, f: imap.Folder, condstore: bool,
                   progress=None, batch_count=BATCH_COUNT) -> dict:  # fmt: skip
    started = time.monotonic()
    st = store.folder(account.name, f.name, f.delimiter)
    rec = {"account": account.name, "folder": f.name, "server": f.messages, "new": 0,
           "linked": 0, "flags": 0, "bytes": 0, "status": "unchanged"}  # fmt: skip
    same_uv = st["uidvalidity"] == f.uidvalidity
    if (
        same_uv
        and st["uidnext"] == f.uidnext
        and condstore
        and st["modseq"] == f.highestmodseq
        and st["highest_uid"] >= f.uidnext - 1
    ):
        return rec
    if not same_uv:
        if st["uidvalidity"]:
            rec["status"] = "uidvalidity changed: rescanned"
        # The new numbering starts at 0, recorded before anything is fetched under it.
        store.update_folder(account.name, f.name, uidvalidity=f.uidvalidity, highest_uid=0,
                            modseq=0, uidnext=0)  # fmt: skip
        st.update(uidvalidity=f.uidvalidity, highest_uid=0, modseq=0, uidnext=0)
    client.select_folder(f.name, readonly=True)  # EXAMINE: nothing on the server changes
    batch = store.batch(account.name, f.name, f.delimiter)
    highest = st["highest_uid"]

    # Flag changes of messages already archived.
    if highest and (not condstore or st["modseq"] != f.highestmodseq):
        mods = [f"CHANGEDSINCE {st['modseq']}"] if condstore and st["modseq"] else None
        changed = imap.fetch_range(client, f"1:{highest}", ["FLAGS"], mods)
        if changed:
            by_uid = dict(
                store.db.execute(
                    "SELECT uids.uid, messages.hash FROM uids JOIN messages ON messages.id=uids.msg"
                    " WHERE account=? AND folder=? AND uidvalidity=?",
                    (account.name, f.name, f.uidvalidity),
                )
            )
            for uid, data in changed.items():
                h = by_uid.get(uid)
                if h and batch.set_flags(h, maildir_flags(data.get(b"FLAGS"))):
                    rec["flags"] += 1
            batch.commit()

    # New messages.
    uids = []
    if f.messages:
        uids = sorted(u for u in client.search(["UID", f"{highest + 1}:*"]) if u > highest)
    bar = progress(len(uids), f"{account.name}/{f.name}") if progress and uids else None
    # Nothing archived by UID, yet messages on disk (a rebuilt index): match those by Message-ID
    # and size rather than fetch them again.
    known = batch.on_disk_by_id() if uids and not highest else {}
    try:
        _fetch_uids(client, batch, uids, f.uidvalidity, batch_count, bar, advance=True,
                    known=known)  # fmt: skip
    except BaseException:  # an interrupt: the batch being fetched is not stored
        batch.discard()
        raise
    finally:
        if bar:
            bar.__exit__(None, None, None)
    batch.commit(uidnext=f.uidnext, modseq=f.highestmodseq, last_archived=time.time())
    rec.update(new=batch.added, linked=batch.linked, bytes=batch.bytes)
    if rec["status"] == "unchanged":
        rec["status"] = "ok"
    rec["seconds"] = round(time.monotonic() - started, 3)
    return rec


def _fetch_uids(client, batch: Batch, uids: list[int], uidvalidity: int,
                batch_count: int = BATCH_COUNT, bar=None, advance: bool = True,
                known: dict | None = None) -> None:  # fmt: skip
    """Fetch these UIDs into the batch's folder, a durable commit per group of UIDs; with
    `advance` the folder's highest UID moves past each group once it is on disk. `known`
    ((Message-ID, size) -> hash of messages on disk) are recorded, not fetched."""
    for part in _chunks(uids, META_CHUNK):  # metadata of a bounded number of UIDs at a time
        items = ["RFC822.SIZE", "FLAGS", "INTERNALDATE"] + ([_MID] if known else [])
        meta = client.fetch(part, items)
        part = [u for u in part if u in meta]
        if not known:
            _fetch_part(client, batch, part, meta, uidvalidity, batch_count, bar, advance)
            continue
        rest = _adopt(batch, part, meta, uidvalidity, known, bar)
        _fetch_part(client, batch, rest, meta, uidvalidity, batch_count, bar, advance)
        if advance and part:
            batch.commit(highest_uid=part[-1])  # the adopted ones above the last fetched too


_MID = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"


def _adopt(batch: Batch, uids: list[int], meta: dict, uidvalidity: int, known: dict,
           bar) -> list[int]:  # fmt: skip
    """Record the UIDs whose message is on disk already; the UIDs still to fetch."""
    from wacket.mail.search import extract

    rest, adopted = [], 0
    for uid in uids:
        m = meta[uid]
        head = next((v for k, v in m.items() if k.startswith(b"BODY[HEADER")), None)
        mid = extract(head)["message_id"] if isinstance(head, bytes) else None
        h = known.pop((mid, m.get(b"RFC822.SIZE")), None) if mid else None
        if h is None:
            rest.append(uid)
            continue
        batch.adopt(h, maildir_flags(m.get(b"FLAGS")), uid, uidvalidity,
                    m.get(b"RFC822.SIZE"), _ts(m.get(b"INTERNALDATE")))  # fmt: skip
        adopted += 1
    if adopted:
        batch.commit()
        if bar:
            bar.update(adopted)
    return rest


def _fetch_part(client, batch, uids, meta, uidvalidity, batch_count, bar, advance) -> None:
    for group in _groups(uids, meta, batch_count):
        if len(group) == 1 and meta[group[0]].get(b"RFC822.SIZE", 0) > BIG:
            _fetch_big(client, batch, group[0], meta[group[0]], uidvalidity)
        else:
            bodies = imap.fetch_bodies(client, group)
            for uid in group:
                data = bodies.get(uid)
                if data is None:
                    continue  # expunged meanwhile
                m = meta[uid]
                batch.add(data, maildir_flags(m.get(b"FLAGS")), _ts(m.get(b"INTERNALDATE")), uid,
                          uidvalidity)  # fmt: skip
            del bodies
        batch.commit(**({"highest_uid": group[-1]} if advance else {}))
        if bar:
            bar.update(len(group))


def repair_folder(store: Store, account, client, f: imap.Folder, uids: list[int]) -> int:
    """Fetch again the UIDs `verify` found missing (a file deleted from the archive, a UID never
    recorded); the folder's state does not move."""
    if not uids:
        return 0
    client.select_folder(f.name, readonly=True)
    batch = store.batch(account.name, f.name, f.delimiter)
    _fetch_uids(client, batch, sorted(uids), f.uidvalidity, advance=False)
    return len(uids)


def _groups(uids, meta, batch_count):
    group, size = [], 0
    for uid in uids:
        n = meta[uid].get(b"RFC822.SIZE", 0)
        if n > BIG:
            if group:
                yield group
            yield [uid]
            group, size = [], 0
            continue
        if group and (len(group) >= batch_count or size + n > BATCH_BYTES):
            yield group
            group, size = [], 0
        group.append(uid)
        size += n
    if group:
        yield group


def _fetch_big(client, batch: Batch, uid: int, m: dict, uidvalidity: int) -> None:
    """A large message in partial fetches, streamed to tmp/: memory stays at about CHUNK."""
    from wacket.mail.search import extract

    tmp = batch.tmpdir / f"big-{uid}.{os.getpid()}"
    hasher = NormHash()
    first = b""
    offset = 0
    with Staged(tmp) as f:
        while True:
            resp = client.fetch([uid], [f"BODY.PEEK[]<{offset}.{CHUNK}>"])
            item = resp.get(uid, {})
            data = None
            for k, v in item.items():
                if k.startswith(b"BODY[]"):
                    data = v
            if data is None:
                break
            if not first:
                first = data[: 256 * 1024]
            f.write(data)
            hasher.update(data)
            offset += len(data)
            if len(data) < CHUNK:
                break
        f.close()
        if data is None and offset == 0:  # gone from the server meanwhile
            tmp.unlink()
            return
        idate = _ts(m.get(b"INTERNALDATE"))
        if idate:
            os.utime(tmp, (idate, idate))
        meta = extract(first, idate)
        meta["size"] = offset
        # Inside the block: an interrupt before the batch holds the file removes it.
        batch.add_file(tmp, hasher.hexdigest(), offset, maildir_flags(m.get(b"FLAGS")), idate,
                       uid, uidvalidity, meta)  # fmt: skip


class Run:
    """What `archive_all` did over its accounts: the totals, the accounts that failed, the exit
    code (the first failure's, or the highest after it)."""

    def __init__(self):
        self.totals = {"new": 0, "linked": 0, "bytes": 0, "folders": 0, "expunged": 0}
        self.failed: list[str] = []
        self.code = Exit.OK

    def summary(self, expunge: bool) -> str:
        t = self.totals
        return (
            f"{t['new']} new, {t['linked']} linked, {t['bytes']} bytes in {t['folders']} folders"
            + (f"; {t['expunged']} expunged from the server" if expunge else "")
            + (f"; failed: {', '.join(self.failed)}" if self.failed else "")
        )


def archive_all(store: Store, accounts, connect: Callable, progress: Callable | None,
                batch: int, expunge_before: float | None, emit: Callable[[dict], None],
                on_error: Callable[[Exception], None]) -> Run:  # fmt: skip
    """Archive each account under its own lock (`mail-NAME`), its folders' records to `emit`.
    With several accounts, one that fails goes to `on_error` and the others go on; a single
    account's failure is raised."""
    from wacket.errors import WacketError
    from wacket.lock import job_lock

    run = Run()
    for acct in accounts:
        try:
            with job_lock(f"mail-{acct.name}"):
                client = connect(acct)
                try:
                    with imap.session(acct):
                        recs = archive_account(store, acct, client, progress, batch, expunge_before)
                finally:
                    imap.logout(client)
        except WacketError as exc:
            if len(accounts) == 1:
                raise
            on_error(exc)
            run.failed.append(acct.name)
            run.code = max(run.code, exc.code) if run.code else exc.code
            continue
        for r in recs:
            run.totals["folders"] += 1
            for k in ("new", "linked", "bytes", "expunged"):
                run.totals[k] += r.get(k, 0)
            emit(r)
    return run
