"""Config mistakes that used to pass silently (issue 15): an unknown table or key, a value of the
wrong type, a --config file that is not there. Each is exit 2 with FILE:LINE and the nearest
valid name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wacket import config
from wacket.errors import ConfigError

CASES = [
    ("unknown table", '[hosts.nas]\naddress = "n"\n\n[hostz.box]\naddress = "b"\n', 4,
     "unknown table [hostz.box] (did you mean [hosts.box]?)"),
    ("unknown top-level table", "[fnd]\nroots = []\n", 1, "did you mean [find]?"),
    ("unknown key", '[hosts.box]\naddress = "b"\nprot = 22\n', 3,
     "[hosts.box] unknown key 'prot' (did you mean 'port'?)"),
    ("unknown key, quoted host name", '[hosts."my-nas"]\n"adress" = "x"\n', 2,
     "did you mean 'address'?"),
    ("unknown key, dotted", '[hosts]\nbox.address = "b"\nbox.usr = "me"\n', 3,
     "[hosts.box] unknown key 'usr' (did you mean 'user'?)"),
    ("unknown key of a find host", '[find.hosts.nas]\nroots = ["/"]\nexcludes = []\n', 3,
     "did you mean 'exclude'?"),
    ("find content not a bool", '[find]\nroots = ["~"]\ncontent = "yes"\n', 3,
     "[find] content must be true or false, not a string"),
    ("sync key misspelt", '[sync.docs]\na = "x"\nb = "y"\nchecksumm = true\n', 4,
     "did you mean 'checksum'?"),
    ("backup keep bucket", '[backup.home]\nsources = ["~"]\ntarget = "t"\nkeep.dayly = 7\n', 4,
     "did you mean 'daily'?"),
    ("clip host key", '[clip.hosts.laptop]\nbackend = "xclip"\nprimry = true\n', 3,
     "did you mean 'primary'?"),
    ("gpio pin key in an inline table", '[gpio.pi]\ndoor = { line = "GPIO27", pull = "up" }\n',
     2, "unknown key 'pull'"),
    ("mail password refused", '[mail.w]\nhost = "h"\nuser = "u"\npassword = "x"\n', 4,
     "keyring"),
    ("multi-line string does not confuse lines",
     '[sync.a]\na = "x"\nb = """\n[hostz]\n"""\n\n[hosts.h]\nadres = "y"\n', 8,
     "did you mean 'address'?"),
]  # fmt: skip


def _write(text: str) -> Path:
    path = Path(os.environ["WACKET_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("name,text,line,message", CASES, ids=[c[0] for c in CASES])
def test_loader_names_file_line_and_nearest_name(name, text, line, message):
    path = _write(text)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(err.value).startswith(f"{path}:{line}: "), str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "command", [["hosts", "list"], ["sync", "--all", "-n"], ["backup", "run", "--all"]]
)
def test_cli_config_mistakes_are_exit_2(run_wacket, command):
    path = _write('[hostz.box]\naddress = "b"\n')
    r = run_wacket(*command)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.strip().splitlines() == [
        f"wacket: error: {path}:1: unknown table [hostz.box] (did you mean [hosts.box]?)"
    ]


def test_named_config_must_exist_but_default_may_be_missing(run_wacket, tmp_path):
    missing = tmp_path / "nonexistent.toml"
    r = run_wacket("--config", missing, "hosts", "list")
    assert r.returncode == 2, r.stderr
    assert r.stderr.decode().strip() == f"wacket: error: {missing}: no such config file"
    # the default path (here $WACKET_CONFIG, not written) missing: this machine only
    r = run_wacket("hosts", "list", "--plain")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split("\t")[0] == "local"


def test_valid_config_with_every_table_loads(tmp_path):
    text = """
[hosts.nas]
address = "nas.lan"
tags = ["server"]
identity = "~/.ssh/id_nas"
[hosts."pi.1"]
port = 2222
[sync.docs]
a = "local:~/Documents"
b = "nas:/srv/docs"
mode = "two-way"
exclude = ["*.tmp"]
trash_days = 7.5
[backup.home]
sources = ["~/Documents"]
target = "nas:/backup"
keep = { daily = 7, weekly = 4 }
[mail.work]
host = "imap.example.com"
user = "me"
folders = "INBOX"
[find]
roots = ["~"]
hash_min = "1M"
content = true
[find.hosts.nas]
roots = ["/srv"]
[clip]
keep = 50
ttl = 30
[clip.hosts.laptop]
backend = "xclip"
primary = true
[gpio.pi]
backend = "auto"
door = { line = "GPIO27", direction = "in" }
"""
    cfg = config.load(_write(text))
    assert set(cfg.data) == {"hosts", "sync", "backup", "mail", "find", "clip", "gpio"}
    assert cfg.line_of("hosts", "pi.1") == 6 and cfg.line_of("backup", "home", "keep") == 17


def test_every_readme_example_passes_the_schema():
    import re
    import tomllib

    from wacket import schema

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.S)
    assert len(blocks) >= 6
    for block in blocks:
        assert schema.check(tomllib.loads(block)) is None, block


def test_schema_knows_the_keys_each_section_reads():
    """The modules that read a section keep their own checks for direct callers: the one
    schema must name the same keys, or the loader would refuse a key a module reads."""
    from wacket import fleet, schema
    from wacket.backup import sets
    from wacket.clip import settings
    from wacket.find import index
    from wacket.gpio import pins
    from wacket.sync import profiles

    s = schema.SCHEMA
    assert set(s["hosts"]["*"]) == fleet._HOST_KEYS
    assert set(s["sync"]["*"]) == set(profiles._KEYS)
    assert set(s["backup"]["*"]) == sets.SET_KEYS
    assert set(s["backup"]["*"]["keep"]) == set(sets.KEEP_KEYS)
    assert set(s["find"]) - {"hosts"} == index._KEYS == set(s["find"]["hosts"]["*"])
    assert set(s["clip"]) == settings.TOP_KEYS
    assert set(s["clip"]["hosts"]["*"]) == settings.HOST_KEYS
    assert set(s["gpio"]["*"]["*"]) == pins._PIN_KEYS
