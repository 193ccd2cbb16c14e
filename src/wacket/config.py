"""The TOML config file: parsed once, errors name the file, the line and the problem."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wacket import paths, schema
from wacket.errors import ConfigError


@dataclass
class Config:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    _lines: dict[tuple[str, ...], int] | None = field(default=None, repr=False, compare=False)

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.error(f"[{name}] must be a table", name)
        return value

    def line_of(self, *keys: str) -> int | None:
        """The line of a table or key (or of the nearest enclosing one that is written out)."""
        if self._lines is None:
            self._lines = key_lines(self.text)
        for n in range(len(keys), 0, -1):
            if keys[:n] in self._lines:
                return self._lines[keys[:n]]
        # a bare key name (mail accounts name just the key): its first line anywhere
        return next((ln for path, ln in self._lines.items() if keys and path[-1] == keys[-1]), None)

    def error(self, problem: str, *keys: str) -> ConfigError:
        line = self.line_of(*keys)
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {problem}")


_PART = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*""")


def _key_path(text: str) -> tuple[tuple[str, ...], str] | None:
    """A dotted, maybe quoted key at the start of `text`: its parts and the rest of the text."""
    parts: list[str] = []
    pos = 0
    while True:
        m = _PART.match(text, pos)
        if not m or m.end() == pos:
            return None
        bare, basic, literal = m.groups()
        if basic is not None:
            try:
                basic = json.loads(f'"{basic}"')
            except ValueError:
                pass
        parts.append(next(p for p in (bare, basic, literal) if p is not None))
        pos = m.end()
        if not text.startswith(".", pos):
            return tuple(parts), text[pos:]
        pos += 1


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The first line of every table header and key of a TOML text, by its full key path (and
    each table's enclosing tables, by the line of their first sub-table): tomllib gives none."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    quote = ""  # inside a multi-line string: its delimiter
    for number, line in enumerate(text.split("\n"), 1):
        if quote:
            if quote in line:
                quote = ""
            continue
        stripped = line.lstrip()
        if stripped.startswith("["):
            found = _key_path(stripped.lstrip("[").lstrip())
            if found and found[1].lstrip().startswith("]"):
                table = found[0]
                for n in range(1, len(table) + 1):
                    lines.setdefault(table[:n], number)
            continue
        found = _key_path(stripped) if stripped and stripped[0] != "#" else None
        if found and found[1].startswith("="):
            path = table + found[0]
            for n in range(len(table) + 1, len(path) + 1):
                lines.setdefault(path[:n], number)
            value = found[1][1:].lstrip()
            for delim in ('"""', "'''"):
                if value.startswith(delim) and delim not in value[3:]:
                    quote = delim
    return lines


def load(path: Path | None = None) -> Config:
    path = Path(path) if path else paths.config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if m:
            problem = msg[: m.start()].strip()
            raise ConfigError(f"{path}:{m.group(1)}: {problem} (column {m.group(2)})") from None
        raise ConfigError(f"{path}: {msg}") from None
    config = Config(path, data, text)
    problem = schema.check(data)
    if problem:
        raise config.error(problem.message, *problem.keys)
    return config
