"""URL normalisation rules of wacket links (src/wacket/links/normalize.py)."""

from __future__ import annotations

import pytest

from wacket.links.normalize import MAX_URL, clean_title, normalize


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/docs/", "https://example.com/docs/"),
        ("https://example.com/docs", "https://example.com/docs"),
        ("https://example.com/page#section", "https://example.com/page"),
        ("https://mail.example/#/inbox", "https://mail.example/#/inbox"),
        ("https://app.example/#!/item/3", "https://app.example/#!/item/3"),
        ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://xn--bcher-kva.example/", "http://xn--bcher-kva.example/"),
        ("https://example.com/straße?q=ü", "https://example.com/stra%C3%9Fe?q=%C3%BC"),
        ("https://example.com/stra%C3%9Fe", "https://example.com/stra%C3%9Fe"),
        ("https://user:secret@example.com/", "https://user@example.com/"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("file:///home/me/a%20b.txt", "file:///home/me/a%20b.txt"),
        ("https://example.com/search?", "https://example.com/search?"),
        ("mailto:me@example.com", "mailto:me@example.com"),
        ("data:text/html,<h1>hi</h1>", None),
        ("javascript:alert(1)", None),
        ("about:blank", None),
        ("place:sort=8&maxResults=10", None),
        ("moz-extension://abc/page.html", None),
        ("chrome://settings/", None),
        ("", None),
        ("no scheme here", None),
    ],
)
def test_normalize(url, expected):
    assert normalize(url) == expected


def test_javascript_kept_as_bookmarklet_only():
    assert (
        normalize("javascript:void(location='x')", bookmark=True) == "javascript:void(location='x')"
    )
    assert normalize("javascript:void(0)") is None
    assert normalize("data:text/plain,x", bookmark=True) is None


def test_long_urls():
    long = "https://example.com/" + "a" * 10000
    assert normalize(long) == long
    assert normalize("https://example.com/" + "a" * MAX_URL) is None


def test_titles():
    assert clean_title("Line one\nline two\r\n\tthree") == "Line one line two three"
    assert clean_title(None) == ""
    assert clean_title("  x\x00y ") == "x y"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "https://example.com/a/b?x=1&y=%20",
        "http://a-b.example.org/x?",
        "https://Example.com/",
        "https://example.com:443/",
        "https://example.com/#x",
        "https://u@example.com/",
        "http://example.com./",
        "https://example.com/ä",
    ],
)
def test_fast_path_agrees_with_full_rules(url):
    from wacket.links.normalize import host_of, normalize_with_host

    n = normalize(url)
    assert normalize_with_host(url) == (n, host_of(n))


def test_long_titles_are_cut():
    from wacket.links.normalize import MAX_TITLE

    assert clean_title("x" * (MAX_TITLE + 10)) == "x" * MAX_TITLE
