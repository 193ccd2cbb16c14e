# Clipboard kinds: text, link, HTML, image or binary, told from the bytes (and a file's name).
import re

_CLIP_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", None),  # too short a magic to trust alone
)
_CLIP_LINK_RE = re.compile(r"^(?:https?|ftp|sftp|ssh|file|mailto|magnet):[^\s]+$", re.I)
_CLIP_HTML_RE = re.compile(
    r"^\s*(?:<!doctype\s+html|<html[\s>]|<meta[\s>]|<(?:p|div|span|b|i|a|ul|ol|table|h[1-6]|pre|"
    r"strong|em|br|img|body|head|style)[\s>/])",
    re.I,
)


def clip_image_mime(data):
    for magic, mime in _CLIP_IMAGE_MAGIC:
        if mime and data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def clip_kind(data, name=None, mime=None):
    """(kind, mime) of a payload: file, image, html, link, text or binary."""
    image = clip_image_mime(data)
    if name:
        return "file", image or mime or ("text/plain" if clip_is_text(data) else None)
    if mime and mime.startswith("image/"):
        return "image", mime
    if image:
        return "image", image
    if mime == "text/html":
        return "html", mime
    if not clip_is_text(data):
        return "binary", mime or "application/octet-stream"
    text = data.decode("utf-8")
    stripped = text.strip()
    if stripped and "\n" not in stripped and _CLIP_LINK_RE.match(stripped):
        return "link", "text/plain"
    if _CLIP_HTML_RE.match(text) and "</" in text or re.match(r"^\s*<!doctype\s+html", text, re.I):
        return "html", "text/html"
    return "text", "text/plain"


def clip_is_text(data):
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    bad = sum(1 for c in text[:4096] if ord(c) < 32 and c not in "\t\n\r\f\v\x1b")
    return bad == 0


def clip_preview(data, kind, limit=60):
    if kind in ("text", "link", "html") or (kind == "file" and clip_is_text(data)):
        text = data.decode("utf-8", "replace")
        if kind == "html":
            text = re.sub(r"<[^>]*>", "", text)
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "\u2026"
    return ""
