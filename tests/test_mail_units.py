"""Unit tests of wacket.mail pieces that need no server."""

from __future__ import annotations

import random

import pytest

from wacket.config import Config
from wacket.errors import ConfigError
from wacket.mail import accounts
from wacket.mail.digest import NormHash
from wacket.mail.imap import decode_mutf7, encode_mutf7
from wacket.mail.store import content_hash, folder_dir, imap_flags, maildir_flags, safe_component


def test_streamed_hash_equals_whole_hash():
    rng = random.Random(5)
    samples = [b"a\r\nb\r\n\r\n", b"x\r", b"\r\n\r\n", b"", b"abc\n\n\r", b"\r\r\n\n"]
    for _ in range(200):
        samples.append(bytes(rng.choice(b"ab\r\n") for _ in range(rng.randint(0, 40))))
    for data in samples:
        for _ in range(5):
            h = NormHash()
            cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 4)))
            prev = 0
            for c in [*cuts, len(data)]:
                h.update(data[prev:c])
                prev = c
            assert h.hexdigest() == content_hash(data), data


def test_hash_ignores_line_ends():
    assert content_hash(b"A: b\r\n\r\nbody\r\n") == content_hash(b"A: b\n\nbody\n\n")
    assert content_hash(b"A: b\n\nbody") != content_hash(b"A: b\n\nbodY")


def test_mutf7_round_trip():
    assert decode_mutf7(b"&AMQ-rger") == "Ärger"
    assert decode_mutf7(b"&ZeVnLIqe-") == "日本語"
    for name in ("Work/Ärger", "日本語", "a&b", "Entwürfe"):
        assert decode_mutf7(encode_mutf7(name)) == name


@pytest.mark.parametrize(
    "name, safe",
    [("INBOX", "INBOX"), ("a:b", "a%3Ab"), ("cur", "%63ur"), ("CON", "%43ON"),
     ("com1.txt", "%63om1.txt"), (".hidden", "%2Ehidden"), ("end.", "end%2E"),
     ("tab\there", "tab%09here"), ("100%", "100%25"), ("Ärger", "Ärger"), ("", "%")],
)  # fmt: skip
def test_safe_component(name, safe):
    assert safe_component(name) == safe


def test_folder_dir_nests():
    assert folder_dir("work", "A/B/cur") == "work/A/B/%63ur"
    assert folder_dir("work", "A.B", ".") == "work/A/B"


def test_flags_round_trip():
    assert maildir_flags([b"\\Seen", b"\\Flagged", b"$Forwarded", b"custom"]) == "FPS"
    assert imap_flags("DFPRST") == ["\\Draft", "\\Flagged", "$Forwarded", "\\Answered",
                                    "\\Seen", "\\Deleted"]  # fmt: skip


def _config(text: str) -> Config:
    import tomllib

    return Config(path="config.toml", data=tomllib.loads(text), text=text)  # type: ignore[arg-type]


def test_account_config_validation():
    acc = accounts.load(_config('[mail.w]\nhost = "imap.example.org"\nuser = "me"\n'))["w"]
    assert acc.port == 993 and acc.tls == "ssl" and acc.folders == ["*"]
    acc = accounts.load(_config('[mail.w]\nhost = "h"\nuser = "u"\ntls = "starttls"\n'))["w"]
    assert acc.port == 143
    for bad, word in [
        ('[mail.w]\nhost = "h"\nuser = "u"\npassword = "x"\n', "keyring"),
        ('[mail.w]\nhost = "h"\nuser = "u"\ntls = "maybe"\n', "tls"),
        ('[mail.w]\nhost = "192.0.2.1"\nuser = "u"\ntls = "none"\n', "loopback"),
        ('[mail.w]\nuser = "u"\n', "host"),
        ('[mail.w]\nhost = "h"\nuser = "u"\nport = 0\n', "port"),
        ('[mail.w]\nhost = "h"\nuser = "u"\nfolderz = []\n', "unknown"),
    ]:
        with pytest.raises(ConfigError, match=word):
            accounts.load(_config(bad))
    acc = accounts.load(_config('[mail.w]\nhost = "127.0.0.5"\nuser = "u"\ntls = "none"\n'))
    assert acc["w"].tls == "none"


def test_folder_patterns():
    acc = accounts.Account("a", "h", "u", 993, folders=["INBOX", "Work"], exclude=["Work/Old"])
    assert acc.wants("INBOX") and acc.wants("inbox") and acc.wants("Work/Now")
    assert not acc.wants("Work/Old") and not acc.wants("Spam")
    acc = accounts.Account("a", "h", "u", 993, exclude=["Trash", "Spam"])
    assert acc.wants("Lists/x") and not acc.wants("Trash") and not acc.wants("Spam/sub")


def test_select_accounts():
    accts = {"a": None, "b": None}
    with pytest.raises(ConfigError, match="several"):
        accounts.select(accts, [], False)
    with pytest.raises(ConfigError, match="unknown"):
        accounts.select(accts, ["c"], False)
    assert accounts.select(accts, [], True) == [None, None]
    with pytest.raises(ConfigError, match="no mail accounts"):
        accounts.select({}, [], True)
