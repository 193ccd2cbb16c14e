"""`wacket mail verify`: every message on the server is in the archive (UID, size, file on disk)."""

from __future__ import annotations

import os

from wacket.mail import imap
from wacket.mail.store import Store

CHUNK = 5000


def verify_account(store: Store, account, client):
    """Yield ("folder", record) per folder and ("missing", record) per message not archived."""
    with imap.session(account):  # the connection lost half way: unreachable, not a crash
        yield from _verify(store, account, client)


def _verify(store: Store, account, client):
    for f in imap.list_folders(client):
        if not account.wants(f.name):
            continue
        st = store.folder(account.name, f.name, f.delimiter)
        archived = {}
        for uid, size, d, name in store.db.execute(
            "SELECT uids.uid, uids.size, folders.dir, files.name FROM uids"
            " JOIN folders ON folders.account=uids.account AND folders.folder=uids.folder"
            " LEFT JOIN files ON files.account=uids.account AND files.folder=uids.folder"
            " AND files.msg=uids.msg"
            " WHERE uids.account=? AND uids.folder=? AND uids.uidvalidity=?",
            (account.name, f.name, f.uidvalidity),
        ):
            archived[uid] = (size, d, name)
        server = {}
        if f.messages:
            client.select_folder(f.name, readonly=True)
            uids = client.search("ALL")
            for i in range(0, len(uids), CHUNK):
                for uid, data in client.fetch(uids[i : i + CHUNK], ["RFC822.SIZE"]).items():
                    server[uid] = data.get(b"RFC822.SIZE")
        missing = 0
        for uid in sorted(server):
            reason = None
            if uid not in archived:
                reason = "not archived"
            else:
                size, d, name = archived[uid]
                if not name:
                    reason = "no file recorded"
                else:
                    try:
                        os.stat(store.root / d / "cur" / name)
                    except FileNotFoundError:
                        reason = "file missing from the archive"
                    else:
                        if size is not None and server[uid] is not None and size != server[uid]:
                            reason = f"size differs (server {server[uid]}, archive {size})"
            if reason:
                missing += 1
                yield "missing", {"account": account.name, "folder": f.name, "uid": uid,
                                  "size": server[uid], "problem": reason}  # fmt: skip
        yield (
            "folder",
            {
                "account": account.name,
                "folder": f.name,
                "server": len(server),
                "archived": len(server) - missing,
                "missing": missing,
                "archive_only": len(set(archived) - set(server)),
                "last_archived": st["last_archived"],
            },
        )


def repair(store: Store, acct, client, note) -> None:
    """`mail verify --repair`: fetch what verify finds missing again, under the account's lock
    and the journal entry "mail verify --repair" (nothing missing: no entry)."""
    from wacket import jobrun
    from wacket.mail import archive as arch

    by_folder: dict[str, list[int]] = {}
    for kind, rec in verify_account(store, acct, client):
        if kind == "missing":
            by_folder.setdefault(rec["folder"], []).append(rec["uid"])
    if not by_folder:
        return
    folders = {f.name: f for f in imap.list_folders(client)}
    lock = f"mail-{acct.name}"
    with jobrun.run("mail verify --repair", [acct.name], recorded_locks=[lock]) as entry:
        fetched = 0
        for name, uids in by_folder.items():
            fetched += arch.repair_folder(store, acct, client, folders[name], uids)
        entry.summary = f"fetched {fetched} missing messages again in {len(by_folder)} folders"
        note(f"wacket mail verify: {entry.summary}")


def verify_all(accts, connect, *, repair_first: bool, missing_only: bool, note, output) -> int:
    """Verify each account (connected with `connect(acct)`), after a repair if `repair_first`; each
    missing message's record, and unless `missing_only` each folder's, goes to the `emit` of
    `output()`, the caller's renderer. How many messages are missing."""
    store = Store()
    missing = 0
    with output() as out:
        for acct in accts:
            client = connect(acct)
            try:
                if repair_first:
                    repair(store, acct, client, note)
                for kind, rec in verify_account(store, acct, client):
                    if kind == "missing":
                        missing += 1
                        out.emit(rec)
                    elif not missing_only:
                        out.emit(rec)
            finally:
                imap.logout(client)
    store.close()
    return missing
