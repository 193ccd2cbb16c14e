"""Generate a synthetic home-like tree for the find benchmark: N files in a two-level layout.

About 60% of the paths hold "doc" (a common substring), exactly 3 files hold "zebra-quartz"
(a rare one), 1% of the files (or one in `hashed_every`) hold 8 KiB of content (hashed by
wacket), the rest are empty.
"""

from __future__ import annotations

import os
import random
import sys

WORDS = ["report", "photo", "notes", "invoice", "draft", "backup", "music", "scan", "todo", "data"]
EXTS = ["txt", "pdf", "jpg", "md", "py", "png", "odt", "csv"]
TOPS = ["documents", "pictures", "projects", "downloads", "docs", "music", "videos", "docbox"]


def generate(root: str, n: int, seed: int = 7, per_dir: int = 100, hashed_every: int = 100) -> int:
    rnd = random.Random(seed)
    made = 0
    n_dirs = (n + per_dir - 1) // per_dir
    payload = os.urandom(8192)
    rare = {n // 3, n // 2, (2 * n) // 3}
    for d in range(n_dirs):
        top = TOPS[d % len(TOPS)] if d % 10 < 6 else TOPS[(d % 3) + 1]
        path = os.path.join(root, f"{top}{d % 97}", f"sub{d:06d}")
        os.makedirs(path, exist_ok=True)
        for _ in range(per_dir):
            if made >= n:
                break
            if made in rare:
                name = f"zebra-quartz-{made}.pdf"
            else:
                name = f"{rnd.choice(WORDS)}_{made}.{rnd.choice(EXTS)}"
            fd = os.open(os.path.join(path, name), os.O_WRONLY | os.O_CREAT, 0o644)
            if made % hashed_every == 0:
                os.write(fd, payload[:8000] + made.to_bytes(8, "little"))
            os.close(fd)
            made += 1
    return made


if __name__ == "__main__":
    print(generate(sys.argv[1], int(sys.argv[2])))
