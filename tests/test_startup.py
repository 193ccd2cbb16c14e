"""`wacket --help` must start fast: heavy libraries are imported only by the commands that use them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["paramiko", "imapclient", "sh", "keyring", "tabulate", "invoke", "cryptography"]

PROBE = """
import sys
from wacket.cli.main import cli
for args in ([{args}],):
    try:
        cli.main(list(args), prog_name="wacket", standalone_mode=False)
    except SystemExit:
        pass
print("LOADED:" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def loaded_after(*args: str) -> list[str]:
    code = PROBE.format(args=", ".join(repr(a) for a in args), heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    marker = [line for line in out.stdout.splitlines() if line.startswith("LOADED:")][-1]
    return [m for m in marker[len("LOADED:") :].split(",") if m]


def test_help_imports_nothing_heavy():
    assert loaded_after("--help") == []


def test_every_subcommand_help_imports_nothing_heavy():
    from wacket.cli.main import cli

    for name in cli.list_commands(None):
        assert loaded_after(name, "--help") == [], name


def test_hosts_list_imports_no_ssh_library():
    assert loaded_after("hosts", "list", "--plain") == []


def test_a_command_loads_only_its_own_module():
    code = (
        "import sys\nfrom wacket.cli.main import cli\n"
        "try:\n    cli.main(['hosts', 'list', '--plain'], standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(sorted(m for m in sys.modules if m.startswith('wacket.cli.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    marker = [line for line in out.stdout.splitlines() if line.startswith("LOADED:")][-1]
    assert marker == "LOADED:wacket.cli.context,wacket.cli.hosts,wacket.cli.main"
