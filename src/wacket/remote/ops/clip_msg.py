# The message feed: one JSON line per message in <store>/feed.jsonl on the hub (msg.* ops).
import json
import os
import sys
import time

from wacket.remote.helper import OpError, data_dir, op
from wacket.remote.ops.clip_store import CLIP_MSG_MAX, _clip_private_dir, _ClipLock
from wacket.remote.ops.clip_system import _clip_env, _clip_is_wsl, _clip_run, _clip_which


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
