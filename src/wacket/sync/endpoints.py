"""SRC and DEST as users type them: `PATH` (this machine) or `HOST:PATH` (a fleet host or ssh alias)."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass

from wacket.errors import ConfigError, Exit, WacketError
from wacket.fleet import LOCAL, Fleet, Host

_REMOTE_RE = re.compile(r"^([^/:\[]+(?:\[[^\]]*\])?):(.*)$", re.S)


@dataclass
class Endpoint:
    host: Host
    path: str  # as given (a remote path may start with ~/); local paths are ~-expanded

    @property
    def is_local(self) -> bool:
        return self.host.is_local

    @property
    def label(self) -> str:
        return self.path if self.is_local else f"{self.host.name}:{self.path}"

    def rsync_spec(self, *, slash: bool = False) -> str:
        from wacket.transport.rsync import remote_spec

        path = self.path
        if slash and not path.endswith("/"):
            path += "/"
        if self.is_local:
            return path
        return remote_spec(self.host, path)


def parse(spec: str, fleet: Fleet) -> Endpoint:
    """`nas:/srv/docs`, `local:~/Documents`, `~/Documents`, `./a:b` (a local name with a colon)."""
    if not spec:
        raise ConfigError("empty path")
    if spec.startswith(("/", ".", "~")):
        return Endpoint(fleet.get(LOCAL), os.path.expanduser(spec))
    m = _REMOTE_RE.match(spec)
    if not m:
        return Endpoint(fleet.get(LOCAL), spec)
    name, path = m.group(1), m.group(2)
    if name not in fleet.hosts:
        raise ConfigError(
            f"unknown host {name!r} in {spec!r}; known hosts: {', '.join(fleet.names)}"
            " (write ./NAME for a local path with a colon)"
        )
    host = fleet.get(name)
    path = path or "."
    if host.is_local:
        return Endpoint(host, os.path.expanduser(path))
    return Endpoint(host, path)


def _norm(path: str) -> str:
    return posixpath.normpath(path).rstrip("/") or "/"


def _inside(inner: str, outer: str) -> bool:
    inner, outer = _norm(inner), _norm(outer)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def check_pair(src: Endpoint, dest: Endpoint, *, two_way: bool = False) -> None:
    """Refuse pairs rsync cannot do or that would eat themselves (DEST inside SRC)."""
    if not src.is_local and not dest.is_local:
        raise WacketError(
            f"{src.label} and {dest.label}: both sides are remote; rsync copies between this "
            "machine and one other (run wacket on one of them)",
            Exit.USAGE,
        )
    if src.is_local:
        if not os.path.lexists(src.path):
            raise WacketError(f"{src.path}: source does not exist", Exit.USAGE)
        if two_way and not os.path.isdir(src.path):
            raise WacketError(f"{src.path}: not a directory", Exit.USAGE)
    if src.host.name != dest.host.name:
        return
    if src.is_local:
        a = os.path.realpath(src.path)
        d = dest.path
        parent = os.path.dirname(os.path.abspath(d.rstrip("/")) or "/")
        b = os.path.join(os.path.realpath(parent), os.path.basename(d.rstrip("/")))
        if not d.rstrip("/"):
            b = "/"
    else:
        a, b = src.path, dest.path
    # `rsync SRC DEST/` copies SRC's content (SRC/) or SRC itself into DEST: either way a DEST
    # inside SRC would copy the copy again on every run.
    if _inside(b, a):
        raise WacketError(
            f"{dest.label} is inside {src.label}: choose a destination outside the source",
            Exit.USAGE,
        )
    if two_way and _inside(a, b):
        raise WacketError(
            f"{src.label} is inside {dest.label}: the replicas must not overlap", Exit.USAGE
        )
