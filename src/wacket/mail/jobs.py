"""The `wacket mail` runs that change something, each under its journal entry: login, archive,
import (a local PATH, or HOST:PATH copied here first with rsync) and restore."""

from __future__ import annotations

import re

from wacket.errors import ConfigError, Exit, WacketError

ARCHIVE_COLUMNS = ["account", "folder", "server", "new", "linked", "flags", "bytes", "status"]
EXPUNGE_COLUMNS = [*ARCHIVE_COLUMNS[:-1], "expunged", "status"]
IMPORT_COLUMNS = ["folder", "kind", "messages", "new", "linked", "duplicates", "source"]
_REMOTE = re.compile(r"^([A-Za-z0-9_.\[\]-]+):(.+)$")


def login(acct, secret: str, *, check: bool, warn) -> None:
    """Store ACCOUNT's password in the keyring, after a test login unless not `check`."""
    from wacket import jobrun
    from wacket.mail import accounts, imap

    if not secret:
        raise ConfigError("empty password")
    with jobrun.run("mail login", [acct.name]) as e:
        if check:
            imap.logout(imap.connect(acct, secret, warn=warn))
        accounts.store_password(acct, secret)
        e.summary = f"password stored in the keyring for {acct.name}" + (
            " (login checked)" if check else ""
        )


def archive(accts, connect, progress, batch: int, expunge: str | None, *, output, on_error) -> Exit:
    """`archive.archive_all` of the accounts into the local store; with `expunge` (an age, 365d)
    the messages older than that and verified in the archive are deleted from the server. Each
    folder's record goes to the `emit` of `output()`, the caller's renderer."""
    import time

    from wacket import jobrun
    from wacket.mail import archive as arch
    from wacket.mail.store import Store

    expunge_before = None
    if expunge:
        from wacket import timeparse

        expunge_before = time.time() - timeparse.duration(expunge)
    with jobrun.run("mail archive", [a.name for a in accts]) as entry:
        store = Store()
        with output() as out:
            run = arch.archive_all(store, accts, connect, progress, batch, expunge_before,
                                   out.emit, on_error)  # fmt: skip
        store.close()
        entry.summary = run.summary(bool(expunge))
        entry.finish(run.code)
    return run.code


def import_mail(fleet, path: str, account: str, folder, *, connection: dict, output) -> None:
    """Import PATH (mbox files and Maildirs) into the archive account `account` (everything into
    `folder` if given). HOST:PATH is fetched over SSH with `connection` (accept_new,
    connect_timeout). Each folder's record goes to the `emit` of `output()`, the caller's
    renderer; a PATH holding no mailbox is an error after that."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from wacket import jobrun
    from wacket.lock import job_lock
    from wacket.mail.importer import import_path
    from wacket.mail.store import Store

    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", account):
        raise ConfigError(f"account name {account!r}: use letters, digits, . _ -")
    tmp = None
    m = _REMOTE.match(path)
    src = Path(os.path.expanduser(path))
    host_name = None
    with jobrun.run("mail import", [account]) as entry:
        store = Store()
        if m and not src.exists():
            host = fleet.get(m.group(1))
            host_name = host.name
            tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=store.root))
            src = fetch_remote(host, m.group(2), tmp, **connection)
        if not src.exists():
            raise WacketError(f"{path}: no such file or directory", Exit.USAGE)
        try:
            with job_lock(f"mail-{account}"):
                recs = import_path(store, account, src, folder)
        finally:
            store.close()
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
        with output() as out:
            for r in recs:
                if tmp:
                    r["source"] = f"{host_name}:{r['source'][len(str(tmp)) + 1 :]}"
                out.emit(r)
        n = sum(r["new"] for r in recs)
        d = sum(r["duplicates"] for r in recs)
        entry.summary = f"{path}: {n} new, {d} duplicates, {len(recs)} folders"
        if not recs:
            raise WacketError(f"{path}: no mbox file or Maildir found")


def fetch_remote(host, path, tmp, accept_new, connect_timeout):
    """Copy HOST:PATH (a file or a tree) into tmp with rsync over SSH; returns the local copy."""
    import posixpath
    from pathlib import Path

    from wacket.errors import UnreachableError
    from wacket.transport import rsync

    dest = Path(tmp) / "src"
    dest.mkdir(mode=0o700)
    path = path.rstrip("/") or "/"
    argv = rsync.copy_args(host, path, str(dest) + "/", accept_new=accept_new,
                           connect_timeout=int(connect_timeout))  # fmt: skip
    res = rsync.run(argv, hold_locks=False)
    detail = res.stderr_text.strip().splitlines()
    if res.rc == rsync.SSH_FAILED:
        raise UnreachableError(host.name, "ssh", detail[-1] if detail else "")
    if res.rc != 0:
        raise WacketError(
            f"{host.name}:{path}: copy failed: "
            + (detail[-1] if detail else f"rsync exit {res.rc}")
        )
    return dest / posixpath.basename(path)


def restore(account: str, folder: str, acct, target_folder: str, *, connect, output) -> None:
    """Upload the archived ACCOUNT/FOLDER into `target_folder` of the account `acct` (connected
    with `connect(acct)`); the record goes to the `emit` of `output()`, the caller's renderer."""
    from wacket import jobrun
    from wacket.mail import imap
    from wacket.mail import restore as r
    from wacket.mail.store import Store

    source = f"{account}/{folder}"
    with jobrun.run("mail restore", [acct.name]) as entry:
        store = Store()
        if not store.db.execute(
            "SELECT 1 FROM files WHERE account=? AND folder=? LIMIT 1", (account, folder)
        ).fetchone():
            raise WacketError(f"{source}: no archived messages")
        client = connect(acct)
        try:
            with imap.session(acct):  # the connection lost half way: unreachable
                rec = r.restore(store, account, folder, client, target_folder)
        finally:
            imap.logout(client)
            store.close()
        rec["to"] = f"{acct.name}/{rec['to']}"
        entry.summary = (
            f"{source} -> {rec['to']}: {rec['uploaded']} uploaded, {rec['skipped']} skipped"
        )
        with output() as out:
            out.emit(rec)
