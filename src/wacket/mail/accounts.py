"""Mail accounts from the config (`[mail.NAME]`) and their secrets (OS keyring or password_command).

The password never goes into the config, argv, logs, the journal or output: it lives in the keyring
(service "wacket-mail", user "ACCOUNT") or comes from the stdout of `password_command`.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import socket
import subprocess
from dataclasses import dataclass, field

from wacket.errors import ConfigError, WacketError

SERVICE = "wacket-mail"
TLS_MODES = ("ssl", "starttls", "none")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class Account:
    name: str
    host: str
    user: str
    port: int
    tls: str = "ssl"
    folders: list[str] = field(default_factory=lambda: ["*"])
    exclude: list[str] = field(default_factory=list)
    password_command: str | None = None
    ca_file: str | None = None
    timeout: float = 30.0

    def wants(self, folder: str) -> bool:
        """Does this folder match `folders` and none of `exclude` (case-sensitive globs)?"""
        if not any(_match(folder, p) for p in self.folders):
            return False
        return not any(_match(folder, p) for p in self.exclude)


def _match(folder: str, pattern: str) -> bool:
    # INBOX is case-insensitive in IMAP.
    if pattern.upper() == "INBOX" and folder.upper() == "INBOX":
        return True
    return fnmatch.fnmatchcase(folder, pattern) or fnmatch.fnmatchcase(folder, pattern + "/*")


def load(config) -> dict[str, Account]:
    section = config.section("mail")
    accounts = {}
    for name, raw in section.items():
        if not isinstance(raw, dict):
            raise config.error(f"[mail.{name}] must be a table", "mail", name)
        if not NAME_RE.match(name):
            raise config.error(f"mail account name {name!r}: use letters, digits, . _ -", "mail")
        accounts[name] = _account(config, name, raw)
    return accounts


def _account(config, name: str, raw: dict) -> Account:
    def err(problem: str, key: str | None = None) -> ConfigError:
        return config.error(f"[mail.{name}] {problem}", *(["mail", name] if key is None else [key]))

    known = {"host", "port", "user", "tls", "folders", "exclude", "password_command", "ca_file",
             "timeout"}  # fmt: skip
    for key in raw:
        if key in ("password", "pass", "secret"):
            raise err(
                f"`{key}` is not allowed: keep the password in the keyring "
                f"(`wacket mail login {name}`) or use password_command",
                key,
            )
        if key not in known:
            raise err(f"unknown key `{key}`", key)
    for key in ("host", "user"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise err(f"`{key}` is required (a string)")
    tls = raw.get("tls", "ssl")
    if tls not in TLS_MODES:
        raise err("`tls` must be ssl, starttls or none", "tls")
    port = raw.get("port", 993 if tls == "ssl" else 143)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise err("`port` must be a number 1-65535", "port")
    lists = {}
    for key, default in (("folders", ["*"]), ("exclude", [])):
        value = raw.get(key, default)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise err(f"`{key}` must be a list of folder patterns", key)
        lists[key] = value
    cmd = raw.get("password_command")
    if cmd is not None and (not isinstance(cmd, str) or not cmd.strip()):
        raise err("`password_command` must be a command line", "password_command")
    ca = raw.get("ca_file")
    if ca is not None and not isinstance(ca, str):
        raise err("`ca_file` must be a path", "ca_file")
    acct = Account(
        name=name,
        host=raw["host"],
        user=raw["user"],
        port=port,
        tls=tls,
        folders=lists["folders"],
        exclude=lists["exclude"],
        password_command=cmd,
        ca_file=os.path.expanduser(ca) if ca else None,
        timeout=float(raw.get("timeout", 30.0)),
    )
    if tls == "none" and not is_loopback(acct.host):
        raise err(
            'tls = "none" is only allowed for a loopback server (127.0.0.0/8, ::1): '
            "the password would cross the network in clear",
            "tls",
        )
    return acct


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


def split_folder(spec: str) -> tuple[str, str]:
    """ACCOUNT/FOLDER as (account, folder); the folder may hold more slashes."""
    if "/" not in spec:
        raise ConfigError(f"{spec!r}: expected ACCOUNT/FOLDER")
    account, folder = spec.split("/", 1)
    return account, folder


def select(accounts: dict[str, Account], names: list[str], all_: bool) -> list[Account]:
    if all_ or not names:
        if not accounts:
            raise ConfigError("no mail accounts configured: add a [mail.NAME] table to the config")
        if not all_ and len(accounts) > 1:
            raise ConfigError(
                "several mail accounts: name one (" + ", ".join(accounts) + ") or use --all"
            )
        return list(accounts.values())
    out = []
    for n in names:
        if n not in accounts:
            known = ", ".join(accounts) or "none configured"
            raise ConfigError(f"unknown mail account {n!r} (known: {known})")
        out.append(accounts[n])
    return out


# -- secrets ------------------------------------------------------------------------------------


def need_terminal(account: str) -> None:
    """A hidden prompt needs a terminal (getpass reads /dev/tty); without one, say what works."""
    import os

    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        raise ConfigError(
            f"no terminal to ask for {account}'s password: pipe it with --password-stdin, "
            f"or set password_command in [mail.{account}]"
        ) from None


def _keyring():
    import keyring
    from keyring.backends import fail

    kr = keyring.get_keyring()
    chained = getattr(kr, "backends", None)
    if isinstance(kr, fail.Keyring) or (chained is not None and not chained):
        # Never advise a backend that keeps the password in a plaintext file (PlaintextKeyring).
        raise WacketError(
            "no keyring backend on this machine (headless?): use a system keyring (a Secret "
            "Service such as GNOME Keyring or KWallet, the macOS Keychain, Windows Credential "
            "Manager), an encrypted file (keyrings.cryptfile, or keyrings.alt's EncryptedKeyring "
            "via PYTHON_KEYRING_BACKEND=keyrings.alt.file.EncryptedKeyring), or set "
            '`password_command = "pass show mail/ACCOUNT"` in the account\'s config table',
            code=2,
        )
    return keyring


def store_password(account: Account, password: str) -> None:
    kr = _keyring()
    try:
        kr.set_password(SERVICE, account.name, password)
    except Exception as exc:
        raise WacketError(f"keyring: cannot store the password: {type(exc).__name__}") from None


def forget_password(account: Account) -> bool:
    kr = _keyring()
    try:
        kr.delete_password(SERVICE, account.name)
        return True
    except Exception:
        return False


def password(account: Account) -> str:
    if account.password_command:
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", account.password_command],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            raise WacketError(f"mail {account.name}: password_command timed out", 2) from None
        if proc.returncode != 0:
            raise WacketError(
                f"mail {account.name}: password_command failed (exit {proc.returncode})", 2
            )
        lines = proc.stdout.decode("utf-8", "replace").splitlines()
        if not lines or not lines[0]:
            raise WacketError(f"mail {account.name}: password_command printed nothing", 2)
        return lines[0]
    kr = _keyring()
    try:
        secret = kr.get_password(SERVICE, account.name)
    except Exception as exc:
        raise WacketError(f"keyring: cannot read the password: {type(exc).__name__}", 2) from None
    if secret is None:
        raise WacketError(
            f"mail {account.name}: no password stored: run `wacket mail login {account.name}` "
            "(or set password_command)",
            2,
        )
    return secret
