"""Output formats, JSON lines input, the journal and job locks."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from wacket import journal, output
from wacket.errors import ConfigError, LockedError
from wacket.lock import job_lock

ODD = os.fsdecode(b"caf\xe9 \xff")  # not UTF-8


def render(fmt, records, columns=None, monkeypatch=None):
    buf = io.BytesIO()
    text = io.TextIOWrapper(buf, encoding="utf-8", errors="surrogateescape", write_through=True)
    monkeypatch.setattr(sys, "stdout", text)
    monkeypatch.setattr(output, "_stdout", lambda: buf)
    output.render(records, fmt, columns)
    text.flush()
    return buf.getvalue()


def test_plain_is_tab_separated_and_escapes(monkeypatch):
    out = render("plain", [{"a": "x\ty", "b": "l1\nl2", "c": None, "d": [1, 2]}], None, monkeypatch)
    assert out == b"x\\ty\tl1\\nl2\t\t1,2\n"


def test_plain_writes_original_bytes(monkeypatch):
    assert render("plain", [{"p": ODD}], None, monkeypatch) == b"caf\xe9 \xff\n"


def test_json_and_jsonl_round_trip_non_utf8_names(monkeypatch):
    recs = [{"path": ODD, "n": 1}, {"path": "ok", "n": 2}]
    arr = json.loads(render("json", recs, None, monkeypatch))
    assert os.fsencode(arr[0]["path"]) == b"caf\xe9 \xff"
    lines = render("jsonl", recs, None, monkeypatch).splitlines()
    assert [json.loads(x)["n"] for x in lines] == [1, 2]
    assert render("json", [], None, monkeypatch).strip() == b"[]"


def test_table_has_header(monkeypatch):
    out = render("table", [{"name": "h1", "port": 22}], ["name", "port"], monkeypatch).decode()
    assert out.splitlines()[0].split() == ["NAME", "PORT"] and "h1" in out


def test_read_jsonl_names_bad_line():
    good = list(output.read_jsonl(io.StringIO('{"a": 1}\n\n{"b": 2}\n')))
    assert good == [{"a": 1}, {"b": 2}]
    with pytest.raises(ConfigError, match="line 3"):
        list(output.read_jsonl(io.StringIO('{"a": 1}\n{"b": 2}\n{oops\n')))


def test_journal_records_and_filters():
    journal.record("run", ["h1", "h2"], "ok", "ok")
    with pytest.raises(RuntimeError), journal.entry("sync", ["nas"]) as e:
        e.summary = "3 files"
        raise RuntimeError("disk full")
    rows = journal.query()
    assert [r["command"] for r in rows] == ["run", "sync"]
    assert rows[1]["outcome"] == "failed" and "disk full" in rows[1]["summary"]
    assert [r["command"] for r in journal.query(host="nas")] == ["sync"]
    assert journal.query(command="run")[0]["hosts"] == '["h1", "h2"]'
    assert (journal.path().stat().st_mode & 0o777) == 0o600


def test_lock_second_holder_is_refused_with_holder_named():
    with job_lock("backup-home") as info:
        with pytest.raises(LockedError) as err, job_lock("backup-home"):
            pass
        assert err.value.code == 4 and f"pid {info['pid']}" in str(err.value)
    with job_lock("backup-home"):
        pass  # released: free again


def test_lock_is_released_when_holder_dies(tmp_path):
    code = "from wacket.lock import job_lock\nimport os\nwith job_lock('j'):\n    os._exit(9)\n"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    with job_lock("j"):
        pass


def test_log_cli_reads_journal(run_wacket):
    journal.record("backup", ["nas"], "12 files", "ok")
    res = run_wacket("log", "--since", "1h", "--jsonl")
    assert res.returncode == 0
    rec = json.loads(res.stdout.splitlines()[0])
    assert rec["command"] == "backup" and rec["hosts"] == ["nas"] and rec["summary"] == "12 files"
    assert run_wacket("log", "--since", "yesterday-ish").returncode == 2


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kolkata"])
def test_iso_is_datetimes_form(tz, monkeypatch):
    """timeparse.iso (built from time.localtime) gives datetime's isoformat exactly, offsets of
    old local mean times (seconds) and instants before 1970 included."""
    import datetime
    import random
    import time

    from wacket import timeparse

    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        rnd = random.Random(7)
        for ts in [0, -1, -0.5, 1.9, 1e9, -5e9, 4e9] + [
            rnd.uniform(-4e9, 4e9) for _ in range(2000)
        ]:
            want = datetime.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")
            assert timeparse.iso(ts) == want, ts
        assert timeparse.iso(None) == ""
    finally:
        monkeypatch.undo()
        time.tzset()
