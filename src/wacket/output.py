"""One output layer: records as a table (people), --plain (tab-separated), --json or --jsonl.

The table is the default on a TTY, --plain when stdout is a pipe. Strings that came from non-UTF-8
bytes (surrogate escapes) are written back as the same bytes in table/plain output and as \\udcXX
escapes in JSON, which `json.loads` + `os.fsencode` turn back into the original bytes.
"""

from __future__ import annotations

import functools
import json
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any


def output_options(fn):
    """Add --table/--plain/--json/--jsonl to a command, as the `fmt` parameter."""
    import click  # here, not at the top: a query run by wacket.cli.entry renders without click

    options = [
        click.option("--jsonl", "fmt", flag_value="jsonl", help="One JSON object per line."),
        click.option("--json", "fmt", flag_value="json", help="One JSON array."),
        click.option(
            "--plain", "fmt", flag_value="plain", help="Tab-separated, no header (for cut/awk)."
        ),
        click.option(
            "--table", "fmt", flag_value="table", help="Aligned table (the default on a TTY)."
        ),
    ]
    for option in options:
        fn = option(fn)
    return fn


def resolve(fmt: str | None) -> str:
    if fmt:
        return fmt
    return "table" if sys.stdout.isatty() else "plain"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


def plain_field(value: Any) -> str:
    """A value as one --plain field: backslash, tab, newline and CR escaped."""
    # The common cases first (a query prints hundreds of thousands of paths and sizes).
    if value.__class__ is str:
        if "\\" not in value and "\t" not in value and "\n" not in value and "\r" not in value:
            return value
    elif value.__class__ is int:
        return str(value)
    text = _text(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def dumps(record: Any) -> str:
    return json.dumps(_jsonable(record), ensure_ascii=True, default=str)


@functools.cache
def _stdout():
    return sys.stdout.buffer


def write_text(text: str, stream=None) -> None:
    stream = stream or _stdout()
    stream.write(text.encode("utf-8", "surrogateescape"))


class Renderer:
    """Emit records one at a time (streaming for plain/json/jsonl, collected for the table)."""

    def __init__(self, fmt: str | None, columns: Sequence[str] | None = None, headers=None):
        self.fmt = resolve(fmt)
        self.columns = list(columns) if columns else None
        self.headers = headers
        self.rows: list[dict] = []
        self.count = 0

    def emit(self, record: dict) -> None:
        self.count += 1
        out = sys.stdout
        if self.fmt == "jsonl":
            out.write(dumps(record) + "\n")
            out.flush()
        elif self.fmt == "json":
            out.write(("[\n" if self.count == 1 else ",\n") + dumps(record))
        elif self.fmt == "plain":
            cols = self.columns or list(record)
            out.flush()
            write_text("\t".join(plain_field(record.get(c)) for c in cols) + "\n")
            _stdout().flush()
        else:
            self.rows.append(record)

    def close(self) -> None:
        if self.fmt == "json":
            sys.stdout.write("[]\n" if self.count == 0 else "\n]\n")
        elif self.fmt == "table" and self.rows:
            from tabulate import tabulate

            cols = self.columns or list(self.rows[0])
            body = [[_text(r.get(c)) for c in cols] for r in self.rows]
            headers = self.headers or [c.upper() for c in cols]
            sys.stdout.flush()
            write_text(tabulate(body, headers=headers, tablefmt="simple") + "\n")
            _stdout().flush()
        sys.stdout.flush()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def render(records: Iterable[dict], fmt: str | None, columns: Sequence[str] | None = None) -> int:
    with Renderer(fmt, columns) as r:
        for rec in records:
            r.emit(rec)
    return r.count


def read_jsonl(stream) -> Iterable[dict]:
    """Records from JSON lines; a malformed line is an error naming its number."""
    from wacket.errors import ConfigError

    for number, line in enumerate(stream, 1):
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"stdin line {number}: not JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise ConfigError(f"stdin line {number}: expected a JSON object")
        yield value


def progress(iterable=None, *, length=None, label=None, quiet=False, show_status=False):
    """A progress bar on a TTY (stderr); a plain pass-through when piped or quiet.

    With `show_status`, the text passed as `update(n, current_item=TEXT)` shows after the bar.
    """
    if quiet or not sys.stderr.isatty():
        return _NullBar(iterable)
    import click

    extra = {"item_show_func": lambda text: text} if show_status else {}
    return click.progressbar(
        iterable, length=length, label=label, file=sys.stderr, show_eta=True, **extra
    )


class _NullBar:
    def __init__(self, iterable):
        self.iterable = iterable

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def __iter__(self):
        return iter(self.iterable or ())

    def update(self, n, current_item=None):
        return None


def human_bytes(n: float | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return str(n)


def report_hosts(out: Renderer, results, rows: dict[str, int], none: str = "nothing") -> None:
    """Account for every host a fan-out asked that gave no rows: in JSON output a record of its
    own (`HostResult.record`: state "none", "unreachable" or "failed"), else one line each on
    stderr (a failure always has its line there), so a script tells "nothing there" from
    "could not ask" from "not asked"."""
    for res in results:
        if res.ok and rows.get(res.host):
            continue
        if not res.ok or out.fmt not in ("json", "jsonl"):
            print(f"wacket: {res.host}: {none if res.ok else res.why}", file=sys.stderr)
        if out.fmt in ("json", "jsonl"):
            out.emit(res.record())
