"""The TOML config file: parsed once, errors name the file, the line and the problem."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wacket import paths
from wacket.errors import ConfigError


@dataclass
class Config:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.error(f"[{name}] must be a table", name)
        return value

    def line_of(self, *keys: str) -> int | None:
        """Best-effort line number of a table or key, for error messages."""
        if not keys:
            return None
        header = re.compile(r"^\s*\[+\s*" + r"\s*\.\s*".join(map(_key_re, keys)) + r"\s*\]+")
        for number, line in enumerate(self.text.splitlines(), 1):
            if header.match(line):
                return number
        last = _key_re(keys[-1])
        for number, line in enumerate(self.text.splitlines(), 1):
            if re.match(r"^\s*" + last + r"\s*=", line):
                return number
        return None

    def error(self, problem: str, *keys: str) -> ConfigError:
        line = self.line_of(*keys)
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {problem}")


def _key_re(key: str) -> str:
    return r"(?:" + re.escape(key) + r'|"' + re.escape(key) + r'")'


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
    return Config(path, data, text)
