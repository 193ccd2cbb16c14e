"""What the readers produce, and the visit kinds shared by all browsers."""

from __future__ import annotations

from dataclasses import dataclass, field

# Visit kinds stored in the master database (small integers; names for output).
KINDS = (
    "link",
    "typed",
    "bookmark",
    "redirect",
    "reload",
    "download",
    "form",
    "generated",
    "other",
)
KIND = {name: i for i, name in enumerate(KINDS)}

UNIX_EPOCH_IN_WEBKIT_US = 11644473600000000  # µs between 1601-01-01 and 1970-01-01


@dataclass
class Bookmark:
    url: str
    title: str = ""
    folder: str = ""  # "Bookmarks Toolbar/Dev/Rust"
    tags: list[str] = field(default_factory=list)
    added: int | None = None  # µs since 1970


def case_sql(column: str, mapping: dict[int, str], default: str = "other") -> str:
    """A SQL CASE turning a browser's visit type into a wacket kind number."""
    whens = " ".join(f"WHEN {k} THEN {KIND[v]}" for k, v in mapping.items())
    return f"(CASE {column} {whens} ELSE {KIND[default]} END)"
