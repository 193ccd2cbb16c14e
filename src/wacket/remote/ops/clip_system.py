# This machine's system clipboard through whichever backend works here: wl-clipboard, xclip,
# xsel, pbcopy, Windows, OSC 52 (clip.system.* ops).
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

from wacket.remote.helper import OpError, op
from wacket.remote.ops.clip_kinds import clip_kind
from wacket.remote.ops.clip_store import CLIP_SENSITIVE_TYPES

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
