"""A `clip copy --secret --ttl N` entry's bytes leave every file once its ttl has passed, even when
no other clip command runs (nothing reads the ring to notice the expiry): on this machine's hub and
on a remote hub."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest


def holders(secret: bytes, roots: list[Path]) -> list[Path]:
    """Every file under roots that holds the secret's bytes."""
    found = []
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            try:
                if path.is_file() and not path.is_symlink() and secret in path.read_bytes():
                    found.append(path)
            except OSError:
                pass  # removed while we looked
    return found


def secret_roots(data: Path) -> list[Path]:
    """The data dir, and the tmpfs places a secret may be kept in instead."""
    roots = [data, Path(f"/dev/shm/wacket-{os.getuid()}")]
    if os.environ.get("XDG_RUNTIME_DIR"):
        roots.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "wacket")
    return roots


@pytest.mark.parametrize("hub", ["local", "h1"])
def test_secret_bytes_are_gone_after_the_ttl_without_another_command(
    hub, fleet, run_wacket, tmp_path
):
    secret = b"ttl-secret-" + os.urandom(8).hex().encode()
    ttl = 3
    data = (
        Path(os.environ["WACKET_DATA"])
        if hub == "local"
        else fleet.hosts[0].home / ".local/share/wacket"
    )
    roots = secret_roots(data)
    r = run_wacket("clip", "copy", "--hub", hub, "--secret", "--ttl", str(ttl), input=secret)
    assert r.returncode == 0, r.stderr
    assert holders(secret, roots), "the secret is not where the test looks"
    start = time.monotonic()
    time.sleep(ttl + 2)
    # A bounded poll (a loaded machine may run the expiry late); no clip command meanwhile.
    while holders(secret, roots):
        assert time.monotonic() - start < ttl + 30, holders(secret, roots)
        time.sleep(0.5)
    assert secret not in r.stdout + r.stderr
