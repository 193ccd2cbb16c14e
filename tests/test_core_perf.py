"""Start-up savings on the SSH path (see bench/core): paramiko is imported without `invoke`."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from wacket.transport.sshlib import paramiko  # how every SSH command imports it
import paramiko.config
print("invoke" in sys.modules, paramiko.config.invoke is None)
import invoke  # anyone else may still import it
print(invoke.__name__)
"""


def test_paramiko_is_imported_without_invoke_which_stays_importable():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=False)
    lines = out.stdout.split()
    assert lines[:2] == ["False", "True"], out.stderr
    if out.returncode == 0:  # invoke installed: importing it later still works
        assert lines[2] == "invoke"
    else:
        assert "No module named 'invoke'" in out.stderr


def test_status_script_reads_the_python_version_without_starting_python():
    from wacket.hosts import STATUS_SCRIPT, parse_status

    assert "python3 -V" in STATUS_SCRIPT and "python3 -c" not in STATUS_SCRIPT
    out = subprocess.run(["sh", "-c", STATUS_SCRIPT], capture_output=True, text=True, check=True)
    facts = parse_status(out.stdout)
    assert facts["python"].startswith("3.") and " " not in facts["python"]
