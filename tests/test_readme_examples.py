"""README examples that show a command's output, checked against the real command: the prune
example under the README's own [backup.home] policy, and what `msg tail` prints."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

README = (Path(__file__).parent.parent / "README.md").read_text()


def _console_output(command: str) -> list[str]:
    """The lines the README shows after `$ COMMAND` (up to the next prompt or fence)."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"$ {command}"))
    out = []
    for line in lines[start + 1 :]:
        if line.startswith(("$ ", "```")):
            break
        out.append(line)
    return out


def test_prune_example_is_what_prune_says(isolated_env, tmp_path, run_wacket):
    block = README.split("```toml\n[backup.home]\n", 1)[1].split("```", 1)[0]
    policy = [line.split("#")[0] for line in block.splitlines() if line.startswith("keep")]
    src = tmp_path / "Documents"
    src.mkdir()
    (src / "report.odt").write_text("v1")
    (tmp_path / "target").mkdir()  # a backup target is never created implicitly
    config = Path(os.environ["WACKET_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[backup.home]\nsources = ["{src}"]\ntarget = "{tmp_path / "target"}"\n'
        + "\n".join(policy)
        + "\n"
    )
    for text in ("v1", "v2"):
        (src / "report.odt").write_text(text)
        assert run_wacket("backup", "run", "home").returncode == 0
        time.sleep(1.1)  # snapshot names are to the second
    res = run_wacket("backup", "prune", "home", "--dry-run", "--plain")
    assert res.returncode == 0, res.stderr
    real = [line.split("\t")[1:] for line in res.stdout.decode().splitlines()]
    shown = [re.split(r"\s{2,}", line.strip())[1:] for line in _console_output(
        "wacket backup prune home --dry-run")[2:]]  # fmt: skip
    assert [[a, r] if r else [a] for a, r in real] == shown


def test_msg_tail_example_shows_the_sender(isolated_env, run_wacket):
    res = run_wacket("msg", "send", "local", "backup home: ok, 132 MB", "--no-notify")
    assert res.returncode == 0, res.stderr
    (rec,) = [json.loads(x) for x in run_wacket("msg", "tail", "--jsonl").stdout.splitlines()]
    plain = run_wacket("msg", "tail", "--plain").stdout.decode().splitlines()
    assert plain == [f"{rec['time']}\t{rec['from']}\t{rec['text']}"]
    (shown,) = _console_output("wacket msg tail -f")
    when, sender, text = shown.split("\t")
    # The README's example: `msg send nas ...` sent from another machine, so not from nas.
    assert text == rec["text"] and sender != "nas" and re.fullmatch(r"\d{4}-.*\+00:00", when)
    assert "time, sender, text" in README


def test_mail_section_names_the_one_option_that_writes():
    assert "never changes anything on the server" not in README
    para = README[README.index("`archive` only reads the server") :][:400]
    assert "--expunge-archived-older-than" in para
