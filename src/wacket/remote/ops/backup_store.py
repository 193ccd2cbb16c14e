# Backup ops run on the machine that holds the backup target (stdlib only, Python >= 3.7); this
# module holds the layout below, its JSON state and the manifests, the ops are in backup_*.py.
#
# Layout of one backup set on the target (ROOT = TARGET/NAME):
#   ROOT/2026-11-27T183000Z/               a complete snapshot: a plain directory tree
#   ROOT/2026-11-27T183000Z.manifest.gz    its manifest (header line, then one JSON array per entry)
#   ROOT/.inprogress/                      the snapshot being written (never listed, never pruned)
#   ROOT/.inprogress.json                  what the in-progress snapshot was cloned from / is committing
#   ROOT/.inprogress.manifest.gz           its manifest, before the rename
#   ROOT/.lock                             flock + holder (host, pid, start time) of the running job
#   ROOT/.state.json                       outcome of the last runs (prune refuses after a failure)
# A snapshot is complete when both the directory and the manifest exist under the snapshot's name.
import gzip
import json
import os
import re
import zlib

from wacket.remote.atomic import atomic_file, write_atomic

SNAP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z$")
MANIFEST_FORMAT = 1


def _root(args):
    return os.path.abspath(os.path.expanduser(args["root"]))


def _read_json(path, default=None):
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8", "surrogateescape"))
    except (OSError, ValueError):
        return default


def _write_json(path, value):
    write_atomic(path, json.dumps(value, ensure_ascii=True).encode("ascii"))


def _snapshots(root):
    """Complete snapshots (directory and manifest both present), oldest first."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    have = set(names)
    out = []
    for name in names:
        if SNAP_RE.match(name) and (name + ".manifest.gz") in have:
            if os.path.isdir(os.path.join(root, name)):
                out.append(name)
    return sorted(out)


def _manifest_path(root, snap):
    return os.path.join(root, snap + ".manifest.gz")


def _read_header(path):
    try:
        with gzip.open(path, "rb") as fh:
            line = fh.readline()
        return json.loads(line.decode("utf-8", "surrogateescape"))
    except _MANIFEST_DAMAGE:
        return None


# What reading a damaged manifest (truncated, garbled) raises: gzip's and zlib's errors, JSON's,
# and those of an entry of the wrong shape
_MANIFEST_DAMAGE = (OSError, ValueError, EOFError, zlib.error, IndexError, TypeError, KeyError)


def _read_manifest(path):
    """(header, list of entries [rel, type, size, mtime_ns, mode, sha256, link])."""
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    lines = data.split(b"\n")
    header = json.loads(lines[0].decode("utf-8", "surrogateescape"))
    entries = []
    loads = json.loads
    for line in lines[1:]:
        if line:
            entry = loads(line.decode("utf-8", "surrogateescape"))
            if not isinstance(entry, list) or not entry or not isinstance(entry[0], str):
                raise ValueError(f"{path}: an entry of the wrong shape")
            entries.append(entry)
    if not isinstance(header, dict):
        raise ValueError(f"{path}: a header of the wrong shape")
    return header, entries


def _gzip_member(data):

    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def _split_manifest(raw):
    """(header dict, body bytes still compressed): the header is a gzip member of its own, so a
    manifest whose entries did not change reuses the previous body without decompressing it."""

    d = zlib.decompressobj(31)
    head = d.decompress(raw)
    while not d.eof and d.unconsumed_tail:
        head += d.decompress(d.unconsumed_tail)
    if not d.eof:
        return None, None
    line = head.split(b"\n", 1)[0]
    if head.count(b"\n") != 1 or not head.endswith(b"\n"):
        return None, None  # an old single-member manifest: no reusable body
    return json.loads(line.decode("utf-8", "surrogateescape")), d.unused_data


def _write_raw(path, header, body_member):
    head = _gzip_member((json.dumps(header, ensure_ascii=True) + "\n").encode("ascii"))
    with atomic_file(path) as fh:
        fh.write(head)
        fh.write(body_member)


def _entry_line(e):
    return json.dumps(e, ensure_ascii=True, separators=(",", ":")).encode("ascii")
