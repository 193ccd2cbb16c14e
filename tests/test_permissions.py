"""Everything wacket writes is private: after every kind of command, no file under $WACKET_DATA or
a remote host's ~/.local/share/wacket is readable by group or others, and no directory there is
open to them (0600 files, 0700 directories)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from browserdb import FirefoxProfile, now_us
from gpiobed import GPIO_TOML, reset
from test_mail import Box


def ok(res):
    assert res.returncode == 0, (res.args, res.stderr.decode())
    return res


def loose(root: Path, since_ns: int = 0) -> list[str]:
    """Every file or directory under root that group or others can use (root itself, and what
    was created or changed since `since_ns`, ctime)."""
    found = []
    if not root.exists():
        return found
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if path != root and st.st_ctime_ns < since_ns:
            continue
        if (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)) and st.st_mode & 0o077:
            found.append(f"{path} {stat.S_IMODE(st.st_mode):04o}")
    return found


@pytest.fixture
def everything(fleet, dovecot, isolated_env, tmp_path, run_wacket):
    """Config: the fleet, the sim GPIO chip on h1, one mail account; then run every kind of
    command once."""
    marker = tmp_path / "start"
    marker.touch()
    box = Box(dovecot, isolated_env)
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), GPIO_TOML + box.toml())
    for sshd in fleet.hosts:
        reset(sshd)
    ok(run_wacket("mail", "login", "t", "--password-stdin", input=box.password + "\n"))
    box.append("INBOX", [b"Subject: hi\r\n\r\nhello\r\n"])

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.txt").write_text("b")
    h1 = fleet.hosts[0]
    remote = h1.home / f"perm-{tmp_path.name}"
    (remote / "oneway").mkdir(parents=True)
    (remote / "twoway").mkdir()
    two = tmp_path / "two"
    two.mkdir()
    (two / "c.txt").write_text("c")

    (tmp_path / "ff" / "abcd.default-release").mkdir(parents=True)
    prof = FirefoxProfile(tmp_path / "ff" / "abcd.default-release" / "places.sqlite")
    prof.visit("https://example.org/", "Example", now_us(), 1)
    prof.close()

    ok(run_wacket("sync", str(src) + "/", f"h1:{remote}/oneway/"))
    ok(run_wacket("sync", "--two-way", str(two), f"h1:{remote}/twoway"))
    (two / "d.txt").write_text("d")
    ok(run_wacket("sync", "--two-way", str(two), f"h1:{remote}/twoway"))
    backup = ["backup", "run", "--source", str(src), "--target", f"h1:{remote}/bk", "--name", "p"]
    ok(run_wacket(*backup, "--create-target"))
    ok(run_wacket("backup", "verify", "p", "--target", f"h1:{remote}/bk"))
    ok(run_wacket("find", "index", "local,h1", "--root", str(src), "--root", str(remote)))
    ok(run_wacket("find", "a.txt"))
    ok(run_wacket("links", "merge", str(prof.path.parent)))
    ok(run_wacket("clip", "copy", input="a clip"))
    ok(run_wacket("clip", "copy", "--hub", "h1", input="a remote clip"))
    ok(run_wacket("clip", "copy", "--secret", input="a secret"))
    ok(run_wacket("msg", "send", "h1", "hello"))
    ok(run_wacket("gpio", "set", "h1", "heater=1"))
    ok(run_wacket("gpio", "get", "h1", "heater"))
    ok(run_wacket("mail", "archive", "t"))
    ok(run_wacket("mail", "verify", "t"))
    ok(run_wacket("log"))
    yield fleet, marker.stat().st_ctime_ns
    for sshd in fleet.hosts:
        reset(sshd)


def test_nothing_wacket_writes_is_open_to_others(everything):
    """Here all of $WACKET_DATA (the test's own); on the hosts (their homes serve every test of
    this worker) the data dir and what these commands wrote."""
    fleet, start = everything
    data = Path(os.environ["WACKET_DATA"])
    h1 = fleet.hosts[0].home / ".local/share/wacket"
    for made in (data / "sync-cache", data / "clip", data / "find", h1 / "gpio", h1 / "sync-cache"):
        assert made.is_dir(), made
    found = loose(data)
    for sshd in fleet.hosts:
        found += loose(sshd.home / ".local/share/wacket", start)
    assert found == [], "\n".join(found)


def test_no_keyring_message_names_safe_stores_not_a_plaintext_file(run_wacket, isolated_env):
    """Without a keyring backend the advice is a system keyring, an encrypted file backend or
    password_command, never a plaintext file."""
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('[mail.t]\nhost = "127.0.0.1"\nuser = "me"\n')
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    r = run_wacket("mail", "login", "t", "--password-stdin", "--no-check", input="pw\n", env=env)
    assert r.returncode == 2
    text = r.stderr.decode()
    for advice in ("Secret Service", "keyrings.cryptfile", "EncryptedKeyring", "password_command"):
        assert advice in text, advice
    assert "Plaintext" not in text and "pip install keyrings.alt`" not in text
