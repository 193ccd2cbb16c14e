# wacket remote helper: stdlib only, Python >= 3.7 (checked by a test with vermin).
# The client concatenates this file with the op modules in wacket/remote/ops/ and a call to main(),
# sends it once per host (cached under ~/.cache/wacket by content hash) and speaks JSON lines with it:
#   request  {"id": N, "op": NAME, "args": {...}}
#   replies  {"id": N, "item": X}* then {"id": N, "ok": VALUE} or {"id": N, "error": TEXT, "kind": K}
# An op may stream bytes too: {"id": N, "bin": LENGTH}, a newline, then exactly LENGTH raw bytes
# (find index's batches: no base64 and no JSON escaping on either side).
# Bytes that are not UTF-8 (file names) travel as str with surrogate escapes, which json encodes as
# \udcXX escapes and the client turns back into the same bytes with os.fsencode.
import json
import os
import sys
import traceback

OPS = {}


def op(name):
    """Register a function as the handler of a request."""

    def deco(fn):
        OPS[name] = fn
        return fn

    return deco


class OpError(Exception):
    """A failure to report to the client as data (kind names the class of problem)."""

    def __init__(self, message, kind="error"):
        Exception.__init__(self, message)
        self.kind = kind


_out = None


def send(obj):
    _out.write(json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n")
    _out.flush()


def send_bytes(rid, data):
    _out.write(b'{"id":%s,"bin":%d}\n' % (json.dumps(rid).encode("ascii"), len(data)))
    _out.write(data)
    _out.flush()


def data_dir():
    """wacket's data dir on this machine, found the way the wacket command finds it."""
    env = os.environ.get("WACKET_DATA")
    if env:
        return os.path.expanduser(env)
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Application Support/wacket")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~/AppData/Local")
        return os.path.join(base, "wacket")
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "wacket")


def kind_of(mode):
    """One letter for an lstat mode, as every listing op reports it: f, d, l (symlink), o."""
    import stat

    if stat.S_ISREG(mode):
        return "f"
    if stat.S_ISDIR(mode):
        return "d"
    return "l" if stat.S_ISLNK(mode) else "o"


def lstat_entry(path, st=None):
    """[kind, size, mtime_ns, mode bits, link target] of a path, not following symlinks (`st`:
    its lstat if the caller has it). Raises OSError when the path cannot be stat'ed."""
    if st is None:
        st = os.lstat(path)
    kind = kind_of(st.st_mode)
    link = None
    if kind == "l":
        try:
            link = os.readlink(path)
        except OSError:
            link = ""
    return [kind, st.st_size, st.st_mtime_ns, st.st_mode & 0o7777, link]


def site_import(name):
    """Import `name` from site-packages. The helper runs with -S (no site module: it starts in
    half the time, and no .pth file runs), so site is set up the first time an op needs a
    module from there (libgpiod's bindings)."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        if not sys.flags.no_site:
            raise
    import site

    site.main()
    return importlib.import_module(name)


@op("hello")
def _hello(args):
    return {
        "python": ".".join(map(str, sys.version_info[:3])),
        "platform": sys.platform,
        "pid": os.getpid(),
        "site": not sys.flags.no_site,
        "ops": sorted(OPS),
    }


def private_writes():
    """Make everything this helper and the processes it starts write private, once at start:
    the data dir holds file listings, GPIO state and clipboard entries, so files are 0600 and
    directories 0700 whatever the op (umask 077), and a data dir an older version left open
    is closed. Ops that restore a file's own mode (backup restore) set it explicitly."""
    os.umask(0o077)
    path = data_dir()
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError:
        pass


def main():
    global _out
    private_writes()
    _out = sys.stdout.buffer
    inp = sys.stdin.buffer
    send({"id": 0, "ok": {"ready": True}})
    while True:
        line = inp.readline()
        if not line:
            return
        try:
            req = json.loads(line.decode("utf-8", "surrogateescape"))
        except ValueError:
            send({"id": None, "error": "malformed request", "kind": "protocol"})
            continue
        rid = req.get("id")
        handler = OPS.get(req.get("op"))
        if handler is None:
            send({"id": rid, "error": "unknown op {!r}".format(req.get("op")), "kind": "protocol"})
            continue

        def emit(item, _rid=rid):
            if isinstance(item, bytes):
                send_bytes(_rid, item)
            else:
                send({"id": _rid, "item": item})

        try:
            args = dict(req.get("args") or {})
            args["_emit"] = emit
            send({"id": rid, "ok": handler(args)})
        except OpError as exc:
            send({"id": rid, "error": str(exc), "kind": exc.kind})
        except Exception as exc:
            send(
                {
                    "id": rid,
                    "error": f"{type(exc).__name__}: {exc}",
                    "kind": "internal",
                    "trace": traceback.format_exc(),
                }
            )
