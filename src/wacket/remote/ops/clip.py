# Clipboard ops: the ring store and message feed on the hub, the system clipboard of this machine,
# and kind detection. stdlib only, Python >= 3.7. The same source runs in-process on the client
# (wacket/clip/impl.py loads it) and in the remote helper, so the hub and the backends behave the
# same wherever they are. Every top-level name starts with `clip`/`_clip` because all op modules
# share the helper's one namespace.
import base64
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

from wacket.remote.atomic import TMP_PREFIX, adopt, write_atomic
from wacket.remote.helper import OpError, data_dir, op

CLIP_KEEP = 100
CLIP_MAX_BYTES = 256 * 1024 * 1024
CLIP_SECRET_TTL = 60
CLIP_LOCK_WAIT = 10.0
CLIP_MSG_MAX = 64 * 1024
# Types a password manager puts beside a password it copies: such contents never enter the ring.
CLIP_SENSITIVE_TYPES = (
    "x-kde-passwordmanagerhint",
    "org.nspasteboard.concealedtype",
    "org.nspasteboard.transienttype",
    "excludeclipboardcontentfrommonitorprocessing",
)

# --------------------------------------------------------------------------------------------
# kinds

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


# --------------------------------------------------------------------------------------------
# files


def _clip_private_dir(path):
    if not os.path.isdir(path):
        os.makedirs(path, 0o700)
    st = os.stat(path)
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def _clip_own_dir(parent, name):
    """parent/name as a 0700 directory of ours (made if missing), or None when parent is not
    there to write in or someone else holds that name (another user could have made it first
    in a shared /dev/shm)."""
    path = os.path.join(parent, name)
    try:
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            return None
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return None
        if st.st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError:
        return None
    return path


def _clip_expire_later(path, expires):
    """Shred the secret file `path` at time `expires` even if no clip command runs then (the
    ring also drops expired secrets whenever it is read): a small shell script in its own
    session, no pipe of ours, so it outlives this process."""
    script = (
        'sleep "$1"; [ -f "$2" ] || exit 0; n=$(wc -c < "$2");'
        ' [ "$n" -gt 0 ] && dd if=/dev/zero of="$2" bs="$n" count=1 conv=notrunc 2>/dev/null;'
        ' rm -f -- "$2"'
    )
    subprocess.Popen(
        [
            "sh",
            "-c",
            script,
            "wacket-secret-expiry",
            "%.1f" % (max(0.0, expires - time.time()) + 0.1),
            path,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
    )


def _clip_shred(path):
    """Overwrite then remove a file (best effort against the data lingering on disk)."""
    try:
        size = os.path.getsize(path)
        with open(path, "r+b") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        pass
    try:
        os.unlink(path)
    except OSError:
        pass


class _ClipLock:
    def __init__(self, directory):
        self.path = os.path.join(directory, "lock")

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.time() + CLIP_LOCK_WAIT
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except (BlockingIOError, PermissionError):
                if time.time() > deadline:
                    os.close(self.fd)
                    raise OpError(
                        f"the clipboard ring at {self.path} is locked by another run", "locked"
                    ) from None
                time.sleep(0.05)

    def __exit__(self, *exc):
        os.close(self.fd)


# --------------------------------------------------------------------------------------------
# the ring


class ClipRing:
    """Entries on the hub: ring.json (the history: metadata only) and blobs/<id> (0600).

    Secret entries never enter ring.json or the disk: each is one 0600 file (header line + data)
    in a 0700 directory on a tmpfs ($XDG_RUNTIME_DIR, else /dev/shm/wacket-UID; only a hub with
    neither keeps them in the store), and a detached expiry process shreds it when its ttl has
    passed, whether or not another command runs.
    """

    def __init__(self, store=None, keep=CLIP_KEEP, max_bytes=CLIP_MAX_BYTES):
        self.dir = os.path.expanduser(store) if store else os.path.join(data_dir(), "clip")
        self.keep = int(keep or CLIP_KEEP)
        self.max_bytes = int(max_bytes or CLIP_MAX_BYTES)
        _clip_private_dir(self.dir)
        self.blobs = _clip_private_dir(os.path.join(self.dir, "blobs"))
        self.index = os.path.join(self.dir, "ring.json")
        self.secrets = _clip_private_dir(self._secret_dir())

    def _secret_dir(self):
        """A tmpfs directory of this store's own: memory, never written to a disk."""
        tag = hashlib.sha256(os.path.abspath(self.dir).encode("utf-8", "surrogateescape"))
        name = "clip-" + tag.hexdigest()[:16]
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        tmpfs = (runtime and _clip_own_dir(runtime, "wacket")) or _clip_own_dir(
            "/dev/shm", f"wacket-{os.getuid()}"
        )
        return os.path.join(tmpfs, name) if tmpfs else os.path.join(self.dir, "secrets")

    def lock(self):
        return _ClipLock(self.dir)

    # -- reading
    def _load(self):
        try:
            with open(self.index, "rb") as fh:
                state = json.loads(fh.read().decode("utf-8"))
        except FileNotFoundError:
            state = {}
        except (OSError, ValueError):
            state = None
        if state == {} and not os.listdir(self.blobs):
            return {"next_id": 1, "entries": []}
        if not _clip_state_ok(state):
            # a damaged (or lost) history: rebuilt from the blobs, so no entry is lost and no
            # new entry takes the id (the blob file) of one that is still there
            state = self._rebuild()
        return state

    def _rebuild(self):
        entries = []
        for name in os.listdir(self.blobs):
            path = os.path.join(self.blobs, name)
            if not name.isdigit() or not os.path.isfile(path):
                continue
            with open(path, "rb") as fh:
                data = fh.read()
            try:
                data.decode("utf-8")
                kind = "text"
            except UnicodeDecodeError:
                kind = "binary"
            entries.append({
                "id": int(name), "kind": kind, "mime": None, "size": len(data), "source": "",
                "time": os.path.getmtime(path), "name": None, "mode": None,
                "sha256": hashlib.sha256(data).hexdigest(), "preview": clip_preview(data, kind),
            })  # fmt: skip
        ids = [e["id"] for e in entries]
        ids += [int(n) for n in os.listdir(self.secrets) if n.isdigit()]
        if os.path.exists(self.index):
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            os.replace(self.index, f"{self.index}.damaged-{stamp}")
        state = {"next_id": max(ids or [0]) + 1, "entries": sorted(entries, key=lambda e: e["id"])}
        self._save(state)
        return state

    def _save(self, state):
        write_atomic(self.index, json.dumps(state, indent=1).encode("utf-8"))

    def _secret_entries(self, now=None):
        """Live secrets (metadata only); expired ones are shredded on the way."""
        now = time.time() if now is None else now
        out = []
        for name in os.listdir(self.secrets):
            if name.startswith("."):
                continue
            path = os.path.join(self.secrets, name)
            try:
                with open(path, "rb") as fh:
                    head = json.loads(fh.readline().decode("utf-8"))
            except (OSError, ValueError):
                _clip_shred(path)
                continue
            if head.get("expires", 0) <= now:
                _clip_shred(path)
                continue
            out.append(head)
        return out

    def entries(self):
        """All live entries, newest first, numbered from 1."""
        state = self._load()
        items = list(state["entries"]) + self._secret_entries()
        items.sort(key=lambda e: (e["time"], e["id"]), reverse=True)
        for number, item in enumerate(items, 1):
            item["n"] = number
        return items

    def _pick(self, n):
        items = self.entries()
        if not items:
            raise OpError("the clipboard ring is empty", "range")
        n = 1 if n is None else int(n)
        if n < 1 or n > len(items):
            raise OpError(f"no entry {n}: the ring holds {len(items)} (1 is the newest)", "range")
        return items[n - 1]

    def read(self, n=1):
        entry = self._pick(n)
        if entry.get("secret"):
            try:
                with open(os.path.join(self.secrets, str(entry["id"])), "rb") as fh:
                    fh.readline()
                    return entry, fh.read()
            except FileNotFoundError:
                raise OpError(f"entry {entry['n']:d} expired meanwhile", "range") from None
        with open(os.path.join(self.blobs, str(entry["id"])), "rb") as fh:
            return entry, fh.read()

    def blob_path(self, entry):
        return os.path.join(self.blobs, str(entry["id"]))

    def staging(self):
        """Where a client may upload a big payload (then `add(staged=...)` adopts the file)."""
        return _clip_private_dir(os.path.join(self.dir, "incoming"))

    def take_staged(self, path):
        """An uploaded payload (only from our own staging directory): (data, path)."""
        path = os.path.abspath(path)
        if os.path.dirname(path) != os.path.abspath(self.staging()):
            raise OpError("staged file outside the ring's incoming directory", "usage")
        try:
            with open(path, "rb") as fh:
                return fh.read(), path
        except OSError as exc:
            raise OpError(f"staged upload {path}: {exc.strerror}", "error") from None

    # -- writing
    def add(self, data, meta, secret=False, ttl=CLIP_SECRET_TTL, staged=None):
        try:
            return self._add(data, meta, secret, ttl, staged)
        finally:
            if staged and os.path.exists(staged):
                _clip_shred(staged) if secret else os.unlink(staged)

    def _add(self, data, meta, secret, ttl, staged):
        if len(data) > self.max_bytes:
            raise OpError(
                f"{len(data)} bytes is more than the ring's size cap of {self.max_bytes} bytes ([clip] max_size)",
                "too-big",
            )
        with self.lock():
            state = self._load()
            eid = state["next_id"]
            state["next_id"] = eid + 1
            entry = {
                "id": eid,
                "kind": meta.get("kind") or "binary",
                "mime": meta.get("mime"),
                "size": len(data),
                "source": meta.get("source") or "",
                "time": time.time(),
                "name": meta.get("name"),
                "mode": meta.get("mode"),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            if secret:
                entry["secret"] = True
                entry["expires"] = entry["time"] + float(ttl or CLIP_SECRET_TTL)
                entry["sha256"] = None
                head = json.dumps(entry).encode("utf-8") + b"\n"
                path = os.path.join(self.secrets, str(eid))
                write_atomic(path, head + data)
                _clip_expire_later(path, entry["expires"])
                self._save(state)  # the counter only
            else:
                entry["preview"] = clip_preview(data, entry["kind"])
                if staged:
                    adopt(staged, os.path.join(self.blobs, str(eid)), 0o600)
                else:
                    write_atomic(os.path.join(self.blobs, str(eid)), data)
                state["entries"].append(entry)
                self._trim(state)
                self._save(state)
                self._sweep(state)
            entry["n"] = 1
            return entry

    def _trim(self, state):
        entries = sorted(state["entries"], key=lambda e: (e["time"], e["id"]))
        while len(entries) > self.keep:
            entries.pop(0)
        while entries and sum(e["size"] for e in entries) > self.max_bytes:
            entries.pop(0)
        state["entries"] = entries

    def _sweep(self, state):
        """Remove what a trim or a crash left: blobs no entry names, temporary files, uploads
        abandoned for an hour."""
        live = set(str(e["id"]) for e in state["entries"])
        for name in os.listdir(self.blobs):
            if name not in live:
                try:
                    os.unlink(os.path.join(self.blobs, name))
                except OSError:
                    pass
        old = time.time() - 3600
        for directory in (self.dir, self.staging()):
            for name in os.listdir(directory):
                path = os.path.join(directory, name)
                if directory == self.dir and not name.startswith(TMP_PREFIX):
                    continue
                try:
                    if os.path.isfile(path) and os.path.getmtime(path) < old:
                        os.unlink(path)
                except OSError:
                    pass

    def remove(self, n):
        with self.lock():
            entry = self._pick(n)
            if entry.get("secret"):
                _clip_shred(os.path.join(self.secrets, str(entry["id"])))
            else:
                state = self._load()
                state["entries"] = [e for e in state["entries"] if e["id"] != entry["id"]]
                self._save(state)
                self._sweep(state)
            return entry

    def clear(self):
        with self.lock():
            state = self._load()
            count = len(state["entries"])
            state["entries"] = []
            self._save(state)
            self._sweep(state)
            for name in os.listdir(self.secrets):
                _clip_shred(os.path.join(self.secrets, name))
                count += 1
            return count


def _clip_state_ok(state):
    """ring.json as the ring writes it (anything else is damage)."""
    if not isinstance(state, dict) or not isinstance(state.get("next_id"), int):
        return False
    entries = state.get("entries")
    if not isinstance(entries, list):
        return False
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("id"), int):
            return False
        if not isinstance(e.get("time"), (int, float)) or not isinstance(e.get("size"), int):
            return False
        if e["id"] >= state["next_id"]:
            return False
    return True


def _clip_ring(args):
    return ClipRing(args.get("store"), args.get("keep"), args.get("max_bytes"))


def _clip_public(entry):
    return dict((k, v) for k, v in entry.items() if k != "expires" or entry.get("secret"))


@op("clip.ring.stage")
def _clip_ring_stage(args):
    return {"dir": _clip_ring(args).staging()}


@op("clip.ring.add")
def _clip_ring_add(args):
    ring = _clip_ring(args)
    staged = None
    if args.get("staged"):
        data, staged = ring.take_staged(args["staged"])
    else:
        data = base64.b64decode(args["data_b64"])
    meta = args.get("meta") or {}
    if not meta.get("kind"):
        meta["kind"], meta["mime"] = clip_kind(data, meta.get("name"), meta.get("mime"))
    return ring.add(data, meta, bool(args.get("secret")), args.get("ttl"), staged)


@op("clip.ring.list")
def _clip_ring_list(args):
    return [_clip_public(e) for e in _clip_ring(args).entries()]


@op("clip.ring.get")
def _clip_ring_get(args):
    """Entry N (or the one with `id`); a big one as the path of its blob for a bulk read."""
    ring = _clip_ring(args)
    if args.get("id"):
        matches = [e for e in ring.entries() if e["id"] == args["id"]]
        if not matches:
            raise OpError("entry {} was removed meanwhile".format(args["id"]), "range")
        n = matches[0]["n"]
    else:
        n = args.get("n", 1)
    limit = args.get("inline_max")
    entry = ring._pick(n)
    if limit is not None and entry["size"] > limit and not entry.get("secret"):
        return {"entry": entry, "path": ring.blob_path(entry)}
    entry, data = ring.read(n)
    return {"entry": entry, "data_b64": base64.b64encode(data).decode("ascii")}


@op("clip.ring.rm")
def _clip_ring_rm(args):
    return _clip_ring(args).remove(args.get("n"))


@op("clip.ring.clear")
def _clip_ring_clear(args):
    return {"removed": _clip_ring(args).clear()}


# --------------------------------------------------------------------------------------------
# system clipboard backends

_CLIP_INSTALL = (
    "install xclip or xsel (X11), wl-clipboard (Wayland); macOS has pbcopy and Windows/WSL "
    "clip.exe built in"
)


def _clip_env(args):
    env = dict(os.environ)
    for key, value in (args.get("env_defaults") or {}).items():
        if value and not env.get(key):
            env[key] = value
    for key, value in (args.get("env") or {}).items():
        if value:
            env[key] = value
    return env


def _clip_which(name, env):
    return shutil.which(name, path=env.get("PATH") or os.defpath)


def _clip_is_wsl():
    try:
        with open("/proc/version") as fh:
            return "microsoft" in fh.read().lower()
    except OSError:
        return False


def clip_backend(args):
    """The backend to use on this machine (name, env), or an OpError naming what to install."""
    env = _clip_env(args)
    want = args.get("backend")
    if want:
        tools = {
            "wayland": "wl-copy",
            "xclip": "xclip",
            "xsel": "xsel",
            "macos": "pbcopy",
            "windows": None,
            "osc52": None,
        }
        if want not in tools:
            raise OpError(
                "unknown clipboard backend {!r} (known: {})".format(want, ", ".join(sorted(tools))),
                "usage",
            )
        if tools[want] and not _clip_which(tools[want], env):
            raise OpError(f"clipboard backend {want}: {tools[want]} is not installed", "no-backend")
        return want, env
    if env.get("WAYLAND_DISPLAY"):
        if _clip_which("wl-copy", env) and _clip_which("wl-paste", env):
            return "wayland", env
        if not env.get("DISPLAY"):
            raise OpError(
                "Wayland session but wl-copy/wl-paste are missing: install wl-clipboard",
                "no-backend",
            )
    if env.get("DISPLAY"):
        if _clip_which("xclip", env):
            return "xclip", env
        if _clip_which("xsel", env):
            return "xsel", env
        raise OpError(
            "X display {} but neither xclip nor xsel is installed: install xclip (or xsel)".format(
                env["DISPLAY"]
            ),
            "no-backend",
        )
    if sys.platform == "darwin" and _clip_which("pbcopy", env):
        return "macos", env
    if sys.platform.startswith(("win", "cygwin")) or _clip_is_wsl():
        if _clip_which("clip.exe", env) or _clip_which("powershell.exe", env):
            return "windows", env
    if args.get("allow_osc52") and (env.get("SSH_TTY") or env.get("TERM")) and _clip_tty_ok():
        return "osc52", env
    raise OpError(
        "no system clipboard here: no DISPLAY or WAYLAND_DISPLAY (set [clip.hosts.NAME] display "
        "for a machine reached over SSH) and no other backend; " + _CLIP_INSTALL,
        "no-backend",
    )


def _clip_tty_ok():
    try:
        fd = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def _clip_run(argv, env, timeout=20, data=None):
    """Run a reading command; returns (rc, stdout, stderr). stdin is never inherited."""
    try:
        proc = subprocess.run(
            argv,
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            env=env,
            timeout=timeout,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        raise OpError(f"{argv[0]} did not answer within {timeout:.0f}s", "timeout") from None
    except OSError as exc:
        raise OpError(f"{argv[0]}: {exc.strerror}", "no-backend") from None
    return proc.returncode, proc.stdout, proc.stderr


def _clip_spawn_owner(argv, env, data, timeout=20):
    """Start a command that keeps owning the selection after we return.

    Its stdout/stderr are not ours (DEVNULL / a temporary file) and its stdin is a pipe we close,
    in a new session: whatever it forks to keep serving the selection holds none of our pipes, so
    a caller capturing our output never waits on it.
    """
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise OpError(f"{argv[0]}: {exc.strerror}", "no-backend") from None
        try:
            proc.stdin.write(data)
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # Still running in the foreground: it owns the selection; leave it be.
            return
        if rc != 0:
            err.seek(0)
            text = err.read().decode("utf-8", "replace").strip()
            raise OpError("{} failed: {}".format(argv[0], text or f"exit status {rc:d}"), "backend")


def _clip_x_targets(env, selection):
    rc, out, _ = _clip_run(["xclip", "-selection", selection, "-o", "-t", "TARGETS"], env)
    if rc != 0:
        return []
    return [t.strip() for t in out.decode("utf-8", "replace").splitlines() if t.strip()]


def _clip_choose(types):
    """The best type to read: images, then HTML, then plain text."""
    lowered = [t.lower() for t in types]
    for want in ("image/png", "image/jpeg", "image/gif", "image/webp"):
        if want in lowered:
            return types[lowered.index(want)]
    if "text/html" in lowered:
        return types[lowered.index("text/html")]
    for want in ("utf8_string", "text/plain;charset=utf-8", "text/plain", "string", "text"):
        if want in lowered:
            return types[lowered.index(want)]
    return None


def _clip_sensitive(types):
    lowered = [t.lower() for t in types]
    return any(s in lowered for s in CLIP_SENSITIVE_TYPES)


def _clip_changed(backend, types, after, args):
    """The owner's types read again after its data: None when they are the same (what was read
    stands); otherwise the answer for a sensitive owner, or the clipboard read once more (a
    second change is "busy")."""
    if _clip_sensitive(after):
        return {"backend": backend, "data": b"", "mime": None, "sensitive": True}
    if after != types:
        if args.get("_retry"):
            raise OpError("the clipboard kept changing while being read", "busy")
        return clip_system_get(dict(args, _retry=True))
    return None


def clip_system_get(args):
    """{backend, data (bytes), mime, sensitive} of this machine's clipboard."""
    backend, env = clip_backend(args)
    primary = bool(args.get("primary"))
    mime = None
    types = []
    if backend == "xclip":
        sel = "primary" if primary else "clipboard"
        types = _clip_x_targets(env, sel)
        if _clip_sensitive(types):
            return {"backend": backend, "data": b"", "mime": None, "sensitive": True}
        target = _clip_choose(types) if types else None
        if types and target is None:
            return {"backend": backend, "data": b"", "mime": None, "sensitive": False}
        argv = ["xclip", "-selection", sel, "-o"] + (["-t", target] if target else [])
        rc, out, err = _clip_run(argv, env)
        if rc != 0:
            text = err.decode("utf-8", "replace")
            if "not available" in text or "no owner" in text.lower() or not types:
                out = b""
            else:
                raise OpError(f"xclip failed: {text.strip()}", "backend")
        # The owner may have changed between the two requests (xclip serves its data for any
        # target asked): what we read only counts if the owner still offers the same types.
        after = _clip_x_targets(env, sel)
        again = _clip_changed(backend, types, after, args)
        if again is not None:
            return again
        if target and "/" in target:
            mime = target.split(";")[0].lower()
    elif backend == "xsel":
        rc, out, err = _clip_run(["xsel", "--primary" if primary else "--clipboard", "-o"], env)
        if rc != 0:
            raise OpError(
                "xsel failed: {}".format(err.decode("utf-8", "replace").strip()), "backend"
            )
    elif backend == "wayland":
        base = ["wl-paste"] + (["--primary"] if primary else [])
        rc, out, _ = _clip_run(base + ["--list-types"], env)
        types = out.decode("utf-8", "replace").split() if rc == 0 else []
        if _clip_sensitive(types):
            return {"backend": backend, "data": b"", "mime": None, "sensitive": True}
        target = _clip_choose(types)
        if not types or target is None:
            return {"backend": backend, "data": b"", "mime": None, "sensitive": False}
        rc, out, err = _clip_run(base + ["--no-newline", "--type", target], env)
        if rc != 0:
            raise OpError(
                "wl-paste failed: {}".format(err.decode("utf-8", "replace").strip()), "backend"
            )
        rc, after, _ = _clip_run(base + ["--list-types"], env)
        after = after.decode("utf-8", "replace").split() if rc == 0 else []
        again = _clip_changed(backend, types, after, args)
        if again is not None:
            return again
        if "/" in target:
            mime = target.split(";")[0].lower()
    elif backend == "macos":
        env.setdefault("LANG", "en_US.UTF-8")
        rc, out, err = _clip_run(["pbpaste"], env)
        if rc != 0:
            raise OpError(
                "pbpaste failed: {}".format(err.decode("utf-8", "replace").strip()), "backend"
            )
    elif backend == "windows":
        if not _clip_which("powershell.exe", env):
            raise OpError("reading the Windows clipboard needs powershell.exe", "no-backend")
        script = (
            "[Console]::OutputEncoding=[Text.Encoding]::UTF8;"
            "$c=Get-Clipboard -Raw; if ($c) { [Console]::Out.Write($c) }"
        )
        rc, out, err = _clip_run(["powershell.exe", "-NoProfile", "-Command", script], env)
        if rc != 0:
            raise OpError(
                "PowerShell Get-Clipboard failed: {}".format(err.decode("utf-8", "replace"))
            )
        out = out.replace(b"\r\n", b"\n")
    else:
        raise OpError(
            f"{backend} cannot read the clipboard (terminals do not allow it); " + _CLIP_INSTALL,
            "no-backend",
        )
    if mime in ("text/plain", "utf8_string", "string", "text"):
        mime = None
    return {"backend": backend, "data": out, "mime": mime, "sensitive": False}


def clip_system_set(args, data, mime=None):
    backend, env = clip_backend(args)
    primary = bool(args.get("primary"))
    text_like = mime is None or mime.startswith("text/plain")
    if backend == "xclip":
        sel = "primary" if primary else "clipboard"
        argv = ["xclip", "-selection", sel, "-i"]
        if not text_like:
            argv += ["-t", mime]
        _clip_spawn_owner(argv, env, data)
    elif backend == "xsel":
        if mime and mime.startswith("image/"):
            raise OpError("xsel cannot hold images; install xclip", "no-backend")
        _clip_spawn_owner(["xsel", "--primary" if primary else "--clipboard", "-i"], env, data)
    elif backend == "wayland":
        argv = ["wl-copy"] + (["--primary"] if primary else [])
        if not text_like:
            argv += ["--type", mime]
        _clip_spawn_owner(argv, env, data)
    elif backend == "macos":
        env.setdefault("LANG", "en_US.UTF-8")
        _clip_spawn_owner(["pbcopy"], env, data)
    elif backend == "windows" and not _clip_which("powershell.exe", env):
        # clip.exe alone: plain text, which it takes as UTF-16 with a byte order mark.
        text = data.decode("utf-8", "replace")
        rc, _, err = _clip_run(["clip.exe"], env, 30, text.encode("utf-16"))
        if rc != 0:
            raise OpError("clip.exe failed: {}".format(err.decode("utf-8", "replace")), "backend")
    elif backend == "windows":
        if mime == "text/html":
            set_cmd = "Set-Clipboard -AsHtml -Value $t"
        else:
            set_cmd = "Set-Clipboard -Value $t"
        script = (
            "[Console]::InputEncoding=[Text.Encoding]::UTF8;$t=[Console]::In.ReadToEnd();" + set_cmd
        )
        rc, _, err = _clip_run(["powershell.exe", "-NoProfile", "-Command", script], env, 30, data)
        if rc != 0:
            raise OpError(
                "PowerShell Set-Clipboard failed: {}".format(err.decode("utf-8", "replace"))
            )
    elif backend == "osc52":
        seq = b"\x1b]52;" + (b"p" if primary else b"c") + b";" + base64.b64encode(data) + b"\x07"
        if env.get("TMUX"):
            seq = b"\x1bPtmux;\x1b" + seq + b"\x1b\\"
        fd = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
        try:
            os.write(fd, seq)
        finally:
            os.close(fd)
    if args.get("clear_after"):
        _clip_clear_later(backend, env, primary, data, float(args["clear_after"]))
    return {"backend": backend, "mime": mime}


def _clip_clear_later(backend, env, primary, data, seconds):
    """After `seconds`, empty the clipboard if it still holds `data` (a password's lifetime).

    A small shell script in its own session, no pipe of ours: it outlives this process.
    """
    sel = "primary" if primary else "clipboard"
    read, clear = {
        "xclip": (f"xclip -selection {sel} -o", f"printf '' | xclip -selection {sel} -i"),
        "xsel": (f"xsel --{sel} -o", f"xsel --{sel} --clear"),
        "wayland": (
            "wl-paste --no-newline" + (" --primary" if primary else ""),
            "wl-copy --clear" + (" --primary" if primary else ""),
        ),
        "macos": ("pbpaste", "pbcopy < /dev/null"),
    }.get(backend, (None, None))
    if read is None:
        return
    digest = hashlib.sha256(data).hexdigest()
    script = (
        f'sleep "$1"; h=$({read} 2>/dev/null | (sha256sum 2>/dev/null || shasum -a 256) | cut -c1-64);'
        f' [ "$h" = "$2" ] && {{ {clear}; }} >/dev/null 2>&1; exit 0'
    )
    subprocess.Popen(
        ["sh", "-c", script, "wacket-clear", f"{max(0.0, seconds):.1f}", digest],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        close_fds=True,
        start_new_session=True,
    )


@op("clip.system.get")
def _clip_system_get(args):
    got = clip_system_get(args)
    data = got.pop("data")
    digest = hashlib.sha256(data).hexdigest() if not got["sensitive"] else None
    got["sha256"] = digest
    got["size"] = len(data)
    if got["sensitive"]:
        got["kind"] = None
    else:
        got["kind"], mime = clip_kind(data, None, got["mime"])
        got["mime"] = got["mime"] or mime
    if args.get("unless_sha256") and args["unless_sha256"] == digest:
        got["unchanged"] = True
    else:
        got["data_b64"] = base64.b64encode(data).decode("ascii")
    return got


@op("clip.system.set")
def _clip_system_set(args):
    return clip_system_set(args, base64.b64decode(args["data_b64"]), args.get("mime"))


@op("clip.system.probe")
def _clip_system_probe(args):
    backend, env = clip_backend(args)
    return {"backend": backend}


# --------------------------------------------------------------------------------------------
# the message feed (one JSON line per message in <store>/feed.jsonl on the hub)


def _clip_feed(args):
    store = args.get("store")
    directory = os.path.expanduser(store) if store else os.path.join(data_dir(), "clip")
    _clip_private_dir(directory)
    return directory, os.path.join(directory, "feed.jsonl")


def _clip_feed_read(path, after):
    out = []
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # a message being written
                try:
                    msg = json.loads(line.decode("utf-8"))
                except ValueError:
                    continue
                if msg.get("id", 0) > after:
                    out.append(msg)
    except OSError:
        pass
    return out


@op("msg.post")
def _clip_msg_post(args):
    text = args.get("text") or ""
    if len(text.encode("utf-8", "surrogateescape")) > CLIP_MSG_MAX:
        raise OpError(f"a message holds at most {CLIP_MSG_MAX} bytes", "too-big")
    directory, path = _clip_feed(args)
    with _ClipLock(directory):
        last = _clip_feed_read(path, 0)
        mid = (last[-1]["id"] if last else 0) + 1
        msg = {
            "id": mid,
            "time": time.time(),
            "from": args.get("source") or "",
            "to": args.get("to") or [],
            "text": text,
        }
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, json.dumps(msg).encode("utf-8", "surrogateescape") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    return msg


@op("msg.read")
def _clip_msg_read(args):
    """Messages with id > after; with `wait`, hold the call up to that many seconds for news."""
    directory, path = _clip_feed(args)
    after = int(args.get("after") or 0)
    deadline = time.time() + float(args.get("wait") or 0)
    while True:
        found = _clip_feed_read(path, after)
        if found or time.time() >= deadline:
            limit = args.get("last")
            return found[-int(limit) :] if limit else found
        time.sleep(0.1)


@op("msg.notify")
def _clip_msg_notify(args):
    """Show a desktop notification here if there is a desktop; say why not otherwise."""
    env = _clip_env(args)
    title, text = args.get("title") or "wacket", args.get("text") or ""
    if sys.platform == "darwin" and _clip_which("osascript", env):
        script = f"display notification {json.dumps(text)} with title {json.dumps(title)}"
        rc, _, err = _clip_run(["osascript", "-e", script], env)
        return {"shown": rc == 0, "how": "osascript", "why": err.decode("utf-8", "replace")[:200]}
    if _clip_is_wsl() and _clip_which("powershell.exe", env):
        return {"shown": False, "how": None, "why": "no notifier for WSL"}
    if not (
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("DBUS_SESSION_BUS_ADDRESS")
    ):
        return {"shown": False, "how": None, "why": "no desktop session"}
    if not _clip_which("notify-send", env):
        return {"shown": False, "how": None, "why": "notify-send is not installed (libnotify-bin)"}
    rc, _, err = _clip_run(["notify-send", "--app-name=wacket", title, text], env, timeout=10)
    why = err.decode("utf-8", "replace").strip()[:200]
    return {"shown": rc == 0, "how": "notify-send", "why": why}
