"""The one place an exception becomes a one-line message and an exit status.

Its own module, free of click, so that both the quick `find` path (cli/entry) and the click
command (cli/main) use it without importing each other."""

from __future__ import annotations

import os
import sys


def storage_failure(exc: BaseException) -> str | None:
    """What to say when this machine's own storage failed (full, over quota, read-only, I/O
    error): no bug of wacket's, so a one-line error, not an internal one. None otherwise."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EIO,
    ):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or os.strerror(exc.errno)}"
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # the primary result code
        if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
            return f"cannot write a database: {exc} (is the disk full?)"
    return None


def guarded(fn, debug: bool = False) -> int:
    """Call `fn` (which returns an exit status) and turn what it raises into a one-line message
    and a documented status; a closed stdout (`| head`) is not an error. An interrupt exits
    128 + its signal: 130 for SIGINT, 143 for SIGTERM and SIGHUP (see wacket.interrupt)."""
    from wacket import interrupt
    from wacket.errors import Exit, WacketError

    try:
        try:
            code = fn()
        except Exception as exc:
            stopped = interrupt.cause(exc)
            if stopped is None:
                raise
            raise stopped from None
    except KeyboardInterrupt as exc:
        what = str(exc) if isinstance(exc, interrupt.Interrupted) else "interrupted"
        print(f"wacket: {what}", file=sys.stderr)
        code = interrupt.exit_code(exc)
    except WacketError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        print(f"wacket: error: {exc}", file=sys.stderr)
        code = exc.code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = Exit.OK
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        why = storage_failure(exc)
        if why is not None:
            print(f"wacket: error: {why}", file=sys.stderr)
        else:
            print(
                f"wacket: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
                file=sys.stderr,
            )
        code = Exit.PARTIAL
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return int(code)
