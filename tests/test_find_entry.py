"""The quick entry point: `wacket find PATTERN` without click must read its arguments exactly as
the click command does, answer the same, and hand everything else to click."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from probe import run_probe

from wacket.cli import entry
from wacket.cli.main import cli
from wacket.find import catalog


def _query_command() -> click.Command:
    ctx = click.Context(cli)
    return cli.get_command(ctx, "find").commands["query"]


def test_option_table_is_the_click_commands():
    """Every option of `wacket find query` is in the table with its parameter and kind, and the
    table has nothing else: a new option fails here until the quick parser knows it."""
    seen = set()
    for param in _query_command().params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        for opt in param.opts:
            seen.add(opt)
            name, kind = entry.FIND_OPTIONS[opt]
            assert name == param.name, opt
            if param.name == "fmt":
                assert kind == param.flag_value, opt
            elif param.is_flag:
                assert kind == "flag", opt
            else:
                assert kind == ("multi" if param.multiple else "value"), opt
    assert seen == set(entry.FIND_OPTIONS)
    ctx = click.Context(cli)
    assert set(cli.get_command(ctx, "find").commands) == entry.FIND_COMMANDS


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["-h"],
        ["index"],
        ["query", "x"],
        ["dupes"],
        ["x", "y"],
        ["-rc", "x"],
        ["-Hnas", "x"],
        ["--", "-x"],
        ["x", "--regex=yes"],
        ["x", "--host"],
        ["x", "--host", "-r"],
        ["x", "--type", "q"],
        ["x", "--limit", "0"],
        ["x", "--limit", "many"],
        ["x", "--json", "--plain"],
        ["x", "--frobnicate"],
        ["--stale"],
        ["--no-check"],
    ],
)
def test_left_to_click(args):
    assert entry.parse_find(args) is None


def test_parse_reads_values_as_click_does():
    opts = entry.parse_find(
        ["--ext", "pdf", "report", "--ext=ODS", "-H", "nas", "--limit=5", "-r", "--type", "f"]
    )
    assert opts["pattern"] == "report"
    assert opts["exts"] == ("pdf", "ODS")
    assert opts["hostset"] == "nas" and opts["limit"] == 5 and opts["regex"] is True
    assert opts["types"] == ("f",)
    assert entry.parse_find(["--ext", "pdf"])["pattern"] is None
    assert entry.parse_find(["x", "--plain", "--plain"])["fmt"] == "plain"
    assert entry.parse_find(["-"])["pattern"] == "-"


ODD = [
    "docs/Budget 2026.ods",
    "docs/-leading dash.txt",
    "docs/tab\there.md",
    "docs/new\nline report.txt",
    os.fsdecode(b"docs/caf\xe9 report.txt"),
    "photos/2024/IMG_0001.JPG",
    "photos/2024/img_0002.jpg",
    "a[1]/star*.md",
]


@pytest.fixture
def odd_catalog(isolated_env):
    w = catalog.Writer("local")
    w.add_root("/home/me")
    w.add_batch(
        [[p, "f", 1000 * (i + 1), 10**18 + i, 0o644, None, None] for i, p in enumerate(ODD)]
    )
    w.commit({"indexed_at": 1.0})
    return isolated_env


QUERIES = [
    ["report"],
    ["report", "--jsonl"],
    ["report", "--json", "--no-check"],
    ["REPORT", "--plain", "--case-sensitive"],
    ["*.jpg", "--plain"],
    ["*/photos/*", "--count"],
    ["-", "--null"],
    ["--ext", "JPG", "--larger", "5K", "--plain"],
    ["^img", "-r", "-b", "--plain"],
    ["a[1]", "-F", "--plain"],
    ["docs", "--limit", "2", "--type", "f", "--plain"],
    ["docs", "--newer", "1d", "--plain"],
    ["report", "--table", "--online-only"],
    ["nothing-like-this", "--plain"],
    ["x", "--larger", "10Q"],
    ["(", "--regex"],
    ["report", "--host", "nas"],
]


@pytest.mark.parametrize("args", QUERIES, ids=[" ".join(a) for a in QUERIES])
def test_quick_and_click_paths_agree(odd_catalog, args):
    assert entry.parse_find(args) is not None
    quick = subprocess.run(
        [sys.executable, "-m", "wacket", "find", *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    full = subprocess.run(
        [sys.executable, "-c", "from wacket.cli.main import main; main()", "find", *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    assert (quick.returncode, quick.stdout, quick.stderr) == (
        full.returncode,
        full.stdout,
        full.stderr,
    )


def test_quick_query_loads_no_click(odd_catalog):
    lines, loaded = run_probe(
        "from wacket.cli.entry import main", "main(['find', 'budget', '--plain'])"
    )
    assert lines[0].split("\t")[:2] == ["local", "/home/me/docs/Budget 2026.ods"]
    assert "EXIT 0" in lines
    assert "click" not in loaded and "wacket.cli.main" not in loaded
