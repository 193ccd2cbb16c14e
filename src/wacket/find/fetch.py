"""`wacket find get HOST:PATH [DEST]`: bring a found file here, by rsync over SSH or SFTP."""

from __future__ import annotations

import os
import shutil

from wacket.errors import Exit, WacketError


def _target(path: str, dest: str) -> str:
    dest = os.path.expanduser(dest)
    if os.path.isdir(dest) or dest.endswith("/"):
        os.makedirs(dest, exist_ok=True)
        return os.path.join(dest, path.rstrip("/").rsplit("/", 1)[-1])
    return dest


def get(pool, host, path: str, dest: str) -> str:
    """Copy `path` from `host` to `dest` (a directory or a file name); return the local path."""
    target = _target(path, dest)
    if host.is_local:
        try:
            if os.path.isdir(path):
                shutil.copytree(path, target, symlinks=True, dirs_exist_ok=True)
            else:
                _into_place(target, lambda tmp: shutil.copy2(path, tmp))
        except OSError as exc:
            if not os.path.lexists(path):
                raise WacketError(f"{host.name}:{path}: no such file", Exit.USAGE) from None
            raise WacketError(f"{host.name}:{path}: {exc.strerror or exc}") from None
        return target
    session = pool.session(host)
    session.connect()  # unreachable hosts fail here, with the transport's reason
    if shutil.which("rsync"):
        from wacket.transport import rsync

        # A copy cut short waits in .wacket-partial/ for the next get, never under its real name.
        argv = rsync.copy_args(host, path, target, accept_new=pool.accept_new,
                               partial_dir=".wacket-partial")  # fmt: skip
        res = rsync.run(argv, hold_locks=False)
        if res.rc == 0:
            return target
        if not session.lexists(path):  # rsync's sender says "Broken pipe"
            raise WacketError(f"{host.name}:{path}: no such file", Exit.USAGE)
        err = res.stderr_text.strip()
        if res.rc not in (12, 127) or "command not found" not in err:
            last = err.splitlines()[-1] if err else f"rsync exit status {res.rc}"
            raise WacketError(f"{host.name}:{path}: {last}")
    # No rsync on one side: SFTP (files only).
    try:
        _sftp_get(session.sftp, path, target)
    except FileNotFoundError:
        raise WacketError(f"{host.name}:{path}: no such file", Exit.USAGE) from None
    except OSError as exc:
        raise WacketError(f"{host.name}:{path}: {exc.strerror or exc}") from None
    return target


def _sftp_get(sftp, path: str, target: str) -> None:
    """As `rsync -a` would: bytes, mode and mtime."""

    def fill(tmp: str) -> None:
        import stat

        sftp.get(path, tmp)
        st = sftp.stat(path)
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.utime(tmp, (st.st_atime, st.st_mtime))

    _into_place(target, fill)


def _into_place(target: str, fill) -> None:
    """`fill` writes a temporary name beside `target`; once durable it is renamed: a copy cut
    short never shows under the real name."""
    from wacket.fsutil import adopt

    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.wacket-part.{os.getpid()}")
    try:
        fill(tmp)
        adopt(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
