#!/usr/bin/env python3
"""Benchmark `wacket mail archive` beside mbsync (isync) and offlineimap on the same Dovecot.

Usage: python3 bench/mail/bench.py [--folders 20] [--per-folder 1000] [--dir /tmp/wkmail-bench]
                                   [--skip-offlineimap] [--keep]

One loopback Dovecot (tests/dovebed.py, imaps with a self-signed cert) holds FOLDERS x PER_FOLDER
generated messages of realistic sizes (mostly 2-20 KB text, 10% with 30-250 KB attachments, a few
1-3 MB). Every tool copies the whole account into its own empty local Maildir tree, over the same
TLS port, in the same run: full archive, then a no-new-mail re-run. Then search latency over the
archive (in-process median, and the whole `wacket mail search` process). Times are whole
processes, wall clock, page cache warm; each step runs once (big data).
Peers: `apt-get install -y isync offlineimap3 dovecot-imapd`.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import dovebed  # noqa: E402

WORDS = [
    "invoice",
    "meeting",
    "project",
    "report",
    "budget",
    "travel",
    "contract",
    "review",
    "schedule",
    "release",
    "server",
    "backup",
    "garden",
    "holiday",
    "family",
    "photo",
    "birthday",
    "dinner",
    "weekend",
    "update",
    "question",
    "answer",
    "offer",
    "delivery",
    "payment",
    "reminder",
    "account",
    "password",
    "change",
    "request",
    "approval",
    "draft",
    "final",
    "summary",
    "quarterly",
    "customer",
    "support",
    "ticket",
    "issue",
    "patch",
    "kernel",
    "driver",
    "printer",
    "network",
    "router",
    "mailbox",
    "archive",
    "zürich",
    "köln",
    "café",
    "naïve",
    "résumé",
    "über",
    "straße",
]
FOLDER_NAMES = [
    "INBOX", "Sent", "Drafts", "Archive", "Archive/2023", "Archive/2024", "Lists/dev",
    "Lists/announce", "Lists/users", "Work", "Work/Projects", "Work/Clients", "Family",
    "Receipts", "Travel", "Newsletters", "Entwürfe", "Notifications", "Old", "Misc",
]  # fmt: skip


def make_messages(folder_index: int, n: int, rnd: random.Random, paragraphs: list[bytes],
                  blob: bytes) -> list[bytes]:  # fmt: skip
    out = []
    for i in range(n):
        k = folder_index * 100000 + i
        r = rnd.random()
        words = " ".join(rnd.choice(WORDS) for _ in range(6))
        head = (
            f"From: Sender {k % 97} <sender{k % 97}@example.org>\r\n"
            f"To: Me <me@example.net>\r\n"
            f"Subject: {words} #{k}\r\n"
            f"Message-ID: <{k}.bench@example.org>\r\n"
            f"Date: Mon, {1 + k % 28:02d} Sep 2025 {k % 24:02d}:{k % 60:02d}:00 +0000\r\n"
            "MIME-Version: 1.0\r\n"
        ).encode()
        text = b"\r\n\r\n".join(rnd.choice(paragraphs) for _ in range(rnd.randint(2, 25)))
        text += f"\r\n\r\nreference token tok{k}\r\n".encode()
        if r < 0.10:
            size = rnd.randint(30_000, 250_000) if r > 0.005 else rnd.randint(1_000_000, 3_000_000)
            start = rnd.randint(0, len(blob) - size)
            att = base64.encodebytes(blob[start : start + size]).replace(b"\n", b"\r\n")
            body = (
                b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
                b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + b"\r\n--b1\r\n"
                b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
                b'Content-Disposition: attachment; filename="doc.pdf"\r\n\r\n' + att + b"--b1--\r\n"
            )
        else:
            body = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text
        out.append(head + body)
    return out


def seed(d: dovebed.Dovecot, user: str, folders: int, per_folder: int) -> tuple[int, int]:
    rnd = random.Random(7)
    paragraphs = [
        " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(20, 120))).encode()
        for _ in range(3000)
    ]
    blob = os.urandom(4 << 20)
    c = d.client(user)
    total = count = 0
    for fi, name in enumerate(FOLDER_NAMES[:folders]):
        if name != "INBOX":
            c.create_folder(name)
        msgs = make_messages(fi, per_folder, rnd, paragraphs, blob)
        for i in range(0, len(msgs), 500):
            c.multiappend(name, msgs[i : i + 500])
        total += sum(map(len, msgs))
        count += len(msgs)
    c.logout()
    return count, total


def timed(argv, env=None, cwd=None) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True)
    s = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{argv[0]} failed ({r.returncode}):\n{r.stderr.decode()[-3000:]}")
    return s


def count_files(root: Path) -> int:
    n = 0
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) in ("cur", "new"):
            n += len(files)
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folders", type=int, default=20)
    ap.add_argument("--per-folder", type=int, default=1000)
    ap.add_argument("--dir", default="/tmp/wkmail-bench")
    ap.add_argument("--skip-offlineimap", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    user, password = "bench", "bench-Pw-1"
    d = dovebed.Dovecot(users={user: password})
    d.start()
    results: dict[str, float] = {}
    try:
        t = time.perf_counter()
        n, size = seed(d, user, args.folders, args.per_folder)
        print(f"seeded {n} messages, {size / 2**20:.0f} MiB in {args.folders} folders "
              f"({time.perf_counter() - t:.1f} s)", flush=True)  # fmt: skip
        pwfile = base / "pw"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)

        # -- wacket --------------------------------------------------------------------------
        home = base / "wacket-home"
        (home / ".config/wacket").mkdir(parents=True)
        cfg = home / ".config/wacket/config.toml"
        cfg.write_text(d.toml("bench", user=user, tls="ssl", password_command=f"cat {pwfile}"))
        env = dict(os.environ, HOME=str(home), WACKET_CONFIG=str(cfg),
                   WACKET_DATA=str(home / "data"), XDG_DATA_HOME=str(home / ".local/share"),
                   PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")  # fmt: skip
        status = base / "wacket.status"
        wrapper = (
            "import atexit, sys\n"
            f"atexit.register(lambda: open({str(status)!r}, 'w').write("
            "open('/proc/self/status').read()))\n"
            "from wacket.cli.main import main\nmain(['-q', 'mail', 'archive', 'bench'])\n"
        )
        results["wacket full"] = timed([sys.executable, "-c", wrapper], env=env)
        hwm = next(int(x.split()[1]) for x in status.read_text().splitlines()
                   if x.startswith("VmHWM:"))  # fmt: skip
        results["wacket no-new-mail"] = timed(
            [sys.executable, "-m", "wacket", "-q", "mail", "archive", "bench"], env=env
        )
        wfiles = count_files(home / "data" / "mail")
        print(f"wacket: full {results['wacket full']:.2f} s, re-run "
              f"{results['wacket no-new-mail']:.3f} s, {wfiles} files, peak RSS {hwm / 1024:.0f} MiB",
              flush=True)  # fmt: skip
        assert wfiles == n, f"wacket archived {wfiles} of {n}"

        # -- mbsync --------------------------------------------------------------------------
        mb = base / "mbsync"
        (mb / "mail").mkdir(parents=True)
        mbrc = mb / "mbsyncrc"
        mbrc.write_text(f"""IMAPAccount bench
Host {d.address}
Port {d.ssl_port}
User {user}
PassCmd "cat {pwfile}"
SSLType IMAPS
CertificateFile {d.cert}

IMAPStore remote
Account bench

MaildirStore local
Path {mb}/mail/
Inbox {mb}/mail/INBOX
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
Expunge None
SyncState *
""")
        results["mbsync full"] = timed(["mbsync", "-c", str(mbrc), "-a"])
        results["mbsync no-new-mail"] = timed(["mbsync", "-c", str(mbrc), "-a"])
        mfiles = count_files(mb / "mail")
        print(f"mbsync: full {results['mbsync full']:.2f} s, re-run "
              f"{results['mbsync no-new-mail']:.3f} s, {mfiles} files", flush=True)  # fmt: skip

        # -- offlineimap ---------------------------------------------------------------------
        if not args.skip_offlineimap and shutil.which("offlineimap"):
            oi = base / "offlineimap"
            (oi / "mail").mkdir(parents=True)
            oirc = oi / "offlineimaprc"
            oirc.write_text(f"""[general]
accounts = bench
metadata = {oi}/meta
ui = quiet

[Account bench]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {oi}/mail
sep = /

[Repository remote]
type = IMAP
remotehost = {d.address}
remoteport = {d.ssl_port}
remoteuser = {user}
remotepassfile = {pwfile}
ssl = yes
sslcacertfile = {d.cert}
readonly = True
""")
            oenv = dict(os.environ, HOME=str(oi))
            argv = ["offlineimap", "-c", str(oirc), "-o", "-u", "quiet"]
            results["offlineimap full"] = timed(argv, env=oenv)
            results["offlineimap no-new-mail"] = timed(argv, env=oenv)
            ofiles = count_files(oi / "mail")
            print(f"offlineimap: full {results['offlineimap full']:.2f} s, re-run "
                  f"{results['offlineimap no-new-mail']:.3f} s, {ofiles} files", flush=True)  # fmt: skip

        # -- search ----------------------------------------------------------------------------
        os.environ.update(WACKET_DATA=str(home / "data"))
        from wacket.mail import search
        from wacket.mail.store import Store

        st = Store()
        rnd = random.Random(3)
        queries = []
        for _ in range(30):
            queries.append(dict(words=[rnd.choice(WORDS)]))
            queries.append(dict(words=[rnd.choice(WORDS), rnd.choice(WORDS)]))
            queries.append(dict(words=[f"tok{rnd.randrange(args.folders) * 100000 + 5}"]))
            queries.append(dict(words=[], sender=f"sender{rnd.randrange(97)}"))
            queries.append(dict(words=[rnd.choice(WORDS)], folder="Work"))
        lat = []
        hits = 0
        for q in queries:
            t = time.perf_counter()
            rows = search.search(st, q.pop("words"), limit=100, **q)
            lat.append(time.perf_counter() - t)
            hits += len(rows)
        results["search median (in-process)"] = statistics.median(lat)
        results["search p95 (in-process)"] = sorted(lat)[int(len(lat) * 0.95)]
        proc = []
        for w in WORDS[:9]:
            proc.append(timed([sys.executable, "-m", "wacket", "mail", "search", w, "--plain"],
                              env=env))  # fmt: skip
        results["search median (whole process)"] = statistics.median(proc)
        st.close()
    finally:
        d.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    print()
    print(f"{'step':34} {'seconds':>9}")
    for k, v in results.items():
        print(f"{k:34} {v:9.3f}")
    print()
    thr = {t: n / results[f"{t} full"] for t in ("wacket", "mbsync", "offlineimap")
           if f"{t} full" in results}  # fmt: skip
    for t, v in thr.items():
        print(
            f"{t:12} full archive {v:8.0f} msg/s  {size / 2**20 / results[f'{t} full']:6.1f} MiB/s"
        )
    print(f"wacket/mbsync throughput ratio: {thr['wacket'] / thr['mbsync']:.2f} (target >= 0.8)")
    if "offlineimap" in thr:
        print(f"wacket/offlineimap throughput ratio: {thr['wacket'] / thr['offlineimap']:.1f}"
              " (target > 1)")  # fmt: skip
    print(f"no-new-mail re-run: wacket {results['wacket no-new-mail']:.3f} s (target < 1 s), "
          f"mbsync {results['mbsync no-new-mail']:.3f} s"
          + (f", offlineimap {results['offlineimap no-new-mail']:.3f} s"
             if "offlineimap no-new-mail" in results else ""))  # fmt: skip
    print(f"search median {results['search median (in-process)'] * 1000:.1f} ms in-process "
          f"(target < 50 ms), {results['search median (whole process)'] * 1000:.0f} ms whole "
          f"process; {hits} hits over {len(lat)} queries; peak RSS of the full archive {hwm / 1024:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
