"""paramiko, imported without `invoke`.

paramiko's config module imports `invoke` only to run `Match exec` lines, which wacket never asks
paramiko to evaluate; that import is about 200 ms of every SSH command's start-up. It is marked
absent while paramiko loads, then unmarked so other code can still import it.
"""

import sys

_hide = "invoke" not in sys.modules
if _hide:
    sys.modules["invoke"] = None  # type: ignore[assignment]
try:
    import paramiko
finally:
    if _hide:
        sys.modules.pop("invoke", None)

__all__ = ["paramiko"]
