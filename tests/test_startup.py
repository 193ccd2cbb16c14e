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
