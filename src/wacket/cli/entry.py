"""The console entry point: a plain `find` query without click, everything else to cli/main.

`wacket find PATTERN [OPTIONS]` is the command people wait on, and importing click and building
the command tree costs more than the search itself; so a plain query is parsed here, by the
table below, and run without click. Only the simple spellings are taken (`--opt value`,
`--opt=value`, `-o value`, one pattern); anything else (help, another command, a global option,
bundled short flags, `--`, a value click would refuse) goes to the click command, which gives
the same answer or the proper usage error. Tests hold the table to the click command's options
and run both paths on the same arguments.
"""

from __future__ import annotations

import os
import sys

# The query's options: name -> (parameter, kind). kind is "flag", "value", "multi" (repeatable
# value) or, for the output format options, the format itself.
FIND_OPTIONS: dict[str, tuple[str, str]] = {
    "--host": ("hostset", "value"),
    "-H": ("hostset", "value"),
    "--ext": ("exts", "multi"),
    "--larger": ("larger", "value"),
    "--smaller": ("smaller", "value"),
    "--newer": ("newer", "value"),
    "--older": ("older", "value"),
    "--type": ("types", "multi"),
    "--regex": ("regex", "flag"),
    "-r": ("regex", "flag"),
    "--fixed": ("fixed", "flag"),
    "-F": ("fixed", "flag"),
    "--case-sensitive": ("case_sensitive", "flag"),
    "-c": ("case_sensitive", "flag"),
    "--basename": ("basename", "flag"),
    "-b": ("basename", "flag"),
    "--text": ("text", "value"),
    "-t": ("text", "value"),
    "--online-only": ("online_only", "flag"),
    "--no-check": ("no_check", "flag"),
    "--stale": ("stale", "flag"),
    "--limit": ("limit", "value"),
    "-l": ("limit", "value"),
    "--count": ("count", "flag"),
    "--null": ("null", "flag"),
    "-0": ("null", "flag"),
    "--jsonl": ("fmt", "jsonl"),
    "--json": ("fmt", "json"),
    "--plain": ("fmt", "plain"),
    "--table": ("fmt", "table"),
}

# Words that `wacket find WORD` takes as a command rather than a pattern.
FIND_COMMANDS = frozenset({"query", "index", "dupes", "where", "missing", "get"})

# Options that make a query without a PATTERN (else it is a usage error, or --stale alone).
FIND_FILTERS = ("exts", "larger", "smaller", "newer", "older", "types", "text")


def parse_find(args: list[str]) -> dict | None:
    """The query's parameters from the arguments after `find`, or None if they are not a plain
    query that this parser reads exactly as click would."""
    if args[:1] and args[0] in FIND_COMMANDS:
        return None
    opts: dict = {"exts": [], "types": []}
    pattern = None
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            if pattern is not None:
                return None
            pattern = arg
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        spec = FIND_OPTIONS.get(name)
        if spec is None:
            return None
        param, kind = spec
        if kind in ("value", "multi"):
            if not eq:
                if i == len(args) or args[i].startswith("-"):
                    return None
                value = args[i]
                i += 1
            if kind == "multi":
                opts[param].append(value)
            else:
                opts[param] = value
        elif eq:
            return None
        elif param == "fmt":
            if opts.get("fmt", kind) != kind:
                return None  # two formats: left to click's rules
            opts["fmt"] = kind
        else:
            opts[param] = True
    if pattern is None and not any(opts.get(f) for f in FIND_FILTERS):
        return None  # --stale alone, or a usage error: the click command's
    if any(t not in ("f", "d", "l") for t in opts["types"]):
        return None
    if "limit" in opts:
        try:
            opts["limit"] = int(opts["limit"])
        except ValueError:
            return None
        if opts["limit"] < 1:
            return None
    opts["exts"] = tuple(opts["exts"])
    opts["types"] = tuple(opts["types"])
    opts["pattern"] = pattern
    return opts


def _quick_find(opts: dict) -> int:
    from wacket.app import App
    from wacket.find import search

    config_path = os.environ.get("WACKET_CONFIG") or None
    app = App(config_path and os.path.expanduser(config_path), False, False)
    try:
        return search.run(app, search.QueryOptions(**opts))
    finally:
        app.close()


def main(argv: list[str] | None = None) -> None:
    # Arguments and names may hold any bytes (str with surrogate escapes): written back as the
    # same bytes, never an error (Python's default is strict on stdout, lossy on stderr).
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    from wacket import interrupt

    interrupt.install()  # SIGTERM and SIGHUP end a run as Ctrl-C does, in order
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["complete"]:  # the shell completions' names: no click, no command tree
        from wacket import complete

        sys.exit(complete.main(args[1:]))
    if args[:1] == ["find"]:
        opts = parse_find(args[1:])
        if opts is not None:
            from wacket.cli.guard import guarded

            sys.exit(guarded(lambda: _quick_find(opts)))
    from wacket.cli.main import main as full

    full(argv)
