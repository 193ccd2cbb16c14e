"""IMAP connections (ssl / starttls / none), folder listing with status, modified UTF-7 names.

imapclient is imported here only, and this module is imported only by commands that talk IMAP,
so `wacket --help` stays fast. Every connection failure becomes one clear WacketError.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
from dataclasses import dataclass

from wacket.errors import Exit, UnreachableError, WacketError
from wacket.mail.accounts import Account, is_loopback

STATUS_ITEMS = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ")


@dataclass
class Folder:
    name: str  # decoded (Unicode)
    delimiter: str
    messages: int
    uidnext: int
    uidvalidity: int
    highestmodseq: int  # 0 when the server has no CONDSTORE


def decode_mutf7(raw: bytes | str) -> str:
    """IMAP modified UTF-7 (RFC 3501 5.1.3) to str: `&AMQ-rger` -> `Ärger`."""
    from imapclient.imap_utf7 import decode

    return decode(raw if isinstance(raw, bytes) else raw.encode("ascii"))


def encode_mutf7(name: str) -> bytes:
    from imapclient.imap_utf7 import encode

    return encode(name)


def _context(account: Account) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=account.ca_file) if account.ca_file else None
    return ctx or ssl.create_default_context()


def connect(account: Account, password: str, warn=None):
    """A logged-in IMAPClient, or UnreachableError/WacketError naming what went wrong."""
    import imapclient
    from imapclient.exceptions import IMAPClientError, LoginError

    where = f"mail {account.name} ({account.host}:{account.port})"
    if account.tls == "none":
        if not is_loopback(account.host):  # config validation already refuses this
            raise WacketError(f"{where}: tls = none is only allowed on loopback", Exit.USAGE)
        if warn:
            warn(f"wacket: warning: {where}: no TLS (loopback only)")
    try:
        client = imapclient.IMAPClient(
            account.host,
            port=account.port,
            ssl=account.tls == "ssl",
            ssl_context=_context(account) if account.tls == "ssl" else None,
            timeout=account.timeout,
        )
    except ssl.SSLCertVerificationError as exc:
        raise UnreachableError(
            where, "tls", f"certificate not trusted: {exc.verify_message}"
        ) from None
    except ssl.SSLError as exc:
        raise UnreachableError(
            where,
            "tls",
            f"TLS handshake failed ({exc.reason or exc}); does the port speak TLS? "
            'try tls = "starttls" with port 143',
        ) from None
    except ConnectionRefusedError:
        raise UnreachableError(where, "refused") from None
    except TimeoutError:
        raise UnreachableError(where, "timeout") from None
    except socket.gaierror as exc:
        raise UnreachableError(where, "dns", str(exc.strerror)) from None
    except OSError as exc:
        raise UnreachableError(where, "error", exc.strerror or str(exc)) from None
    except IMAPClientError as exc:
        raise UnreachableError(where, "error", str(exc)) from None
    try:
        if account.tls == "starttls":
            if not client.has_capability("STARTTLS"):
                client.shutdown()
                raise UnreachableError(
                    where,
                    "tls",
                    'TLS required (tls = "starttls") but the server does not offer STARTTLS',
                )
            try:
                client.starttls(_context(account))
            except ssl.SSLCertVerificationError as exc:
                raise UnreachableError(
                    where, "tls", f"certificate not trusted: {exc.verify_message}"
                ) from None
            except ssl.SSLError as exc:
                raise UnreachableError(where, "tls", f"STARTTLS failed ({exc.reason})") from None
        try:
            client.login(account.user, password)
        except LoginError:
            raise UnreachableError(
                where, "auth", f"login refused for {account.user}: wrong user or password"
            ) from None
    except UnreachableError:
        _close(client)
        raise
    except (OSError, IMAPClientError) as exc:
        _close(client)
        raise UnreachableError(where, "error", str(exc)) from None
    return client


@contextlib.contextmanager
def session(account: Account):
    """Around the work on a logged-in client: the connection lost half way (reset, closed,
    timed out) is UnreachableError; a local error (a full disk) stays what it is."""
    from imapclient.exceptions import IMAPClientAbortError

    try:
        yield
    except (IMAPClientAbortError, ConnectionError, TimeoutError, ssl.SSLError) as exc:
        where = f"mail {account.name} ({account.host}:{account.port})"
        raise UnreachableError(where, "error", f"connection lost: {exc}") from None


def _close(client) -> None:
    try:
        client.shutdown()
    except Exception:
        pass


def logout(client) -> None:
    try:
        client.logout()
    except Exception:
        _close(client)


def list_folders(client) -> list[Folder]:
    """Every selectable folder with its status, in one round trip when the server has LIST-STATUS."""
    if client.has_capability("LIST-STATUS"):
        return _list_status(client)
    out = []
    for flags, delim, name in client.list_folders():
        if _noselect(flags):
            continue
        st = client.folder_status(name, _items(client))
        out.append(_folder(name, delim, st))
    return out


def _items(client) -> list[str]:
    items = list(STATUS_ITEMS)
    if not client.has_capability("CONDSTORE"):
        items.remove("HIGHESTMODSEQ")
    return items


def _noselect(flags) -> bool:
    names = {f.lower() if isinstance(f, bytes) else f.encode().lower() for f in flags}
    return bool(names & {b"\\noselect", b"\\nonexistent"})


def _folder(name, delim, st: dict) -> Folder:
    def get(key):
        return int(st.get(key.encode(), st.get(key, 0)) or 0)

    if isinstance(delim, bytes):
        delim = delim.decode("ascii", "replace")
    return Folder(
        name=name,
        delimiter=delim or "/",
        messages=get("MESSAGES"),
        uidnext=get("UIDNEXT"),
        uidvalidity=get("UIDVALIDITY"),
        highestmodseq=get("HIGHESTMODSEQ"),
    )


def _list_status(client) -> list[Folder]:
    from imapclient.imapclient import as_pairs
    from imapclient.response_parser import parse_response

    imap = client._imap
    items = "(STATUS (" + " ".join(_items(client)) + "))"
    imap.untagged_responses.pop("STATUS", None)
    typ, dat = imap._simple_command("LIST", '""', '"*"', "RETURN", items)
    client._checkok("list", typ, dat)
    typ, dat = imap._untagged_response(typ, dat, "LIST")
    listed = client._proc_folder_list(dat)
    statuses = {}
    for raw in imap.untagged_responses.pop("STATUS", []) or []:
        if raw in (b"", None):
            continue
        parsed = parse_response([raw] if isinstance(raw, bytes) else list(raw))
        name, values = parsed[0], parsed[-1]
        if isinstance(name, int):
            name = str(name)
        elif isinstance(name, bytes):
            name = decode_mutf7(name)
        statuses[name] = dict(as_pairs(values))
    out = []
    for flags, delim, name in listed:
        if _noselect(flags):
            continue
        st = statuses.get(name)
        if st is None:  # the server left one out: ask for it
            st = client.folder_status(name, _items(client))
        out.append(_folder(name, delim, st))
    return out


def fetch_range(client, spec: str, data: list[str], modifiers: list[str] | None = None) -> dict:
    """UID FETCH over a range like "1:500" (imapclient's fetch wants explicit UIDs)."""
    from imapclient.imapclient import seq_to_parenstr_upper
    from imapclient.response_parser import parse_fetch_response

    imap = client._imap
    args = ["UID", "FETCH", spec, seq_to_parenstr_upper(data)]
    if modifiers:
        args.append(seq_to_parenstr_upper(modifiers))
    tag = imap._command(*args)
    typ, dat = imap._command_complete("FETCH", tag)
    client._checkok("fetch", typ, dat)
    typ, dat = imap._untagged_response(typ, dat, "FETCH")
    return parse_fetch_response(dat, client.normalise_times, True)


_UID = None


def fetch_bodies(client, uids: list[int]) -> dict[int, bytes]:
    """UID FETCH (BODY.PEEK[]) for many UIDs, read straight from imaplib's literals.

    imapclient's generic response parser tokenises every FETCH item in Python; for whole
    messages only the UID and the literal matter, so this skips that work.
    """
    import re

    global _UID
    if _UID is None:
        _UID = re.compile(rb"UID (\d+)", re.I)
    imap = client._imap
    tag = imap._command("UID", "FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    typ, dat = imap._command_complete("FETCH", tag)
    client._checkok("fetch", typ, dat)
    typ, dat = imap._untagged_response(typ, dat, "FETCH")
    out: dict[int, bytes] = {}
    pending = None
    for item in dat:
        if isinstance(item, tuple):
            head, literal = item[0], item[1]
            if b"BODY[]" not in head.upper():
                pending = None
                continue
            m = _UID.search(head)
            if m:
                out[int(m.group(1))] = literal
                pending = None
            else:
                pending = literal
        elif pending is not None and isinstance(item, bytes):
            m = _UID.search(item)
            if m:
                out[int(m.group(1))] = pending
            pending = None
    return out


def warn(message: str) -> None:
    print(message, file=sys.stderr)
