# Clipboard ops' shared pieces: limits, private directories, files shredded after their ttl and
# the store's lock. stdlib only, Python >= 3.7; the same modules run in-process on the client
# (wacket/clip/impl.py) and in the remote helper, so the hub and the backends behave the same
# wherever they are.
import fcntl
import os
import stat
import subprocess
import time

from wacket.remote.helper import OpError

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
