"""What every clip and msg command needs: settings, a lazily opened pool, places by host name."""

from __future__ import annotations

from wacket.errors import UnreachableError


class Ctx:
    """What every clip command needs: settings, a lazily opened pool, places by host name."""

    def __init__(self, app, accept_new: bool, connect_timeout: float):
        from wacket.clip.settings import ClipSettings

        self.app = app
        self.settings = ClipSettings.load(app.config)
        self._pool = None
        self._accept_new = accept_new
        self._connect_timeout = connect_timeout

    def pool(self):
        if self._pool is None:
            self._pool = self.app.pool(self._accept_new, self._connect_timeout)
        return self._pool

    def place(self, name: str):
        from wacket.clip.settings import Place

        return Place(self.app.fleet.get(name), self.pool)

    def ring(self, hub: str | None = None):
        from wacket.clip.ring import Ring

        return Ring(self.place(hub or self.settings.hub), self.settings)

    def board(self, name: str = "local", primary: bool = False):
        from wacket.clip.backends import SystemClipboard

        return SystemClipboard(self.place(name), self.settings, primary)


def hub_call(fn, *args, **kwargs):
    """Call the ring (or the feed); an unreachable hub says it is the clipboard hub."""
    try:
        return fn(*args, **kwargs)
    except UnreachableError as exc:
        raise UnreachableError(
            f"clipboard hub {exc.host}", exc.reason, exc.detail + " ([clip] hub in the config)"
        ) from None
