"""URL normalisation: the key that makes the same page from different browsers one link.

Rules (documented in README, tested in tests/test_links_normalize.py):

- The scheme and the host are lower-cased; an IDN host is written in its ASCII (punycode) form, as
  Firefox and Chromium store it, so `http://Bücher.example/` and `http://xn--bcher-kva.example/` are
  one link.
- A default port is dropped (`:80` for http, `:443` for https, `:21` for ftp).
- An empty path becomes `/` for http, https and ftp (`http://a.example` = `http://a.example/`).
  Any other trailing slash is kept: `/docs` and `/docs/` may be different pages.
- A password in the URL is dropped (the user name is kept).
- The fragment is dropped (`/page#section` = `/page`), except a client-side route: a fragment
  that starts with `/` or `!` (`#/inbox`, `#!/item/3`) is part of the page's address and kept.
- Characters outside ASCII and spaces in path, query and fragment are percent-encoded (UTF-8);
  existing `%XX` escapes are kept as they are.
- Skipped entirely: `data:` URLs (content, not addresses), browser-internal pages (`about:`,
  `chrome:`, `edge:`, `brave:`, `vivaldi:`, `opera:`, `moz-extension:`, `chrome-extension:`,
  `resource:`, `view-source:`, `blob:`, `place:`, `wyciwyg:`, `javascript:` in history), and URLs
  longer than MAX_URL characters.
- `javascript:` URLs are kept as bookmarks only (bookmarklets), verbatim.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

MAX_URL = 65536
MAX_TITLE = 4096

SKIP_SCHEMES = frozenset(
    [
        "data",
        "about",
        "chrome",
        "edge",
        "brave",
        "vivaldi",
        "opera",
        "moz-extension",
        "chrome-extension",
        "chrome-search",
        "chrome-untrusted",
        "devtools",
        "resource",
        "view-source",
        "blob",
        "place",
        "wyciwyg",
        "moz-icon",
        "moz-page-thumb",
    ]
)
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
ROOT_PATH_SCHEMES = frozenset({"http", "https", "ftp", "ws", "wss"})
_SAFE = "!#$%&'()*+,-./:;=?@[]~_"
_NEEDS_QUOTE = re.compile(r"[^\x21-\x7e]")
_SPACE = re.compile(r"\s+")


# Already-normal http(s) URLs (most of what browsers store): lower-case host, no port, no user,
# no fragment, nothing to encode. They pass unchanged (an empty path gains its "/").
_FAST = re.compile(
    r"(?:https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(/[!$&'()*+,\-./0-9:;=?@A-Z_a-z~%]*)?\Z"
)


def normalize_with_host(url: str, *, bookmark: bool = False) -> tuple[str, str] | None:
    """(normalised URL, its host), or None when the rules say skip it."""
    m = _FAST.match(url) if len(url) <= MAX_URL else None
    if m:
        return (url if m.group(2) else url + "/"), m.group(1)
    n = normalize(url, bookmark=bookmark)
    return None if n is None else (n, host_of(n))


def normalize(url: str, *, bookmark: bool = False) -> str | None:
    """The normalised form of `url`, or None when the rules say skip it."""
    if not url or len(url) > MAX_URL:
        return None
    url = url.strip()
    scheme, sep, rest = url.partition(":")
    if not sep or not scheme:
        return None
    scheme = scheme.lower()
    if scheme in SKIP_SCHEMES:
        return None
    if scheme == "javascript":
        return "javascript:" + rest if bookmark else None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    netloc = parts.netloc
    if netloc or rest.startswith("//"):
        netloc = _netloc(scheme, parts)
        if netloc is None:
            return None
    path = _quote(parts.path)
    if not path and scheme in ROOT_PATH_SCHEMES and netloc:
        path = "/"
    query = _quote(parts.query)
    fragment = parts.fragment if parts.fragment[:1] in ("/", "!") else ""
    out = urlunsplit((scheme, netloc, path, query, _quote(fragment)))
    if parts.query == "" and url.rstrip("#").endswith("?") and not fragment:
        out += "?"  # `?` with an empty query is a different request for some servers
    return out


def _netloc(scheme: str, parts) -> str | None:
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = quote(host, safe="")
    host = host.lower().rstrip(".") if host != "." else host
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and DEFAULT_PORTS.get(scheme) == port:
        port = None
    user = parts.username
    netloc = host + (f":{port}" if port is not None else "")
    if user:
        netloc = f"{_quote(user)}@{netloc}"
    return netloc


def _quote(text: str) -> str:
    if not _NEEDS_QUOTE.search(text):
        return text
    return quote(text, safe=_SAFE)


def host_of(url: str) -> str:
    """The host part of a normalised URL ('' for URLs without one)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def clean_title(title: str | None) -> str:
    """Titles: newlines, tabs and other control characters become single spaces; trimmed."""
    if not title:
        return ""
    if len(title) > MAX_TITLE:
        title = title[:MAX_TITLE]
    if title.isprintable():
        return (
            _SPACE.sub(" ", title).strip()
            if "  " in title or title[0] == " " or title[-1] == " "
            else title
        )
    return _SPACE.sub(" ", "".join(c if c.isprintable() else " " for c in title)).strip()
