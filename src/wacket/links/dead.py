"""`wacket links dead`: which bookmarked http(s) URLs no longer answer. Only run when asked.

HEAD first; a server that refuses HEAD (403/405/501) is asked with GET. A status of 400 or more,
or no answer within the timeout, makes the link dead. Redirects are followed.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def bookmarked_urls(db) -> list[str]:
    """The bookmarked http(s) URLs of the master database `db`, best first."""
    from wacket.links.master import Master

    with Master(db) as master:
        urls = [r["url"] for r in master.search([], bookmarked=True, limit=None)]
    return [u for u in urls if u.startswith(("http://", "https://"))]


def check(url: str, timeout: float) -> dict:
    status, error = None, ""
    for method in ("HEAD", "GET"):
        req = urllib.request.Request(url, method=method, headers={"User-Agent": "wacket-links"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status = resp.status
                error = ""
        except urllib.error.HTTPError as exc:
            status, error = exc.code, exc.reason if isinstance(exc.reason, str) else str(exc)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            status, error = None, str(reason)
        if method == "HEAD" and status in (403, 405, 501):
            continue
        break
    dead = status is None or status >= 400
    return {"url": url, "status": status, "dead": dead, "error": error}


def check_all(urls: list[str], timeout: float = 10.0, jobs: int = 8):
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        yield from pool.map(lambda u: check(u, timeout), urls)
