"""Run a piece of wacket in a fresh interpreter and see which modules it loaded (start-up cost)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """\
import sys
{imports}
try:
    {call}
except SystemExit as e:
    print("EXIT", e.code)
print("LOADED:" + ",".join(sorted(sys.modules)))
"""


def run_probe(imports: str, call: str) -> tuple[list[str], set[str]]:
    """Run `imports`, then `call`, in a new python: (its stdout lines, with an `EXIT code` line
    if it exited, and the names of the modules loaded by the end)."""
    code = PROBE.format(imports=imports, call=call)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    return lines[:-1], set(lines[-1][len("LOADED:") :].split(","))
