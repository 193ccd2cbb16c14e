"""`wacket mail`: archive every mailbox of every account, verify it, search it, bring it back."""

from __future__ import annotations

import os
import re
import sys
import time

import click

from wacket.cli.context import Completes, connection_options, pass_app
from wacket.errors import ConfigError, Exit, WacketError
from wacket.output import Renderer, output_options


@click.group()
def mail() -> None:
    """A local, incremental, verified and searchable archive of your IMAP mail.

    Accounts are [mail.NAME] tables in the config; passwords live in the OS
    keyring (`wacket mail login NAME`) or come from `password_command`.

    \b
    Examples:
      wacket mail login work
      wacket mail archive --all
      wacket mail verify work
      wacket mail search invoice --from acme --since 2025-01-01
    """


def _accounts(app, names, all_=False):
    from wacket.mail import accounts

    return accounts.select(accounts.load(app.config), list(names), all_)


def _account(app, name):
    return _accounts(app, [name])[0]


def _connect(app, account):
    from wacket.mail import accounts, imap

    return imap.connect(account, accounts.password(account), warn=app.note)


def _progress(app):
    from wacket import output

    if app.quiet or not sys.stderr.isatty():
        return None

    def make(length, label):
        bar = output.progress(length=length, label=label)
        bar.__enter__()
        return bar

    return make


def _split(spec: str) -> tuple[str, str]:
    if "/" not in spec:
        raise ConfigError(f"{spec!r}: expected ACCOUNT/FOLDER")
    account, folder = spec.split("/", 1)
    return account, folder


@mail.command()
@click.argument("account", type=Completes("account"))
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (first line).")
@click.option("--no-check", is_flag=True, help="Store it without trying to log in.")
@pass_app
def login(app, account, password_stdin, no_check) -> int:
    """Store ACCOUNT's password (or app password) in the OS keyring.

    It is read from the terminal without echo, or from stdin with
    --password-stdin; it never appears in argv, logs, the journal or output.
    Then a test login checks it (skip with --no-check).

    \b
    Examples:
      wacket mail login work
      pass show mail/work | wacket mail login work --password-stdin
    """
    from wacket import jobrun
    from wacket.mail import accounts, imap

    acct = _account(app, account)
    if password_stdin:
        line = sys.stdin.readline()
        secret = line.rstrip("\r\n")
    else:
        _need_terminal(acct.name)
        secret = click.prompt(f"Password for {acct.user} on {acct.host}", hide_input=True)
    if not secret:
        raise ConfigError("empty password")
    with jobrun.run("mail login", [acct.name]) as e:
        if not no_check:
            imap.logout(imap.connect(acct, secret, warn=app.note))
        accounts.store_password(acct, secret)
        e.summary = f"password stored in the keyring for {acct.name}" + (
            "" if no_check else " (login checked)"
        )
    del secret
    app.note(f"wacket mail: password for {acct.name} stored in the keyring")
    return Exit.OK


def _need_terminal(account: str) -> None:
    """A hidden prompt needs a terminal (getpass reads /dev/tty); without one, say what works."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        raise ConfigError(
            f"no terminal to ask for {account}'s password: pipe it with --password-stdin, "
            f"or set password_command in [mail.{account}]"
        ) from None


@mail.command()
@click.argument("account", type=Completes("account"))
@pass_app
def logout(app, account) -> int:
    """Remove ACCOUNT's password from the keyring.

    \b
    Example:
      wacket mail logout work
    """
    from wacket.mail import accounts

    acct = _account(app, account)
    found = accounts.forget_password(acct)
    app.note(f"wacket mail: {'removed' if found else 'no'} password for {acct.name}")
    return Exit.OK


@mail.command()
@click.argument("account", type=Completes("account"))
@output_options
@pass_app
def folders(app, account, fmt) -> int:
    """List ACCOUNT's folders on the server, with counts and whether they are selected.

    \b
    Example:
      wacket mail folders work --plain | awk -F'\t' '$3 == "no"'
    """
    from wacket.mail import imap

    acct = _account(app, account)
    client = _connect(app, acct)
    try:
        with Renderer(fmt, ["folder", "messages", "archived"]) as out:
            for f in imap.list_folders(client):
                out.emit({"folder": f.name, "messages": f.messages, "archived": acct.wants(f.name),
                          "uidvalidity": f.uidvalidity})  # fmt: skip
    finally:
        imap.logout(client)
    return Exit.OK


ARCHIVE_COLUMNS = ["account", "folder", "server", "new", "linked", "flags", "bytes", "status"]
EXPUNGE_COLUMNS = [*ARCHIVE_COLUMNS[:-1], "expunged", "status"]


@mail.command()
@click.argument("account", nargs=-1, type=Completes("account"))
@click.option("--all", "all_", is_flag=True, help="Every configured account.")
@click.option("--batch", type=click.IntRange(1, 10000), default=500, show_default=True,
              help="UIDs per FETCH.")  # fmt: skip
@click.option("--expunge-archived-older-than", "expunge", metavar="AGE",
              help="After archiving, delete from the server the messages older than AGE (365d) "
                   "that are verified in the archive (UID, size, content hash).")  # fmt: skip
@output_options
@pass_app
def archive(app, account, all_, batch, expunge, fmt) -> int:
    """Copy every message of every selected folder into the local archive.

    Incremental (per folder: UIDVALIDITY + highest UID archived), read-only on
    the server (EXAMINE) unless --expunge-archived-older-than is given,
    crash-safe: kill it anywhere, run it again, and nothing is missing or
    stored twice. A message in several folders is stored
    once and hard-linked. One Maildir per folder under $WACKET_DATA/mail.

    \b
    Examples:
      wacket mail archive work
      wacket mail archive --all --jsonl
      wacket -q mail archive --all     # for cron
      wacket mail archive work --expunge-archived-older-than 365d
    """
    from wacket import jobrun
    from wacket.mail import archive as arch
    from wacket.mail.store import Store

    accts = _accounts(app, account, all_)
    expunge_before = None
    if expunge:
        from wacket import timeparse

        expunge_before = time.time() - timeparse.duration(expunge)
    with jobrun.run("mail archive", [a.name for a in accts]) as entry:
        store = Store()
        with Renderer(fmt, EXPUNGE_COLUMNS if expunge else ARCHIVE_COLUMNS) as out:
            run = arch.archive_all(
                store, accts, lambda acct: _connect(app, acct), _progress(app), batch,
                expunge_before, out.emit, lambda exc: click.echo(f"wacket: error: {exc}", err=True),
            )  # fmt: skip
        store.close()
        entry.summary = run.summary(bool(expunge))
        entry.finish(run.code)
    return run.code


@mail.command()
@click.argument("account", nargs=-1, type=Completes("account"))
@click.option("--all", "all_", is_flag=True, help="Every configured account.")
@click.option("--missing-only", is_flag=True, help="List only missing messages, no folder summary.")
@click.option("--repair", is_flag=True, help="Fetch what is missing again, then verify.")
@output_options
@pass_app
def verify(app, account, all_, missing_only, repair, fmt) -> int:
    """Prove the archive holds every message on the server (UID, size, file).

    Lists each missing message and a summary per folder. Exit status 1 if
    anything is missing. --repair fetches the missing messages (say, a file
    deleted from the archive by hand) and verifies again.

    \b
    Examples:
      wacket mail verify work
      wacket mail verify --all --missing-only --jsonl
      wacket mail verify work --repair
    """
    from wacket.mail import imap
    from wacket.mail.store import Store
    from wacket.mail.verify import repair as repair_account
    from wacket.mail.verify import verify_account

    accts = _accounts(app, account, all_)
    store = Store()
    missing = 0
    cols = ["account", "folder", "server", "archived", "missing", "problem", "uid"]
    with Renderer(fmt, cols) as out:
        for acct in accts:
            client = _connect(app, acct)
            try:
                if repair:
                    repair_account(store, acct, client, app.note)
                for kind, rec in verify_account(store, acct, client):
                    if kind == "missing":
                        missing += 1
                        out.emit(rec)
                    elif not missing_only:
                        out.emit(rec)
            finally:
                imap.logout(client)
    store.close()
    if missing:
        click.echo(f"wacket mail verify: {missing} message(s) missing from the archive", err=True)
        return Exit.PARTIAL
    app.note("wacket mail verify: every message on the server is in the archive")
    return Exit.OK


@mail.command()
@click.argument("words", nargs=-1)
@click.option("--from", "sender", metavar="TEXT", help="Sender contains these words.")
@click.option("--to", "recipient", metavar="TEXT", help="To/Cc/Bcc contain these words.")
@click.option("--subject", metavar="TEXT", help="Subject contains these words.")
@click.option("--since", metavar="WHEN", help="Sent at or after (2025-01-01, 30d).")
@click.option("--until", metavar="WHEN", help="Sent before (2025-02-01, 7d).")
@click.option("--account", metavar="NAME", type=Completes("account"), help="Only this account.")
@click.option("--folder", metavar="NAME", help="Only this folder (and its subfolders).")
@click.option("--limit", "-n", type=int, default=100, show_default=True)
@output_options
@pass_app
def search(app, words, sender, recipient, subject, since, until, account, folder, limit,
           fmt) -> int:  # fmt: skip
    """Search the whole archive (all accounts), newest first.

    WORDS match the body and headers; --from, --to, --subject, --since,
    --until, --account and --folder narrow it down.

    \b
    Examples:
      wacket mail search invoice march
      wacket mail search --from alice --since 30d
      wacket mail search contract --folder Work --jsonl | jq -r .path
      wacket mail show "$(wacket mail search -n1 --plain --subject Offer | cut -f1)"
    """
    from wacket import timeparse
    from wacket.mail import search as s
    from wacket.mail.store import Store

    store = Store()
    rows = s.search(
        store, list(words), sender=sender, recipient=recipient, subject=subject,
        since=timeparse.since(since) if since else None,
        until=timeparse.since(until) if until else None,
        account=account, folder=folder, limit=limit,
    )  # fmt: skip
    with Renderer(fmt, ["id", "date", "account", "folder", "from", "subject"]) as out:
        for r in rows:
            r["date"] = timeparse.iso(r["date"]) if r["date"] else ""
            out.emit(r)
    store.close()
    return Exit.OK if rows else Exit.PARTIAL


@mail.command()
@click.argument("message")
@click.option("--raw", is_flag=True, help="The message exactly as archived (for piping).")
@pass_app
def show(app, message, raw) -> int:
    """Print one archived message, by search id or path (headers and text, or --raw).

    \b
    Examples:
      wacket mail show 42
      wacket mail show 42 --raw | ripmime -i - -d /tmp/parts
    """
    from wacket.mail import report
    from wacket.mail.store import Store

    store = Store()
    path = report.message_file(store, message)
    store.close()
    if path is None:
        raise WacketError(f"no archived message {message!r}")
    data = path.read_bytes()
    out = sys.stdout.buffer
    out.write(data if raw else report.message_text(data, path))
    out.flush()
    return Exit.OK


@mail.command()
@click.argument("account", required=False, type=Completes("account"))
@output_options
@pass_app
def stats(app, account, fmt) -> int:
    """Per account and folder: messages, bytes, oldest, newest, last archived.

    \b
    Examples:
      wacket mail stats
      wacket mail stats work --json
    """
    from wacket.mail import report
    from wacket.mail.store import Store

    store = Store()
    cols = ["account", "folder", "messages", "size", "oldest", "newest", "last_archived"]
    with Renderer(fmt, cols) as out:
        for rec in report.folder_stats(store, account):
            out.emit(rec)
    store.close()
    return Exit.OK


@mail.command()
@click.argument("source", metavar="ACCOUNT/FOLDER")
@click.option("--mbox", "mbox", required=True, type=click.Path(dir_okay=False), help="Write here.")
@pass_app
def export(app, source, mbox) -> int:
    """Write one archived folder as an mbox file (mboxrd quoting).

    \b
    Examples:
      wacket mail export work/INBOX --mbox inbox.mbox
    """
    from pathlib import Path

    from wacket.mail.export import export_mbox
    from wacket.mail.store import Store

    account, folder = _split(source)
    store = Store()
    count, size = export_mbox(store, account, folder, Path(mbox))
    store.close()
    if not count:
        raise WacketError(f"{source}: no archived messages")
    app.note(f"wacket mail export: {count} messages to {mbox}")
    return Exit.OK


_REMOTE = re.compile(r"^([A-Za-z0-9_.\[\]-]+):(.+)$")


@mail.command(name="import")
@click.argument("path", type=Completes("path"))
@click.option("--account", default="local", show_default=True, type=Completes("account"),
              help="Archive account name to import into.")  # fmt: skip
@click.option("--folder", metavar="NAME", help="Put everything into this folder.")
@connection_options
@output_options
@pass_app
def import_(app, path, account, folder, accept_new, connect_timeout, fmt) -> int:
    """Bring in mbox files and Maildirs from this machine or HOST:PATH.

    PATH may be one mbox file, one Maildir, or a tree of them (a Thunderbird
    profile's Mail folder). Messages already archived are not stored twice.

    \b
    Examples:
      wacket mail import ~/.thunderbird/abcd.default/Mail/Local\\ Folders
      wacket mail import old.mbox --folder Old
      wacket mail import nas:/srv/mail/me/Maildir --account nas
    """
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
            host = app.fleet.get(m.group(1))
            host_name = host.name
            tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=store.root))
            src = _fetch_remote(host, m.group(2), tmp, accept_new, connect_timeout)
        if not src.exists():
            raise WacketError(f"{path}: no such file or directory", Exit.USAGE)
        try:
            with job_lock(f"mail-{account}"):
                recs = import_path(store, account, src, folder)
        finally:
            store.close()
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
        cols = ["folder", "kind", "messages", "new", "linked", "duplicates", "source"]
        with Renderer(fmt, cols) as out:
            for r in recs:
                if tmp:
                    r["source"] = f"{host_name}:{r['source'][len(str(tmp)) + 1 :]}"
                out.emit(r)
        n = sum(r["new"] for r in recs)
        d = sum(r["duplicates"] for r in recs)
        entry.summary = f"{path}: {n} new, {d} duplicates, {len(recs)} folders"
        if not recs:
            raise WacketError(f"{path}: no mbox file or Maildir found")
    return Exit.OK


def _fetch_remote(host, path, tmp, accept_new, connect_timeout):
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


@mail.command()
@click.argument("source", metavar="ACCOUNT/FOLDER")
@click.option("--to", "to", required=True, metavar="ACCOUNT2[/FOLDER]",
              help="Upload into this account (and folder; default the same name).")  # fmt: skip
@output_options
@pass_app
def restore(app, source, to, fmt) -> int:
    """Upload archived messages back to a server (APPEND with original flags and
    internal date), skipping those already there: the way back after a disaster.

    \b
    Examples:
      wacket mail restore work/INBOX --to work
      wacket mail restore work/Projects --to newhost/Archive/Projects
    """
    from wacket import jobrun
    from wacket.mail import imap
    from wacket.mail import restore as r
    from wacket.mail.store import Store

    account, folder = _split(source)
    target_account, _, target_folder = to.partition("/")
    acct = _account(app, target_account)
    with jobrun.run("mail restore", [acct.name]) as entry:
        store = Store()
        if not store.db.execute(
            "SELECT 1 FROM files WHERE account=? AND folder=? LIMIT 1", (account, folder)
        ).fetchone():
            raise WacketError(f"{source}: no archived messages")
        client = _connect(app, acct)
        try:
            with imap.session(acct):  # the connection lost half way: unreachable
                rec = r.restore(store, account, folder, client, target_folder or folder)
        finally:
            imap.logout(client)
            store.close()
        rec["to"] = f"{acct.name}/{rec['to']}"
        entry.summary = (
            f"{source} -> {rec['to']}: {rec['uploaded']} uploaded, {rec['skipped']} skipped"
        )
        with Renderer(fmt, ["from", "to", "uploaded", "skipped", "missing"]) as out:
            out.emit(rec)
    return Exit.OK
