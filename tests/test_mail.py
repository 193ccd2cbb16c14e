"""wacket mail against a real Dovecot on loopback (tests/dovebed.py): archive, incremental runs,
UIDVALIDITY changes, SIGKILL mid-run, errors, secrets, import, restore, verify, search, export."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import dovebed  # noqa: E402

from wacket.mail.store import content_hash  # noqa: E402

PASSWORD_NOTE = "the password must never leave the keyring"


class Box:
    """A fresh mailbox user on the shared Dovecot, configured as wacket account `name`."""

    def __init__(self, dovecot, home: Path, name: str = "t"):
        self.d = dovecot
        self.name = name
        self.user = f"u{uuid.uuid4().hex[:10]}"
        # Characters that would break a shell or a careless log line.
        self.password = f"Pw-{uuid.uuid4().hex[:12]}!#$&'\" x"
        dovecot.add_user(self.user, self.password)
        self.home = home
        self._client = None
        # Dovecot rereads the passwd-file at most once a second: wait until the user can log in.
        assert self.client is not None

    @property
    def client(self):
        if self._client is None:
            deadline = time.monotonic() + 10
            while True:
                try:
                    self._client = self.d.client(self.user)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        return self._client

    def toml(self, tls: str = "none", **extra) -> str:
        return self.d.toml(self.name, user=self.user, tls=tls, **extra)

    def append(self, folder: str, messages, flags=()):
        c = self.client
        if folder != "INBOX" and not c.folder_exists(folder):
            c.create_folder(folder)
        msgs = list(messages)
        for i in range(0, len(msgs), 500):
            c.multiappend(folder, [{"msg": m, "flags": flags} if flags else m
                                   for m in msgs[i : i + 500]])  # fmt: skip

    def server_hashes(self, folder: str) -> Counter:
        c = self.client
        c.select_folder(folder, readonly=True)
        uids = c.search("ALL")
        out = Counter()
        for i in range(0, len(uids), 200):
            for d in c.fetch(uids[i : i + 200], ["BODY.PEEK[]"]).values():
                out[content_hash(d[b"BODY[]"])] += 1
        return out

    def server_flags(self, folder: str) -> dict:
        c = self.client
        c.select_folder(folder, readonly=True)
        uids = c.search("ALL")
        out = {}
        for d in c.fetch(uids, ["BODY.PEEK[]", "FLAGS"]).values() if uids else []:
            flags = {f.decode() for f in d[b"FLAGS"] if f != b"\\Recent"}
            out[content_hash(d[b"BODY[]"])] = flags
        return out


def data_dir() -> Path:
    return Path(os.environ["WACKET_DATA"])


def maildir(account: str, folder_dir: str) -> Path:
    return data_dir() / "mail" / account / folder_dir


def archive_files(account: str, folder: str) -> list[Path]:
    db = sqlite3.connect(data_dir() / "mail" / "index.sqlite")
    row = db.execute(
        "SELECT dir FROM folders WHERE account=? AND folder=?", (account, folder)
    ).fetchone()
    db.close()
    assert row, f"{account}/{folder} not archived"
    d = data_dir() / "mail" / row[0]
    return sorted(p for sub in ("cur", "new") for p in (d / sub).iterdir())


def archive_hashes(account: str, folder: str) -> Counter:
    return Counter(content_hash(p.read_bytes()) for p in archive_files(account, folder))


def assert_archive_equals_server(box: Box, folder: str) -> None:
    server = box.server_hashes(folder)
    archived = archive_hashes(box.name, folder)
    dup = [h for h, n in archived.items() if n > 1]
    assert not dup, f"{folder}: {len(dup)} messages stored twice"
    assert set(archived) == set(server), (
        f"{folder}: missing {len(set(server) - set(archived))}, "
        f"extra {len(set(archived) - set(server))}"
    )


def msg(i: int, subject: str = "", body: str = "", extra: bytes = b"", size: int = 0) -> bytes:
    subject = subject or f"Message {i}"
    body = body or f"Hello number {i}, this is the body text of message {i}."
    text = body.encode() + (b"\r\n" + b"x" * 76) * (size // 78)
    return (
        f"From: Sender {i} <sender{i}@example.org>\r\n"
        f"To: Rcpt <rcpt@example.net>\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{i}.{uuid.uuid4().hex}@example.org>\r\n"
        f"Date: Mon, 02 Nov 2026 10:{i % 60:02d}:00 +0000\r\n".encode()
        + extra
        + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + text
        + b"\r\n"
    )


@pytest.fixture
def box(dovecot, isolated_env, run_wacket):
    b = Box(dovecot, isolated_env)
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(b.toml())
    r = run_wacket("mail", "login", "t", "--password-stdin", input=b.password + "\n")
    assert r.returncode == 0, r.stderr
    yield b
    if b._client is not None:
        b._client.logout()


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout.decode(), r.stderr.decode())
    return r


def jsonl(r) -> list[dict]:
    return [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]


# -- archive ------------------------------------------------------------------------------------


EIGHT_BIT = (
    b"From: =?iso-8859-1?q?J=F6rg?= <joerg@example.org>\r\nTo: a@example.org\r\n"
    b"Subject: 8bit \xe4\xf6\xfc raw latin-1\r\nMessage-ID: <8bit@example.org>\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    b"Gr\xfc\xdfe aus K\xf6ln, \xe9t\xe9 caf\xe9\r\n"
)
MALFORMED = [
    b"this is not a header line at all\r\n\r\nno headers, body only\r\n",
    b"Subject: no body separator and no message-id",
    b'From: broken <<<@@>\r\nContent-Type: multipart/mixed; boundary="nope"\r\n'
    b"Subject: =?utf-8?b?broken-base64?=\r\nDate: yesterday-ish\r\n\r\n--other\r\nstray part\r\n",
    b"Subject: utf8 raw \xc3\xa4\xc3\xb6\r\nMessage-ID: <dup@x>\r\n\r\n\xff\xfe invalid utf-8 \xc3\r\n",
]
FOLDERS = ["Work/Ärger", "日本語", "Archive/2024/Q1", "Project: X", "cur", "con"]


def test_archive_folders_names_flags_8bit_malformed(box, run_wacket):
    box.append("INBOX", [msg(i) for i in range(30)])
    box.append("INBOX", [msg(100)], flags=[b"\\Seen", b"\\Flagged"])
    box.append("INBOX", [EIGHT_BIT] + MALFORMED)
    for n, name in enumerate(FOLDERS):
        box.append(name, [msg(1000 + 10 * n + k, subject=f"in {name}") for k in range(3)])
    r = ok(run_wacket("mail", "archive", "t", "--jsonl"))
    recs = {x["folder"]: x for x in jsonl(r)}
    assert set(recs) == {"INBOX", *FOLDERS}
    assert recs["INBOX"]["new"] == 36
    for name in ["INBOX", *FOLDERS]:
        assert_archive_equals_server(box, name)
    # Folder names decoded from modified UTF-7, made safe on disk (nested, reserved, unsafe chars).
    root = data_dir() / "mail" / "t"
    assert (root / "Work" / "Ärger" / "cur").is_dir()
    assert (root / "日本語" / "cur").is_dir()
    assert (root / "Archive" / "2024" / "Q1" / "cur").is_dir()
    assert (root / "Project%3A X" / "cur").is_dir()
    assert (root / "%63ur" / "cur").is_dir()
    assert (root / "%63on" / "cur").is_dir()
    # Flags as Maildir flags; permissions private.
    files = archive_files("t", "INBOX")
    flagged = [p for p in files if p.read_bytes().find(b"Message 100") >= 0]
    assert len(flagged) == 1 and flagged[0].name.endswith(":2,FS")
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o600
    for d in [data_dir() / "mail", root, root / "INBOX", root / "INBOX" / "cur"]:
        assert d.stat().st_mode & 0o777 == 0o700, d
    # The 8-bit message is byte-identical and searchable.
    assert any(p.read_bytes() == EIGHT_BIT for p in files)
    found = jsonl(ok(run_wacket("mail", "search", "Köln", "--jsonl")))
    assert len(found) == 1 and found[0]["folder"] == "INBOX"
    assert Path(found[0]["path"]).read_bytes() == EIGHT_BIT
    # A journal entry for the run.
    log = ok(run_wacket("log", "--command", "mail archive", "--jsonl"))
    entries = jsonl(log)
    assert entries and entries[-1]["outcome"] == "ok" and "new" in entries[-1]["summary"]
    # verify agrees.
    v = ok(run_wacket("mail", "verify", "t", "--jsonl"))
    assert all(x["missing"] == 0 for x in jsonl(v))


def test_incremental_new_mail_flags_and_server_deletes(box, run_wacket):
    box.append("INBOX", [msg(i) for i in range(20)])
    box.append("Lists/dev", [msg(i) for i in range(20, 30)])
    ok(run_wacket("mail", "archive", "t"))
    # Nothing new: every folder unchanged.
    recs = jsonl(ok(run_wacket("mail", "archive", "t", "--jsonl")))
    assert {x["status"] for x in recs} == {"unchanged"} and sum(x["new"] for x in recs) == 0
    # New mail, a flag change, and a deletion on the server.
    c = box.client
    box.append("INBOX", [msg(i) for i in range(40, 45)])
    c.select_folder("INBOX")
    uids = c.search("ALL")
    c.add_flags(uids[:3], [b"\\Seen", b"\\Answered"])
    c.select_folder("Lists/dev")
    gone = c.fetch(c.search("ALL")[:2], ["BODY.PEEK[]"])
    gone_hashes = {content_hash(d[b"BODY[]"]) for d in gone.values()}
    c.delete_messages(list(gone))
    c.expunge()
    recs = {x["folder"]: x for x in jsonl(ok(run_wacket("mail", "archive", "t", "--jsonl")))}
    assert recs["INBOX"]["new"] == 5 and recs["INBOX"]["flags"] == 3
    assert recs["Lists/dev"]["new"] == 0
    assert_archive_equals_server(box, "INBOX")
    flags = box.server_flags("INBOX")
    for p in archive_files("t", "INBOX"):
        h = content_hash(p.read_bytes())
        letters = p.name.split(":2,")[1]
        assert ("S" in letters) == ("\\Seen" in flags[h])
        assert ("R" in letters) == ("\\Answered" in flags[h])
    # Deleted on the server, still archived.
    archived = archive_hashes("t", "Lists/dev")
    assert gone_hashes <= set(archived) and len(archived) == 10


def test_uidvalidity_change_no_duplicates_nothing_lost(box, run_wacket):
    first = [msg(i) for i in range(25)]
    box.append("Projects", first)
    ok(run_wacket("mail", "archive", "t"))
    before = archive_hashes("t", "Projects")
    # Recreate the folder: new UIDVALIDITY, same messages plus new ones, in another order.
    c = box.client
    c.select_folder("INBOX")
    c.delete_folder("Projects")
    c.create_folder("Projects")
    box.append("Projects", list(reversed(first)) + [msg(i) for i in range(100, 105)])
    recs = {x["folder"]: x for x in jsonl(ok(run_wacket("mail", "archive", "t", "--jsonl")))}
    assert "uidvalidity" in recs["Projects"]["status"]
    assert recs["Projects"]["new"] == 5
    after = archive_hashes("t", "Projects")
    assert set(before) <= set(after) and max(after.values()) == 1 and len(after) == 30
    assert_archive_equals_server(box, "Projects")
    v = jsonl(ok(run_wacket("mail", "verify", "t", "--jsonl")))
    assert {x["folder"]: x["missing"] for x in v}["Projects"] == 0


def test_sigkill_during_fetch_then_rerun_equals_server(box, run_wacket, isolated_env):
    for name, n in (("INBOX", 1500), ("Big/one", 1000)):
        box.append(name, [msg(i, size=3000) for i in range(n)])
    env = dict(os.environ)
    dirs = [maildir("t", "INBOX"), maildir("t", "Big/one")]

    def on_disk() -> int:
        count = 0
        for d in dirs:
            for sub in ("cur", "tmp"):
                try:
                    count += len(os.listdir(d / sub))
                except FileNotFoundError:
                    pass
        return count

    kills = 0
    for step in (150, 400, 300):
        start = on_disk()
        proc = subprocess.Popen(
            [sys.executable, "-m", "wacket", "mail", "archive", "t", "--batch", "25"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if on_disk() >= start + step:
                break
            time.sleep(0.002)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2, "the runs finished before they could be killed"
    assert on_disk() < 2500, "nothing left to fetch after the kills"
    r = ok(run_wacket("mail", "archive", "t", "--jsonl"))
    assert jsonl(r)
    for name in ("INBOX", "Big/one"):
        assert_archive_equals_server(box, name)
        assert not list((maildir("t", "INBOX") / "tmp").iterdir())
    v = jsonl(ok(run_wacket("mail", "verify", "t", "--jsonl")))
    assert sum(x["missing"] for x in v) == 0 and sum(x["server"] for x in v) == 2500
    # A run with nothing new after all that: nothing fetched.
    again = jsonl(ok(run_wacket("mail", "archive", "t", "--jsonl")))
    assert sum(x["new"] + x["linked"] for x in again) == 0


def test_big_attachment_streamed_bounded_memory(box, run_wacket):
    import base64

    payload = os.urandom(20 * 1024 * 1024)
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    big = (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: big attachment\r\n"
        b"Message-ID: <big@example.org>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\n'
        b"Content-Type: text/plain\r\n\r\nsee the attached zebrafile\r\n--BB\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="x.bin"\r\n\r\n' + b64 + b"--BB--\r\n"
    )
    box.client.append("INBOX", big)
    box.append("INBOX", [msg(i) for i in range(5)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "mail", "archive", "t"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    files = archive_files("t", "INBOX")
    assert len(files) == 6
    stored = [p for p in files if p.stat().st_size > 1_000_000]
    assert (
        len(stored) == 1
        and hashlib.sha256(stored[0].read_bytes()).digest() == hashlib.sha256(big).digest()
    )
    found = jsonl(ok(run_wacket("mail", "search", "zebrafile", "--jsonl")))
    assert len(found) == 1


def test_memory_bounded_with_20mb_message(box, tmp_path):
    """Peak RSS of the archive process stays well under 150 MB with a 20 MB message.

    Measured as VmHWM from /proc/self/status at exit (ru_maxrss would include the parent's peak,
    which Linux carries across fork + exec).
    """
    big = b"Subject: big\r\nMessage-ID: <b2@x>\r\n\r\n" + (b"y" * 998 + b"\r\n") * 21000
    box.client.append("INBOX", big)
    del big
    status = tmp_path / "status"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(status)!r}, 'w').write(open('/proc/self/status').read()))\n"
        "from wacket.cli.main import main\n"
        "main(['mail', 'archive', 't'])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    hwm = next(int(line.split()[1]) for line in status.read_text().splitlines()
               if line.startswith("VmHWM:"))  # fmt: skip
    assert hwm * 1024 < 150 * 1024 * 1024, f"peak RSS {hwm} KiB"
    assert_archive_equals_server(box, "INBOX")


def test_same_message_in_two_folders_is_hard_linked(box, run_wacket):
    shared = msg(7, subject="labelled twice")
    box.append("INBOX", [shared, msg(8)])
    box.append("Label/Important", [shared])
    ok(run_wacket("mail", "archive", "t"))
    a = [p for p in archive_files("t", "INBOX") if b"labelled twice" in p.read_bytes()]
    b = archive_files("t", "Label/Important")
    assert len(a) == 1 and len(b) == 1
    assert a[0].stat().st_ino == b[0].stat().st_ino and a[0].stat().st_nlink == 2


# -- errors and secrets --------------------------------------------------------------------------


def test_wrong_password_unreachable_and_tls_errors(box, dovecot, run_wacket, closed_port):
    cfg = Path(os.environ["WACKET_CONFIG"])
    # Wrong password.
    r = run_wacket("mail", "login", "t", "--password-stdin", input="wrong\n")
    assert r.returncode == 3 and b"wrong user or password" in r.stderr
    assert b"Traceback" not in r.stderr
    # Unreachable server.
    cfg.write_text(box.toml().replace(f"port = {dovecot.port}", f"port = {closed_port}"))
    r = run_wacket("mail", "archive", "t")
    assert r.returncode == 3 and b"refused" in r.stderr, r.stderr
    # TLS required, but the server offers no STARTTLS.
    with dovebed.Dovecot(users={box.user: box.password}, tls=False) as plain:
        cfg.write_text(plain.toml("t", user=box.user, tls="starttls"))
        r = run_wacket("mail", "archive", "t")
        assert r.returncode == 3, r.stderr
        assert b"does not offer STARTTLS" in r.stderr
        # Implicit TLS against a plain port.
        cfg.write_text(plain.toml("t", user=box.user, tls="ssl").replace("993", str(plain.port)))
        cfg.write_text(
            "\n".join(
                f"port = {plain.port}" if line.startswith("port") else line
                for line in plain.toml("t", user=box.user, tls="ssl").splitlines()
            )
        )
        r = run_wacket("mail", "archive", "t")
        assert r.returncode == 3 and b"TLS handshake failed" in r.stderr, r.stderr
    # tls = none to a non-loopback address is a config error.
    cfg.write_text(box.toml().replace('host = "127.0.0.1"', 'host = "192.0.2.1"'))
    r = run_wacket("mail", "archive", "t")
    assert r.returncode == 2 and b"loopback" in r.stderr
    # A password in the config is refused.
    cfg.write_text(box.toml() + 'password = "x"\n')
    r = run_wacket("mail", "archive", "t")
    assert r.returncode == 2 and b"keyring" in r.stderr


def test_tls_and_starttls_work(box, dovecot, run_wacket):
    box.append("INBOX", [msg(i) for i in range(3)])
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.write_text(box.toml(tls="ssl"))
    assert f"port = {dovecot.ssl_port}" in cfg.read_text()
    recs = jsonl(ok(run_wacket("mail", "archive", "t", "--jsonl")))
    assert recs[0]["new"] == 3
    cfg.write_text(box.toml(tls="starttls"))
    box.append("INBOX", [msg(9)])
    recs = jsonl(ok(run_wacket("mail", "archive", "t", "--jsonl")))
    assert recs[0]["new"] == 1
    # Without the CA file the self-signed certificate is refused.
    cfg.write_text("\n".join(x for x in box.toml(tls="ssl").splitlines() if "ca_file" not in x))
    r = run_wacket("mail", "archive", "t")
    assert r.returncode == 3 and b"certificate not trusted" in r.stderr


def test_password_never_in_argv_logs_journal_output(box, run_wacket):
    box.append("INBOX", [msg(i, size=2000) for i in range(1500)])
    secret = box.password.encode()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "--debug", "mail", "archive", "t", "--batch", "20"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen = 0
    while proc.poll() is None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                environ = Path(f"/proc/{pid}/environ").read_bytes() if int(pid) == proc.pid else b""
            except OSError:
                continue
            seen += 1
            assert secret not in cmdline, f"password in argv of pid {pid}"
            assert secret not in environ
        time.sleep(0.01)
    out, err = proc.communicate()
    assert proc.returncode == 0 and seen
    # Also a failed login with --debug: the error does not echo it.
    r = run_wacket("--debug", "mail", "login", "t", "--password-stdin", input=box.password + "x\n")
    outputs = [out, err, r.stdout, r.stderr]
    outputs.append(ok(run_wacket("log", "--jsonl")).stdout)
    for blob in outputs:
        assert secret not in blob
    for root, _dirs, files in os.walk(data_dir()):
        for name in files:
            assert secret not in (Path(root) / name).read_bytes(), f"password in {name}"
    # The config has no password either; the keyring file is outside the data dir.
    assert secret not in Path(os.environ["WACKET_CONFIG"]).read_bytes()


def test_password_command_and_missing_keyring(box, dovecot, run_wacket, tmp_path):
    box.append("INBOX", [msg(1)])
    pwfile = tmp_path / "pw"
    pwfile.write_text(box.password + "\n")
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.write_text(box.toml(password_command=f"cat {pwfile}"))
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    recs = jsonl(ok(run_wacket("mail", "archive", "t", "--jsonl", env=env)))
    assert recs[0]["new"] == 1
    # No keyring backend and no password_command: the error says how to fix it.
    cfg.write_text(box.toml())
    r = run_wacket("mail", "archive", "t", env=env)
    assert r.returncode == 2 and b"password_command" in r.stderr and b"keyring" in r.stderr


# -- import, restore, verify, export, search, stats ----------------------------------------------


def test_import_mbox_and_maildir_dedupe_and_link(box, run_wacket, tmp_path):
    msgs = [msg(i).replace(b"\r\n", b"\n") for i in range(15)]
    mbox = tmp_path / "old.mbox"
    with open(mbox, "wb") as fh:
        for m in msgs[:10]:
            fh.write(b"From sender@example.org Mon Nov  2 10:00:00 2026\n")
            fh.write(m.replace(b"\nFrom ", b"\n>From ") + b"\n")
    md = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    for i, m in enumerate(msgs[5:]):
        (md / "cur" / f"{1000 + i}.x.host:2,S").write_bytes(m)
    r1 = jsonl(ok(run_wacket("mail", "import", str(mbox), "--folder", "Old", "--jsonl")))
    r2 = jsonl(ok(run_wacket("mail", "import", str(md), "--folder", "Old", "--jsonl")))
    assert r1[0]["new"] == 10 and r2[0]["new"] == 5 and r2[0]["duplicates"] == 5
    files = archive_files("local", "Old")
    assert len(files) == 15 and len({content_hash(p.read_bytes()) for p in files}) == 15
    r3 = jsonl(ok(run_wacket("mail", "import", str(mbox), "--folder", "Old", "--jsonl")))
    assert r3[0]["new"] == 0 and r3[0]["duplicates"] == 10
    # A message already archived from IMAP (CRLF) is recognised in an LF Maildir and linked.
    box.append("INBOX", [msgs[0].replace(b"\n", b"\r\n")])
    ok(run_wacket("mail", "archive", "t"))
    [imap_copy] = archive_files("t", "INBOX")
    [old_copy] = [p for p in files if content_hash(p.read_bytes()) == content_hash(msgs[0])]
    assert imap_copy.stat().st_ino == old_copy.stat().st_ino
    found = jsonl(ok(run_wacket("mail", "search", "number", "--folder", "Old", "--jsonl")))
    assert len(found) == 15


def test_import_over_ssh(fleet, run_wacket, tmp_path):
    host = fleet.hosts[0]
    name = fleet.names[0]
    remote = host.home / "mail.mbox"
    remote.write_bytes(
        b"".join(
            b"From x@y Mon Nov  2 10:00:00 2026\n" + msg(i).replace(b"\r\n", b"\n") + b"\n"
            for i in range(4)
        )
    )
    r = ok(run_wacket("mail", "import", f"{name}:{remote}", "--account", "nas", "--jsonl"))
    [rec] = jsonl(r)
    assert rec["new"] == 4 and rec["source"].startswith(f"{name}:")
    assert len(archive_files("nas", "mail")) == 4


def test_restore_to_second_account_and_verify(box, dovecot, run_wacket, isolated_env):
    box.append("INBOX", [msg(i) for i in range(12)])
    box.append("INBOX", [msg(50)], flags=[b"\\Seen", b"\\Answered"])
    box.append("INBOX", [MALFORMED[0], EIGHT_BIT])
    ok(run_wacket("mail", "archive", "t"))
    second = Box(dovecot, isolated_env, name="t2")
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.write_text(box.toml() + second.toml())
    ok(run_wacket("mail", "login", "t2", "--password-stdin", input=second.password + "\n"))
    second.append("Restored", [msg(3000)])  # something already there stays
    r = jsonl(ok(run_wacket("mail", "restore", "t/INBOX", "--to", "t2/Restored", "--jsonl")))
    assert r[0]["uploaded"] == 15 and r[0]["skipped"] == 0
    server = second.server_hashes("Restored")
    assert set(archive_hashes("t", "INBOX")) <= set(server) and len(server) == 16
    assert max(server.values()) == 1
    flags = second.server_flags("Restored")
    src = box.server_flags("INBOX")
    for h, f in src.items():
        assert flags[h] == f
    # Again: everything is already there.
    r = jsonl(ok(run_wacket("mail", "restore", "t/INBOX", "--to", "t2/Restored", "--jsonl")))
    assert r[0]["uploaded"] == 0 and r[0]["skipped"] == 15
    # Archive the second account: its folder equals the first archive plus the old message.
    ok(run_wacket("mail", "archive", "t2"))
    assert set(archive_hashes("t2", "Restored")) == set(server)


def test_expunge_archived_older_than(box, run_wacket):
    import datetime as dt

    old_date = dt.datetime.now(dt.UTC) - dt.timedelta(days=800)
    c = box.client
    old = [msg(i, subject=f"old {i}") for i in range(6)]
    for m in old:
        c.append("INBOX", m, msg_time=old_date)
    c.append("INBOX", msg(50, subject="old but unarchived"), msg_time=old_date)
    box.append("INBOX", [msg(i, subject=f"new {i}") for i in range(10, 14)])
    user_deleted = msg(60, subject="recent, flagged deleted by the user")
    c.append("INBOX", user_deleted, flags=[b"\\Deleted"])
    # Archive first without the late message, so one old message is not in the archive.
    c.select_folder("INBOX")
    late = [u for u, d in c.fetch(c.search("ALL"), ["BODY.PEEK[]"]).items()
            if b"unarchived" in d[b"BODY[]"]]  # fmt: skip
    ok(run_wacket("mail", "archive", "t"))
    db = sqlite3.connect(data_dir() / "mail" / "index.sqlite")
    db.execute("DELETE FROM uids WHERE uid=?", (late[0],))  # as if it arrived after the run
    db.commit()
    db.close()
    recs = jsonl(ok(run_wacket("mail", "archive", "t", "--expunge-archived-older-than", "365d",
                               "--jsonl")))  # fmt: skip
    assert recs[0]["expunged"] == 6
    server = box.server_hashes("INBOX")
    assert not {content_hash(m) for m in old} & set(server)
    assert content_hash(user_deleted) in server  # never touched
    assert len(server) == 6  # 4 new + the unarchived old one + the user's deleted one
    assert {content_hash(m) for m in old} <= set(archive_hashes("t", "INBOX"))
    log = jsonl(ok(run_wacket("log", "--command", "mail archive", "--jsonl")))
    assert "6 expunged" in log[-1]["summary"]


def test_verify_reports_missing(box, run_wacket):
    box.append("INBOX", [msg(i) for i in range(6)])
    ok(run_wacket("mail", "archive", "t"))
    victim = archive_files("t", "INBOX")[2]
    victim.unlink()
    box.append("INBOX", [msg(99)])  # not archived yet
    r = run_wacket("mail", "verify", "t", "--jsonl")
    assert r.returncode == 1
    recs = jsonl(r)
    problems = sorted(x["problem"] for x in recs if "problem" in x)
    assert problems == ["file missing from the archive", "not archived"]
    assert b"missing" in r.stderr
    # --repair fetches both again; the archive then equals the server.
    r = ok(run_wacket("mail", "verify", "t", "--repair", "--jsonl"))
    assert b"fetched 2 missing" in r.stderr
    assert all(x.get("missing", 0) == 0 for x in jsonl(r))
    assert_archive_equals_server(box, "INBOX")


def test_search_filters_show_export_stats(box, run_wacket, tmp_path):
    box.append("INBOX", [msg(1, subject="Quarterly invoice", body="Please pay the invoice")])
    box.append("INBOX", [msg(2, subject="Lunch", body="pizza on friday")])
    box.append("Work/Clients", [msg(3, subject="Contract", body="invoice terms attached")])
    ok(run_wacket("mail", "archive", "t"))
    rows = jsonl(ok(run_wacket("mail", "search", "invoice", "--jsonl")))
    assert {r["subject"] for r in rows} == {"Quarterly invoice", "Contract"}
    rows = jsonl(ok(run_wacket("mail", "search", "invoice", "--folder", "Work", "--jsonl")))
    assert [r["subject"] for r in rows] == ["Contract"]
    rows = jsonl(ok(run_wacket("mail", "search", "--from", "sender2", "--jsonl")))
    assert [r["subject"] for r in rows] == ["Lunch"]
    rows = jsonl(ok(run_wacket("mail", "search", "--subject", "lunch", "--jsonl")))
    assert len(rows) == 1
    assert run_wacket("mail", "search", "invoice", "--until", "2020-01-01").returncode == 1
    rows = jsonl(ok(run_wacket("mail", "search", "pizza", "--since", "2026-11-01", "--jsonl")))
    assert len(rows) == 1 and Path(rows[0]["path"]).exists()
    raw = ok(run_wacket("mail", "show", str(rows[0]["id"]), "--raw")).stdout
    assert raw == Path(rows[0]["path"]).read_bytes()
    text = ok(run_wacket("mail", "show", str(rows[0]["id"]))).stdout
    assert b"Subject: Lunch" in text and b"pizza" in text
    plain = ok(run_wacket("mail", "search", "pizza", "--plain")).stdout.decode()
    assert plain.split("\t")[0] == str(rows[0]["id"])
    out = tmp_path / "inbox.mbox"
    ok(run_wacket("mail", "export", "t/INBOX", "--mbox", str(out)))
    import mailbox

    exported = [m["subject"] for m in mailbox.mbox(str(out))]
    assert sorted(exported) == ["Lunch", "Quarterly invoice"]
    stats = {r["folder"]: r for r in jsonl(ok(run_wacket("mail", "stats", "--jsonl")))}
    assert stats["INBOX"]["messages"] == 2 and stats["Work/Clients"]["messages"] == 1
    assert stats["INBOX"]["last_archived"]


def test_help_does_not_import_imapclient_or_keyring():
    code = (
        "import sys; from wacket.cli.main import cli; "
        "print(any(m.startswith(('imapclient', 'keyring', 'email.parser')) for m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert r.stdout.strip() == b"False"


def test_progress_bar_on_a_tty_only(box, run_wacket):
    import pty

    box.append("INBOX", [msg(i) for i in range(40)])
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "mail", "archive", "t", "--batch", "10", "--plain"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=secondary,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out = proc.communicate(timeout=60)[0]
    os.close(primary)
    assert proc.returncode == 0
    tty = b"".join(chunks)
    assert b"t/INBOX" in tty and b"100%" in tty
    assert b"t/INBOX" not in out.split(b"\n", 1)[0] or b"\t" in out  # records stay on stdout
    # Piped stderr: no bar.
    box.append("INBOX", [msg(i) for i in range(50, 60)])
    r = ok(run_wacket("mail", "archive", "t"))
    assert b"%" not in r.stderr


def test_plaintext_warning_and_lock(box, run_wacket):
    from wacket.lock import job_lock

    box.append("INBOX", [msg(1)])
    r = ok(run_wacket("mail", "archive", "t"))
    assert b"warning" in r.stderr and b"no TLS" in r.stderr
    assert b"warning" not in ok(run_wacket("-q", "mail", "archive", "t")).stderr
    with job_lock("mail-t"):
        r = run_wacket("mail", "archive", "t")
    assert r.returncode == 4 and b"another wacket run holds the lock" in r.stderr


def test_all_accounts_one_failing_is_partial(box, dovecot, run_wacket, isolated_env):
    box.append("INBOX", [msg(1), msg(2)])
    other = Box(dovecot, isolated_env, name="t2")
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.write_text(box.toml() + other.toml())  # t2 has no password in the keyring
    r = run_wacket("mail", "archive", "--all", "--jsonl")
    assert r.returncode == 2 and b"wacket mail login t2" in r.stderr
    assert {x["account"] for x in jsonl(r)} == {"t"}
    entry = jsonl(ok(run_wacket("log", "--command", "mail archive", "--jsonl")))[-1]
    assert entry["outcome"] == "partial" and "failed: t2" in entry["summary"]


def test_import_thunderbird_layout(run_wacket, tmp_path):
    profile = tmp_path / "Local Folders"
    (profile / "Inbox.sbd").mkdir(parents=True)
    mbox = b"".join(
        b"From - Mon Nov  2 10:00:00 2026\n" + msg(i).replace(b"\r\n", b"\n") + b"\n"
        for i in range(3)
    )
    (profile / "Inbox").write_bytes(mbox)
    (profile / "Inbox.msf").write_bytes(b"// mork index")
    (profile / "Inbox.sbd" / "Receipts").write_bytes(mbox.replace(b"Message ", b"Receipt "))
    (profile / "Trash").write_bytes(b"")
    (profile / "Trash.msf").write_bytes(b"")
    recs = jsonl(ok(run_wacket("mail", "import", str(profile), "--account", "tb", "--jsonl")))
    got = {r["folder"]: r["new"] for r in recs}
    assert got == {"Inbox": 3, "Inbox/Receipts": 3, "Trash": 0}
