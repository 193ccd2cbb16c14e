"""wacket clip and msg: a clipboard ring on the hub, system clipboards everywhere, a message feed."""
