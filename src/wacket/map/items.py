"""Batch items and command templates with GNU parallel's placeholders.

`{}` the item, `{.}` without extension, `{/}` basename, `{//}` dirname, `{/.}` basename without
extension, `{#}` the job number; with JSON-lines input `{name}` is the item's field `name` and `{}`
its `item` field (or the whole line). A template of one argument is a shell command line whose
placeholders become quoted words; several arguments are quoted word by word.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from wacket.errors import ConfigError

PLACEHOLDER = re.compile(r"\{(|\.|/|//|/\.|#|[A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Item:
    seq: int
    value: str
    fields: dict | None = None


def read_items(lines: Iterable[str], jsonl: bool = False) -> list[Item]:
    items = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if jsonl:
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"items line {number}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ConfigError(f"items line {number}: expected a JSON object")
            value = str(obj.get("item", obj.get("path", line)))
            items.append(Item(len(items) + 1, value, obj))
        else:
            items.append(Item(len(items) + 1, line))
    return items


def _no_ext(path: str) -> str:
    base, ext = os.path.splitext(path)
    return base if "/" not in ext else path


def substitute(name: str, value: str, item: Item) -> str:
    if name == "":
        return value
    if name == ".":
        return _no_ext(value)
    if name == "/":
        return os.path.basename(value)
    if name == "//":
        return os.path.dirname(value) or "."
    if name == "/.":
        return _no_ext(os.path.basename(value))
    if name == "#":
        return str(item.seq)
    if item.fields is not None and name in item.fields:
        return str(item.fields[name])
    raise ConfigError(f"unknown placeholder {{{name}}}")


def expand_word(word: str, value: str, item: Item) -> str:
    return PLACEHOLDER.sub(lambda m: substitute(m.group(1), value, item), word)


def build_command(template: list[str], item: Item, value: str | None = None) -> str:
    """The shell command line for one job; `value` overrides what `{}` stands for."""
    value = item.value if value is None else value
    if len(template) == 1:
        text = template[0]
        if not PLACEHOLDER.search(text):
            return f"{text} {shlex.quote(value)}"
        return PLACEHOLDER.sub(lambda m: shlex.quote(substitute(m.group(1), value, item)), text)
    words = [expand_word(w, value, item) for w in template]
    if not any(PLACEHOLDER.search(w) for w in template):
        words.append(value)
    return " ".join(shlex.quote(w) for w in words)
