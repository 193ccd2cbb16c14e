# wacket find: what the generic tree.scan walk cannot do. Root expansion (so the catalog stores
# absolute paths) and document text extraction for `wacket find index --content`.
# Names here are prefixed _find_ because every ops file shares one namespace in the helper.
import os
import re
import subprocess
import zipfile

from wacket.remote.helper import OpError, op

_FIND_TEXT_EXT = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".markdown": "text",
    ".rst": "text",
    ".org": "text",
    ".csv": "text",
    ".tex": "text",
    ".log": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "ooxml",
    ".xlsx": "ooxml",
    ".pptx": "ooxml",
    ".odt": "odf",
    ".ods": "odf",
    ".odp": "odf",
}
_FIND_TAG = re.compile(r"<[^>]*>")
_FIND_DROP = re.compile(r"(?is)<(script|style)\b.*?</\1\s*>")
_FIND_SPACE = re.compile(r"\s+")


@op("find.roots")
def _find_roots(args):
    """Expand `~` and make each root absolute: [[given, absolute, is_dir], ...]."""
    out = []
    for root in args["roots"]:
        path = os.path.abspath(os.path.expanduser(root))
        out.append([root, path, os.path.isdir(path)])
    return out


def _find_decode(data):
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3:  # a character cut by the read limit
            return data[: exc.start].decode("utf-8", "replace")
        return data.decode("latin-1")


def _find_html(text):
    text = _FIND_DROP.sub(" ", text)
    text = _FIND_TAG.sub(" ", text)
    for a, b in (("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&")):
        text = text.replace(a, b)
    return text


def _find_xml_parts(path, names_wanted):
    parts = []
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if names_wanted(name):
                parts.append(z.read(name).decode("utf-8", "replace"))
    return " ".join(_FIND_TAG.sub(" ", p) for p in parts)


def _find_extract(path, kind, limit):
    if kind == "text":
        with open(path, "rb") as fh:
            return _find_decode(fh.read(limit))
    if kind == "html":
        with open(path, "rb") as fh:
            return _find_html(_find_decode(fh.read(limit)))
    if kind == "pdf":
        try:
            proc = subprocess.run(
                ["pdftotext", "-q", "-enc", "UTF-8", path, "-"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                timeout=60,
            )
        except OSError:
            raise OpError("pdftotext is not installed", "no-tool") from None
        return proc.stdout[:limit].decode("utf-8", "replace")
    if kind == "ooxml":
        return _find_xml_parts(
            path,
            lambda n: (
                n in ("word/document.xml", "xl/sharedStrings.xml")
                or (n.startswith("ppt/slides/slide") and n.endswith(".xml"))
            ),
        )[:limit]
    if kind == "odf":
        return _find_xml_parts(path, lambda n: n == "content.xml")[:limit]
    return ""


@op("find.text")
def _find_text(args):
    """Extract the words of documents: `paths` is a list of absolute paths. Streams batches of
    [path, text-or-null, problem-or-null]; text is whitespace-collapsed and at most `limit` chars.
    """
    emit = args["_emit"]
    limit = args.get("limit", 1 << 20)
    batch = []
    no_tool = False
    for path in args["paths"]:
        kind = _FIND_TEXT_EXT.get(os.path.splitext(path)[1].lower())
        text = None
        problem = None
        if kind is None:
            problem = "not a document type"
        elif kind == "pdf" and no_tool:
            problem = "pdftotext is not installed"
        else:
            try:
                text = _FIND_SPACE.sub(" ", _find_extract(path, kind, limit)).strip()
            except OpError as exc:
                no_tool = True
                problem = str(exc)
            except (OSError, ValueError, zipfile.BadZipFile, subprocess.SubprocessError) as exc:
                problem = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        batch.append([path, text, problem])
        if len(batch) >= 50:
            emit(batch)
            batch = []
    if batch:
        emit(batch)
    return {"no_pdftotext": no_tool}
