"""The `wacket mail` commands that use the local archive only, no IMAP server: search, show,
stats, export and import."""

from __future__ import annotations

import sys

import click

from wacket.cli.context import Completes, connection_options, pass_app
from wacket.errors import Exit, WacketError
from wacket.output import Renderer, output_options


@click.command()
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
    from wacket.mail import report

    rows = report.found(
        list(words), sender=sender, recipient=recipient, subject=subject, since=since,
        until=until, account=account, folder=folder, limit=limit,
    )  # fmt: skip
    with Renderer(fmt, ["id", "date", "account", "folder", "from", "subject"]) as out:
        for r in rows:
            out.emit(r)
    return Exit.OK if rows else Exit.PARTIAL


@click.command()
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

    data = report.shown_message(message, raw)
    out = sys.stdout.buffer
    out.write(data)
    out.flush()
    return Exit.OK


@click.command()
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


@click.command()
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

    from wacket.mail.accounts import split_folder
    from wacket.mail.export import export_mbox
    from wacket.mail.store import Store

    account, folder = split_folder(source)
    store = Store()
    count, size = export_mbox(store, account, folder, Path(mbox))
    store.close()
    if not count:
        raise WacketError(f"{source}: no archived messages")
    app.note(f"wacket mail export: {count} messages to {mbox}")
    return Exit.OK


@click.command(name="import")
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
    from wacket.mail import jobs

    jobs.import_mail(
        app.fleet, path, account, folder,
        connection={"accept_new": accept_new, "connect_timeout": connect_timeout},
        output=lambda: Renderer(fmt, jobs.IMPORT_COLUMNS),
    )  # fmt: skip
    return Exit.OK
