"""What every command shares: the config, the fleet and the SSH session pools, loaded on first use.

Free of click, so the quick entry point (wacket.cli.entry) can answer a query without it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from pathlib import Path


class App:
    def __init__(self, config_path: Path | str | None, quiet: bool, debug: bool):
        self.config_path = config_path
        self.quiet = quiet
        self.debug = debug
        self._config = None
        self._fleet = None
        self._pools: list = []

    @property
    def config(self):
        if self._config is None:
            from wacket import config

            self._config = config.load(self.config_path)
        return self._config

    @property
    def fleet(self):
        if self._fleet is None:
            from wacket.fleet import Fleet

            self._fleet = Fleet.load(self.config)
        return self._fleet

    def pool(self, accept_new: bool = False, connect_timeout: float | None = None):
        from wacket.transport.pool import Pool

        pool = Pool(accept_new=accept_new, connect_timeout=connect_timeout)
        self._pools.append(pool)
        return pool

    def close(self) -> None:
        for pool in self._pools:
            pool.close()

    def note(self, message: str) -> None:
        """Informational text on stderr, silenced by --quiet."""
        if not self.quiet:
            import click

            click.echo(message, err=True)
