"""`wacket mail`: archive every mailbox of every account, verify it, search it, bring it back."""

from __future__ import annotations

import sys

import click

from wacket.cli.context import Completes, pass_app
from wacket.cli.mail_archive import export, import_, search, show, stats
from wacket.errors import Exit
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
    from wacket.mail import accounts, jobs

    acct = _account(app, account)
    if password_stdin:
        line = sys.stdin.readline()
        secret = line.rstrip("\r\n")
    else:
        accounts.need_terminal(acct.name)
        secret = click.prompt(f"Password for {acct.user} on {acct.host}", hide_input=True)
    jobs.login(acct, secret, check=not no_check, warn=app.note)
    del secret
    app.note(f"wacket mail: password for {acct.name} stored in the keyring")
    return Exit.OK


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
    from wacket.mail import jobs

    columns = jobs.EXPUNGE_COLUMNS if expunge else jobs.ARCHIVE_COLUMNS
    return jobs.archive(
        _accounts(app, account, all_), lambda acct: _connect(app, acct), _progress(app), batch,
        expunge, output=lambda: Renderer(fmt, columns),
        on_error=lambda exc: click.echo(f"wacket: error: {exc}", err=True),
    )  # fmt: skip


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
    from wacket.mail.verify import verify_all

    cols = ["account", "folder", "server", "archived", "missing", "problem", "uid"]
    missing = verify_all(
        _accounts(app, account, all_), lambda acct: _connect(app, acct), repair_first=repair,
        missing_only=missing_only, note=app.note, output=lambda: Renderer(fmt, cols),
    )  # fmt: skip
    if missing:
        click.echo(f"wacket mail verify: {missing} message(s) missing from the archive", err=True)
        return Exit.PARTIAL
    app.note("wacket mail verify: every message on the server is in the archive")
    return Exit.OK


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
    from wacket.mail import jobs
    from wacket.mail.accounts import split_folder

    account, folder = split_folder(source)
    target_account, _, target_folder = to.partition("/")
    acct = _account(app, target_account)
    jobs.restore(
        account, folder, acct, target_folder or folder, connect=lambda a: _connect(app, a),
        output=lambda: Renderer(fmt, ["from", "to", "uploaded", "skipped", "missing"]),
    )  # fmt: skip
    return Exit.OK


for _command in (search, show, stats, export, import_):
    mail.add_command(_command)
