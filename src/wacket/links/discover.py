"""Where browsers keep their profiles, on Linux, macOS and Windows (and snap/flatpak variants).

`discover(session)` lists the history and bookmark files found on one machine (local or over SSH)
with one POSIX shell loop: every pattern is relative to the user's $HOME, except the WSL paths that
look into the Windows user profiles under /mnt/c/Users.
"""

from __future__ import annotations

import shlex

FIREFOX_DIRS = [
    ".mozilla/firefox",  # Linux
    "snap/firefox/common/.mozilla/firefox",  # Ubuntu snap
    ".var/app/org.mozilla.firefox/.mozilla/firefox",  # flatpak
    ".var/app/org.mozilla.firefox/config/mozilla/firefox",
    ".config/mozilla/firefox",  # Firefox >= 147 XDG layout
    ".librewolf",
    ".var/app/io.gitlab.librewolf-community/.librewolf",
    ".waterfox",
    ".floorp",
    "Library/Application Support/Firefox/Profiles",  # macOS
    "Library/Application Support/librewolf/Profiles",
    "AppData/Roaming/Mozilla/Firefox/Profiles",  # Windows (Git Bash / MSYS home)
]
CHROMIUM_DIRS = [
    ".config/chromium",
    "snap/chromium/common/chromium",
    ".var/app/org.chromium.Chromium/config/chromium",
    ".config/google-chrome",
    ".config/google-chrome-beta",
    ".var/app/com.google.Chrome/config/google-chrome",
    ".config/BraveSoftware/Brave-Browser",
    "snap/brave/current/.config/BraveSoftware/Brave-Browser",
    ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser",
    ".config/microsoft-edge",
    ".var/app/com.microsoft.Edge/config/microsoft-edge",
    ".config/vivaldi",
    ".var/app/com.vivaldi.Vivaldi/config/vivaldi",
    "Library/Application Support/Google/Chrome",
    "Library/Application Support/Chromium",
    "Library/Application Support/BraveSoftware/Brave-Browser",
    "Library/Application Support/Microsoft Edge",
    "Library/Application Support/Vivaldi",
    "AppData/Local/Google/Chrome/User Data",
    "AppData/Local/Chromium/User Data",
    "AppData/Local/BraveSoftware/Brave-Browser/User Data",
    "AppData/Local/Microsoft/Edge/User Data",
    "AppData/Local/Vivaldi/User Data",
]
WSL_PREFIX = "/mnt/c/Users/*/"


def patterns() -> list[str]:
    """Glob patterns ("*" is the only wildcard), relative to $HOME unless absolute."""
    out = []
    for d in FIREFOX_DIRS:
        out.append(f"{d}/*/places.sqlite")
    for d in CHROMIUM_DIRS:
        out.append(f"{d}/*/History")
        out.append(f"{d}/*/Bookmarks")
    for d in FIREFOX_DIRS + CHROMIUM_DIRS:
        if d.startswith("AppData/"):
            suffix = "*/places.sqlite" if d in FIREFOX_DIRS else "*/History"
            out.append(f"{WSL_PREFIX}{d}/{suffix}")
            if d in CHROMIUM_DIRS:
                out.append(f"{WSL_PREFIX}{d}/*/Bookmarks")
    return out


def _shell_glob(pattern: str) -> str:
    parts = pattern.split("*")
    quoted = "*".join(shlex.quote(p) if p else "" for p in parts)
    return quoted if pattern.startswith("/") else '"$HOME"/' + quoted


def script() -> str:
    globs = " ".join(_shell_glob(p) for p in patterns())
    return f'for f in {globs}; do [ -f "$f" ] && printf \'%s\\0\' "$f"; done; exit 0'


def discover(session) -> list[str]:
    res = session.run(script(), timeout=60)
    if res.rc != 0:
        from wacket.errors import WacketError

        raise WacketError(
            f"{session.host.name}: discovery failed: {res.stderr.decode(errors='replace').strip()}"
        )
    return [p for p in res.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def browser_of(path: str, kind: str) -> str:
    """A browser name from a profile path ("firefox", "chrome", "brave", ...)."""
    low = path.lower()
    for needle, name in (
        ("librewolf", "librewolf"),
        ("waterfox", "waterfox"),
        ("floorp", "floorp"),
        ("firefox", "firefox"),
        ("brave", "brave"),
        ("microsoft-edge", "edge"),
        ("microsoft edge", "edge"),
        ("microsoft/edge", "edge"),
        ("vivaldi", "vivaldi"),
        ("google-chrome", "chrome"),
        ("google/chrome", "chrome"),
        ("chromium", "chromium"),
    ):
        if needle in low:
            return name
    return {
        "firefox": "firefox",
        "chromium": "chromium",
        "chromium-bookmarks": "chromium",
        "netscape": "html",
    }.get(  # fmt: skip
        kind, kind
    )
