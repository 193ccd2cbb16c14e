"""The sessions of one wacket command: one per host, opened on first use, all closed at the end."""

from __future__ import annotations

import threading

from wacket.fleet import Host
from wacket.transport.session import LocalSession, Session, SSHSession


class Pool:
    def __init__(self, *, accept_new: bool = False, connect_timeout: float | None = None):
        self.accept_new = accept_new
        self.connect_timeout = connect_timeout
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def session(self, host: Host) -> Session:
        with self._lock:
            sess = self._sessions.get(host.name)
            if sess is None:
                if host.is_local:
                    sess = LocalSession(host)
                else:
                    sess = SSHSession(
                        host, accept_new=self.accept_new, connect_timeout=self.connect_timeout
                    )
                self._sessions[host.name] = sess
            return sess

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for sess in sessions:
            try:
                sess.close()
            except Exception:
                pass

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
