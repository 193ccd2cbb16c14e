"""Netscape bookmark HTML: what every browser exports and imports.

    <!DOCTYPE NETSCAPE-Bookmark-file-1>
    <DL><p>
      <DT><H3 ADD_DATE="1700000000">Folder</H3>
      <DL><p>
        <DT><A HREF="https://…" ADD_DATE="1700000000" TAGS="a,b">Title</A>
      </DL><p>
    </DL><p>

ADD_DATE is seconds since 1970. Folders nest by <DL>; the folder path is the chain of <H3> names.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from wacket.links.model import Bookmark

MAGIC = "NETSCAPE-Bookmark-file-1"


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.pending_folder: str | None = None
        self.in_h3 = False
        self.h3_text: list[str] = []
        self.link: dict | None = None
        self.text: list[str] = []
        self.out: list[Bookmark] = []

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "h3":
            self.in_h3 = True
            self.h3_text = []
        elif tag == "dl":
            if self.pending_folder is not None:
                self.stack.append(self.pending_folder)
                self.pending_folder = None
            else:
                self.stack.append("")
        elif tag == "a":
            self.link = a
            self.text = []

    def handle_endtag(self, tag):
        if tag == "h3":
            self.in_h3 = False
            self.pending_folder = "".join(self.h3_text).strip().replace("/", "∕")
        elif tag == "dl":
            if self.stack:
                self.stack.pop()
        elif tag == "a" and self.link is not None:
            self._finish_link()

    def _finish_link(self):
        a, self.link = self.link, None
        url = a.get("href", "")
        if not url:
            return
        try:
            added = int(a.get("add_date", "")) * 1_000_000
        except ValueError:
            added = None
        tags = [t.strip() for t in a.get("tags", "").split(",") if t.strip()]
        folder = "/".join(s for s in self.stack if s)
        self.out.append(Bookmark(url, "".join(self.text), folder, tags, added))

    def handle_data(self, data):
        if self.in_h3:
            self.h3_text.append(data)
        elif self.link is not None:
            self.text.append(data)


def looks_like(head: bytes) -> bool:
    text = head.decode("utf-8", "replace").upper()
    return MAGIC.upper() in text or ("<DL" in text and "<A " in text)


def read(path: Path) -> list[Bookmark]:
    text = Path(path).read_bytes().decode("utf-8", "replace")
    parser = _Parser()
    parser.feed(text)
    parser.close()
    if parser.link is not None:
        parser._finish_link()
    return parser.out


def write(bookmarks: Iterable[Bookmark], stream) -> int:
    """Write bookmarks (grouped by folder path) as a Netscape HTML file that Firefox and Chromium import."""
    tree: dict = {}
    count = 0
    for b in bookmarks:
        node = tree
        for part in [p for p in b.folder.split("/") if p]:
            node = node.setdefault(("folder", part), {})
        node.setdefault(("links",), []).append(b)
        count += 1
    stream.write(
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n"
        "<!-- This is an automatically generated file. It will be read and overwritten. -->\n"
        '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">\n'
        "<TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n"
    )
    _write_node(tree, stream, 0)
    return count


def _write_node(node: dict, stream, depth: int) -> None:
    pad = "    " * depth
    stream.write(f"{pad}<DL><p>\n")
    for key, child in node.items():
        if key[0] == "folder":
            stream.write(f"{pad}    <DT><H3>{html.escape(key[1])}</H3>\n")
            _write_node(child, stream, depth + 1)
    for b in node.get(("links",), []):
        attrs = f'HREF="{html.escape(b.url, quote=True)}"'
        if b.added:
            attrs += f' ADD_DATE="{b.added // 1_000_000}"'
        if b.tags:
            attrs += f' TAGS="{html.escape(",".join(b.tags), quote=True)}"'
        stream.write(f"{pad}    <DT><A {attrs}>{html.escape(b.title)}</A>\n")
    stream.write(f"{pad}</DL><p>\n")
