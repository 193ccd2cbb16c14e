# The clipboard ring on the hub: entries, blobs and secrets kept crash-safely (clip.ring.* ops).
import base64
import hashlib
import json
import os
import time

from wacket.remote.atomic import TMP_PREFIX, adopt, write_atomic
from wacket.remote.helper import OpError, data_dir, op
from wacket.remote.ops.clip_kinds import clip_kind, clip_preview
from wacket.remote.ops.clip_store import (
    CLIP_KEEP,
    CLIP_MAX_BYTES,
    CLIP_SECRET_TTL,
    _clip_expire_later,
    _clip_own_dir,
    _clip_private_dir,
    _clip_shred,
    _ClipLock,
)


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
