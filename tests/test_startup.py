"""`wacket --help` must start fast: heavy libraries and command modules load only when used."""

from __future__ import annotations

from probe import run_probe

HEAVY = ["paramiko", "imapclient", "sh", "keyring", "tabulate", "invoke", "cryptography"]


def loaded_after(*args: str) -> set[str]:
    call = f"cli.main({list(args)!r}, prog_name='wacket', standalone_mode=False)"
    return run_probe("from wacket.cli.main import cli", call)[1]


def heavy_after(*args: str) -> list[str]:
    return [m for m in HEAVY if m in loaded_after(*args)]


def test_help_imports_nothing_heavy_and_no_command_module():
    loaded = loaded_after("--help")
    assert [m for m in HEAVY if m in loaded] == []
    assert sorted(m for m in loaded if m.startswith("wacket.cli.")) == [
        "wacket.cli.context",
        "wacket.cli.guard",
        "wacket.cli.main",
    ]


def test_every_subcommand_help_imports_nothing_heavy():
    from wacket.cli.main import cli

    for name in cli.list_commands(None):
        assert heavy_after(name, "--help") == [], name


def test_hosts_list_imports_no_ssh_library_and_only_its_module():
    loaded = loaded_after("hosts", "list", "--plain")
    assert [m for m in HEAVY if m in loaded] == []
    assert sorted(m for m in loaded if m.startswith("wacket.cli.")) == [
        "wacket.cli.context",
        "wacket.cli.guard",
        "wacket.cli.hosts",
        "wacket.cli.main",
    ]


def test_listed_help_matches_each_commands_own():
    import click

    from wacket.cli.main import LazyGroup, cli

    ctx = click.Context(cli)
    for name, (_, text) in LazyGroup.COMMANDS.items():
        assert cli.get_command(ctx, name).get_short_help_str(limit=500) == text, name


def test_a_find_query_loads_no_module_it_does_not_use(tmp_path):
    """The plain `wacket find PATTERN` runs often and must stay lean: no dataclasses (inspect,
    ast), no crash-safe write machinery (a query never writes)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "modules"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write('\\n'.join(sys.modules)))\n"
        "sys.argv = ['wacket', 'find', 'zebra', '--no-check']\n"
        "from wacket.cli.entry import main\n"
        "main()\n"
    )
    env = dict(os.environ, WACKET_DATA=str(tmp_path / "data"), WACKET_CONFIG=str(tmp_path / "c"))
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    loaded = set(out.read_text().split())
    assert "wacket.find.search" in loaded
    assert {"dataclasses", "inspect", "wacket.fsutil", "wacket.remote.atomic"} & loaded == set()
