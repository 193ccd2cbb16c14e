"""Building remote command lines from argument lists: every argument quoted."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

Argv = Sequence[str | bytes] | str


def to_shell(argv: Argv) -> str:
    """One string is a shell command line as given; a list is quoted word by word.

    bytes arguments (non-UTF-8 file names) are kept exactly via surrogateescape. A line that
    starts with '-' gets a leading space: `sh -c -x` would take it for an option of the shell.
    """
    line = argv if isinstance(argv, str) else " ".join(shlex.quote(os.fsdecode(a)) for a in argv)
    return " " + line if line.startswith("-") else line


def encode(command: str) -> bytes:
    return command.encode("utf-8", "surrogateescape")
