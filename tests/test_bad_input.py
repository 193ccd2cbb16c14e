"""User mistakes on the command line: missing and unwritable paths, empty, garbage and wrongly
shaped input files, values of the wrong type. Each is a one-line message and the documented
exit status, never an internal error (issue 15)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

SEED = 1515

# (name, args, exit status); in args {F} is a regular file, {UNDER} a path under it (ENOTDIR),
# {MISSING} a path in a directory that does not exist, {EMPTY} an empty file, {GARBAGE} random
# bytes, {LIST} / {OBJ} JSON of the wrong shape, {DIR} a directory, {RO} an immutable directory.
CASES = [
    ("config missing", ["--config", "{MISSING}", "hosts", "list"], 2),
    ("config garbage", ["--config", "{GARBAGE}", "hosts", "list"], 2),
    ("config dir", ["--config", "{DIR}", "hosts", "list"], 2),
    ("config json", ["--config", "{LIST}", "hosts", "list"], 2),
    ("map items missing", ["map", "local", "--items", "{MISSING}", "--", "echo", "{}"], 2),
    ("map items dir", ["map", "local", "--items", "{DIR}", "--", "echo", "{}"], 2),
    ("map joblog under file", ["map", "local", "--items", "{F}", "--joblog", "{UNDER}", "--", "true"], 2),
    ("map joblog missing dir", ["map", "local", "--items", "{F}", "--joblog", "{MISSING}", "--", "true"], 2),
    ("map joblog read-only", ["map", "local", "--items", "{F}", "--joblog", "{RO}/log", "--", "true"], 2),
    ("mail export mbox missing dir", ["mail", "export", "w/INBOX", "--mbox", "{MISSING}"], 2),
    ("mail export mbox under file", ["mail", "export", "w/INBOX", "--mbox", "{UNDER}"], 2),
    ("mail export mbox read-only", ["mail", "export", "w/INBOX", "--mbox", "{RO}/x"], 2),
    ("mail import missing", ["mail", "import", "{MISSING}", "--account", "w"], 2),
    ("links export -o missing dir", ["links", "export", "-o", "{MISSING}"], 2),
    ("links export -o under file", ["links", "export", "-o", "{UNDER}"], 2),
    ("links export -o read-only", ["links", "export", "-o", "{RO}/x.html"], 2),
    ("links export db garbage", ["links", "export", "--db", "{GARBAGE}"], 2),
    ("links stats db garbage", ["links", "stats", "--db", "{GARBAGE}"], 2),
    ("links search db json", ["links", "search", "x", "--db", "{LIST}"], 2),
    ("links sources db garbage", ["links", "sources", "--db", "{GARBAGE}"], 2),
    ("links dead db garbage", ["links", "dead", "--db", "{GARBAGE}"], 2),
    ("links merge into under file", ["links", "merge", "--into", "{UNDER}", "{EMPTY}"], 2),
    ("sync apply list", ["sync", "--apply", "{LIST}"], 2),
    ("sync apply obj", ["sync", "--apply", "{OBJ}"], 2),
    ("sync apply empty", ["sync", "--apply", "{EMPTY}"], 2),
    ("sync apply garbage", ["sync", "--apply", "{GARBAGE}"], 2),
    ("sync apply bad ops", ["sync", "--apply", "{BADPLAN}"], 2),
    ("sync apply missing", ["sync", "--apply", "{MISSING}"], 2),
    ("sync plan under file", ["sync", "--two-way", "--plan", "{UNDER}", "{DIR}", "{DIR2}"], 2),
    ("sync exclude-from missing", ["sync", "--exclude-from", "{MISSING}", "{DIR}", "{DIR2}"], 2),
    ("clip copy missing", ["clip", "copy", "{MISSING}"], 2),
    ("log since garbage", ["log", "--since", "yesterdayish"], 2),
    ("find where missing", ["find", "where", "{MISSING}"], 1),
    ("find get dest under file", ["find", "get", "local:{F}", "{UNDER}"], 1),
    ("find dupes size garbage", ["find", "dupes", "--min-size", "lots"], 2),
    ("links merge garbage", ["links", "merge", "{GARBAGE}"], 1),
    ("links merge empty", ["links", "merge", "{EMPTY}"], 1),
    ("log from a path", ["log", "--from", "{F}"], 2),
    ("sync two-way to a file", ["sync", "--two-way", "{DIR}", "{F}"], 2),
    ("clip paste out under file", ["clip", "paste", "--out", "{UNDER}"], 2),
    ("clip paste out read-only", ["clip", "paste", "--out", "{RO}/sub"], 2),
    ("backup list target missing", ["backup", "list", "t", "--target", "{MISSING}"], 1),
    ("backup verify target under file", ["backup", "verify", "t", "--target", "{UNDER}"], 1),
    ("backup restore to under file", ["backup", "restore", "t", "--target", "{T}", "--to", "{UNDER}"], 1),
    ("backup target under file", ["backup", "run", "--name", "t", "--source", "{DIR}", "--target", "{UNDER}", "--create-target"], 1),
    ("backup target missing", ["backup", "run", "--name", "t", "--source", "{DIR}", "--target", "{MISSING}"], 2),
]  # fmt: skip

# WACKET_DATA that cannot hold wacket's data: a file, a path under a file, read-only.
DATA_CASES = [
    ("log", ["log"]),
    ("find index", ["find", "index", "--root", "{DIR}"]),
    ("clip list", ["clip", "list"]),
    ("mail stats", ["mail", "stats"]),
    ("links stats", ["links", "stats"]),
    ("sync", ["sync", "{DIR}", "{DIR2}"]),
]
DATA_PLACES = ["{F}", "{UNDER}", "{RO}"]

CONFIGS = [
    ("identity not a string", '[hosts.box]\naddress = "b"\nidentity = 5\n', 3),
    ("port a string", '[hosts.box]\nport = "22"\n', 2),
    ("tags a string list of ints", "[hosts.box]\ntags = [1, 2]\n", 2),
    ("find content a string", '[find]\ncontent = "yes"\n', 2),
    ("sync delete a string", '[sync.p]\na = "x"\nb = "y"\ndelete = "no"\n', 4),
    ("clip keep a string", '[clip]\nkeep = "many"\n', 2),
    ("mail port a float", '[mail.w]\nhost = "h"\nuser = "u"\nport = 9.5\n', 4),
    ("backup keep a table of strings", '[backup.b]\ntarget = "t"\nsources = ["s"]\n[backup.b.keep]\ndaily = "7"\n', 5),
    ("gpio pin a string", '[gpio.pi]\ndoor = "GPIO17"\n', 2),
    ("hosts a list", "hosts = [1]\n", 1),
]  # fmt: skip


@pytest.fixture
def places(tmp_path: Path) -> dict[str, str]:
    f = tmp_path / "file"
    f.write_text("an item\n")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "garbage").write_bytes(random.Random(SEED).randbytes(600))
    (tmp_path / "list.json").write_text("[]\n")
    (tmp_path / "obj.json").write_text("{}\n")
    (tmp_path / "badplan.json").write_text(
        '{"version": 1, "a": {}, "b": {}, "stamp": "", "ops": [{"op": "copy"}]}\n'
    )
    for d in ("dir", "dir2"):
        (tmp_path / d).mkdir()
    (tmp_path / "dir" / "x").write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    immutable = subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode == 0
    out = {
        "F": str(f), "UNDER": str(f / "x"), "MISSING": str(tmp_path / "missing" / "x"),
        "EMPTY": str(tmp_path / "empty"), "GARBAGE": str(tmp_path / "garbage"),
        "LIST": str(tmp_path / "list.json"), "OBJ": str(tmp_path / "obj.json"),
        "BADPLAN": str(tmp_path / "badplan.json"), "DIR": str(tmp_path / "dir"),
        "DIR2": str(tmp_path / "dir2"), "RO": str(ro) if immutable else "",
        "T": str(tmp_path / "target"),
    }  # fmt: skip
    yield out
    if immutable:
        subprocess.run(["chattr", "-i", str(ro)], check=True)


def _fill(args: list[str], places: dict[str, str]) -> list[str]:
    if any("{RO}" in a for a in args) and not places["RO"]:
        pytest.skip("no chattr +i here (root ignores modes: an immutable dir is the read-only one)")
    return [a.format(**places) if "{" in a and a != "{}" else a for a in args]


def _one_line_error(r: subprocess.CompletedProcess, code: int) -> str:
    err = r.stderr.decode(errors="replace")
    assert "internal error" not in err and "Traceback" not in err, err
    assert r.returncode == code, (r.returncode, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and len(lines[-1]) < 400, err
    assert any(ln.startswith(("wacket: ", "Error:", "wacket ")) for ln in lines), err
    return err


@pytest.fixture
def mail_config():
    import os

    path = Path(os.environ["WACKET_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[mail.w]\nhost = "127.0.0.1"\nuser = "u"\ntls = "none"\n')


# What a case needs done first (an entry in the clip ring, a snapshot to restore).
BEFORE = {
    "clip": [["clip", "copy", "{F}"]],
    "backup restore": [
        ["backup", "run", "--name", "t", "--source", "{DIR}", "--target", "{T}", "--create-target"]
    ],
}


@pytest.mark.parametrize("name,args,code", CASES, ids=[c[0] for c in CASES])
def test_bad_paths_and_files(run_wacket, places, mail_config, name, args, code):
    for key, commands in BEFORE.items():
        for command in commands if name.startswith(key + " ") else []:
            assert run_wacket(*_fill(command, places)).returncode == 0
    err = _one_line_error(run_wacket(*_fill(args, places)), code)
    assert "Error: [Errno" not in err, err  # a message for people, not an exception's repr


@pytest.mark.parametrize("where", DATA_PLACES)
@pytest.mark.parametrize("name,args", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_unusable_data_dir(run_wacket, places, name, args, where):
    data = _fill([where], places)[0]
    err = _one_line_error(run_wacket(*_fill(args, places), env={"WACKET_DATA": data}), 2)
    assert "data dir" in err


@pytest.mark.parametrize("name,text,line", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_config_values_of_the_wrong_type(run_wacket, tmp_path, name, text, line):
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    for command in (["hosts", "list"], ["sync", "--all", "-n"]):
        r = run_wacket("--config", cfg, *command)
        err = _one_line_error(r, 2)
        assert f"{cfg}:{line}:" in err, err
