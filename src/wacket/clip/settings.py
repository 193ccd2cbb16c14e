"""The [clip] config section and where clip ops run (in-process here, the helper elsewhere)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from wacket.errors import WacketError

# [clip.hosts.NAME] keys -> environment variables of the backend on that host.
ENV_KEYS = {
    "display": "DISPLAY",
    "wayland_display": "WAYLAND_DISPLAY",
    "xauthority": "XAUTHORITY",
    "runtime_dir": "XDG_RUNTIME_DIR",
    "dbus": "DBUS_SESSION_BUS_ADDRESS",
}
HOST_KEYS = {*ENV_KEYS, "backend", "primary"}
TOP_KEYS = {"hub", "keep", "max_size", "store", "name", "ttl", "interval", "hosts", *ENV_KEYS}
BACKENDS = ("wayland", "xclip", "xsel", "macos", "windows", "osc52")


@dataclass
class ClipSettings:
    hub: str = "local"
    keep: int = 100
    max_bytes: int = 256 * 1024 * 1024
    store: str | None = None
    name: str = ""
    ttl: float = 60.0
    interval: float = 0.5
    defaults: dict = field(default_factory=dict)
    hosts: dict = field(default_factory=dict)

    @classmethod
    def load(cls, config) -> ClipSettings:
        from wacket import timeparse

        sec = config.section("clip")
        unknown = set(sec) - TOP_KEYS
        if unknown:
            raise config.error(
                f"[clip]: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(TOP_KEYS))})",
                "clip",
            )
        s = cls()
        s.hub = str(sec.get("hub", "local"))
        try:
            s.keep = int(sec.get("keep", 100))
            if s.keep < 1:
                raise ValueError
        except (TypeError, ValueError):
            raise config.error("[clip] keep must be a whole number >= 1", "clip", "keep") from None
        if "max_size" in sec:
            try:
                s.max_bytes = int(timeparse.size(str(sec["max_size"])))
            except Exception:
                raise config.error(
                    "[clip] max_size must be a size such as 256M", "clip", "max_size"
                ) from None
        s.store = sec.get("store")
        s.name = str(sec.get("name") or socket.gethostname())
        for key in ("ttl", "interval"):
            if key in sec:
                try:
                    setattr(s, key, float(sec[key]))
                except (TypeError, ValueError):
                    raise config.error(f"[clip] {key} must be seconds", "clip", key) from None
        s.defaults = {ENV_KEYS[k]: str(sec[k]) for k in ENV_KEYS if k in sec}
        hosts = sec.get("hosts", {})
        if not isinstance(hosts, dict):
            raise config.error("[clip.hosts] must be a table", "clip", "hosts")
        for name, entry in hosts.items():
            if not isinstance(entry, dict):
                raise config.error(f"[clip.hosts.{name}] must be a table", "clip", "hosts", name)
            bad = set(entry) - HOST_KEYS
            if bad:
                raise config.error(
                    f"[clip.hosts.{name}]: unknown key {sorted(bad)[0]!r}"
                    f" (known: {', '.join(sorted(HOST_KEYS))})",
                    "clip",
                    "hosts",
                    name,
                )
            if entry.get("backend") and entry["backend"] not in BACKENDS:
                raise config.error(
                    f"[clip.hosts.{name}] backend must be one of {', '.join(BACKENDS)}",
                    "clip",
                    "hosts",
                    name,
                )
            s.hosts[name] = entry
        return s

    def ring_args(self) -> dict:
        return {"store": self.store, "keep": self.keep, "max_bytes": self.max_bytes}

    def backend_args(self, host, primary: bool = False, backend: str | None = None) -> dict:
        """What the backend on `host` needs: its display etc. (explicit per-host settings win)."""
        entry = self.hosts.get(host.name, {})
        env = {ENV_KEYS[k]: str(entry[k]) for k in ENV_KEYS if k in entry}
        return {
            "env": env,
            "env_defaults": self.defaults,
            "backend": backend or entry.get("backend"),
            "primary": primary or bool(entry.get("primary")),
            "allow_osc52": host.is_local,
        }


class Place:
    """Run clip ops on one host: in this process for `local`, through the helper elsewhere."""

    def __init__(self, host, pool_source):
        self.host = host
        self._pool_source = pool_source

    @property
    def name(self) -> str:
        return self.host.name

    def session(self):
        return self._pool_source().session(self.host)

    def call(self, op: str, **args):
        if self.host.is_local:
            from wacket.clip import impl

            return impl.call(op, **args)
        from wacket.clip.impl import kind_code
        from wacket.remote.client import HelperError

        session = self._pool_source().session(self.host)
        try:
            return session.helper().call(op, **args)
        except HelperError as exc:
            err = WacketError(str(exc), kind_code(exc.kind))
            err.kind = exc.kind
            raise err from None
