"""A message's content hash, whole or over chunks: the name a stored message goes by, so the same
message fetched over IMAP (CRLF) or found in a Maildir or an mbox (LF) is recognised as one."""

from __future__ import annotations

import hashlib


def content_hash(data: bytes) -> str:
    """sha256 of the message with CRLF/LF differences and trailing newlines removed, so the same
    message fetched over IMAP (CRLF), found in a Maildir or an mbox (LF) is recognised."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n").rstrip(b"\n")).hexdigest()


class NormHash:
    """Incremental `content_hash` (CRLF -> LF, trailing newlines ignored) over chunks."""

    def __init__(self):
        self.h = hashlib.sha256()
        self.carry = b""

    def update(self, chunk: bytes) -> None:
        data = self.carry + chunk
        cr = data.endswith(b"\r")
        if cr:
            data = data[:-1]
        data = data.replace(b"\r\n", b"\n")
        stripped = data.rstrip(b"\n")
        self.h.update(stripped)
        self.carry = data[len(stripped) :] + (b"\r" if cr else b"")

    def hexdigest(self) -> str:
        if self.carry.endswith(b"\r"):
            self.h.update(self.carry)
        return self.h.hexdigest()
