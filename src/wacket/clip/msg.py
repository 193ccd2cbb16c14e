"""The fleet's message feed on the hub: post, read, follow; desktop notifications on targets."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from wacket.clip.settings import ClipSettings, Place


class Feed:
    def __init__(self, place: Place, settings: ClipSettings):
        self.place = place
        self.settings = settings

    def post(self, text: str, to: list[str]) -> dict:
        return self.place.call(
            "msg.post", store=self.settings.store, source=self.settings.name, to=to, text=text
        )

    def read(self, after: int = 0, wait: float = 0, last: int | None = None) -> list[dict]:
        return self.place.call(
            "msg.read", store=self.settings.store, after=after, wait=wait, last=last
        )

    def follow(
        self, after: int = 0, wait: float = 2.0, stop: Callable[[], bool] | None = None
    ) -> Iterator[dict]:
        """New messages as they arrive (each call waits on the hub up to `wait` seconds)."""
        while not (stop and stop()):
            for msg in self.read(after, wait):
                after = max(after, msg["id"])
                yield msg


def notify(place: Place, settings: ClipSettings, title: str, text: str) -> dict:
    """Show a notification on `place` where it has a desktop; {shown, how, why}."""
    args = settings.backend_args(place.host)
    return place.call(
        "msg.notify", env=args["env"], env_defaults=args["env_defaults"], title=title, text=text
    )


def record(msg: dict, hub: str) -> dict:
    from wacket.timeparse import iso

    return {
        "id": msg["id"],
        "time": iso(msg["time"]),
        "from": msg.get("from", ""),
        "to": msg.get("to") or [],
        "text": msg.get("text", ""),
        "hub": hub,
        "epoch": msg["time"],
    }
