"""A small reader of OpenSSH client config: enough for aliases and the options wacket honours.

paramiko's own parser pulls in `invoke` (about 200 ms of start-up), and `wacket hosts list` must be fast.
Semantics follow ssh_config(5): `Host` patterns with `*`, `?` and `!negation`, case-insensitive keywords,
the first value obtained wins, `Include` with globs relative to ~/.ssh.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

# Keywords whose every occurrence counts (the others: first one wins).
_MULTI = {"identityfile"}


@dataclass
class _Block:
    patterns: list[str]
    options: list[tuple[str, str]] = field(default_factory=list)

    def matches(self, host: str) -> bool:
        ok = False
        for pat in self.patterns:
            if pat.startswith("!"):
                if fnmatch.fnmatchcase(host.lower(), pat[1:].lower()):
                    return False
            elif fnmatch.fnmatchcase(host.lower(), pat.lower()):
                ok = True
        return ok


class SSHConfig:
    def __init__(self, blocks: list[_Block], path: Path | None = None):
        self.blocks = blocks
        self.path = path

    @classmethod
    def load(cls, path: Path | None = None) -> SSHConfig:
        path = Path(path) if path else Path(os.path.expanduser("~/.ssh/config"))
        blocks = [_Block(["*"])]
        if path.is_file():
            _parse(path, blocks, depth=0)
        return cls(blocks, path if path.is_file() else None)

    def aliases(self) -> list[str]:
        """Concrete host names (no wildcards, no negations) in file order."""
        seen: list[str] = []
        for block in self.blocks:
            for pat in block.patterns:
                if not any(c in pat for c in "*?!") and pat not in seen:
                    seen.append(pat)
        return seen

    def lookup(self, host: str) -> dict[str, object]:
        """Options for `host`, keys lower-cased; identityfile is a list."""
        result: dict[str, object] = {}
        for block in self.blocks:
            if not block.matches(host):
                continue
            for key, value in block.options:
                if key in _MULTI:
                    result.setdefault(key, [])
                    result[key].append(value)  # type: ignore[union-attr]
                elif key not in result:
                    result[key] = value
        return result


def _parse(path: Path, blocks: list[_Block], depth: int) -> None:
    if depth > 8:
        return
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" in line.split(None, 1)[0]:
            key, _, value = line.partition("=")
        else:
            parts = line.split(None, 1)
            key, value = parts[0], parts[1] if len(parts) > 1 else ""
        key = key.strip().lower()
        value = value.strip().lstrip("=").strip()
        if key == "host":
            blocks.append(_Block(shlex.split(value) or ["*"]))
        elif key == "match":
            # Match blocks are not evaluated here; treat them as never matching.
            blocks.append(_Block(["!*"]))
        elif key == "include":
            for item in shlex.split(value):
                item = os.path.expanduser(item)
                if not os.path.isabs(item):
                    item = os.path.join(os.path.expanduser("~/.ssh"), item)
                for inc in sorted(glob.glob(item)):
                    _parse(Path(inc), blocks, depth + 1)
        else:
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            blocks[-1].options.append((key, value))
