# Backup ops: delete a snapshot (prune), directory first out of sight, then removed.
import os
import shutil
import subprocess

from wacket.remote.atomic import fsync_dir
from wacket.remote.helper import OpError, op
from wacket.remote.ops.backup_lock import _require_lock
from wacket.remote.ops.backup_store import _manifest_path, _root, _snapshots


@op("backup.delete")
def _backup_delete(args):
    """Delete snapshots (lock held): the directory is first renamed away from its snapshot name,
    then the manifest goes, then the tree, so a half-deleted snapshot never looks complete."""
    root = _root(args)
    _require_lock(root)
    snaps = _snapshots(root)
    done = []
    for name in args["names"]:
        if name not in snaps:
            continue
        if name == snaps[-1]:
            raise OpError(f"refusing to delete the newest snapshot {name}", "refused")
        doomed = os.path.join(root, ".deleting-" + name)
        os.rename(os.path.join(root, name), doomed)
        os.unlink(_manifest_path(root, name))
        fsync_dir(root)
        res = subprocess.run(["rm", "-rf", "--", doomed], stderr=subprocess.PIPE)
        if res.returncode != 0 and os.path.exists(doomed):
            shutil.rmtree(doomed, ignore_errors=True)
        done.append(name)
    for entry in os.listdir(root):
        if entry.startswith(".deleting-"):
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
    return {"deleted": done}
