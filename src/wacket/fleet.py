"""The fleet: the local machine, hosts from the config file and aliases from ~/.ssh/config.

A host set on the command line is a comma list of names, ranges (`pi[1-4]`), `@tag` groups and `all`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from wacket import paths
from wacket.config import Config
from wacket.errors import ConfigError
from wacket.sshconfig import SSHConfig

LOCAL = "local"
_HOST_KEYS = {"address", "user", "port", "identity", "tags", "accept_new", "proxy_jump", "python"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class Host:
    name: str
    address: str = ""
    user: str = ""
    port: int = 22
    identity: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    source: str = "config"  # config | ssh_config | local
    accept_new: bool = False
    proxy_jump: str = ""
    ssh_config: Path | None = None
    python: str = "python3"  # the interpreter that runs wacket's helper there

    @property
    def is_local(self) -> bool:
        return self.source == "local"

    def record(self) -> dict[str, object]:
        return {
            "name": self.name,
            "address": self.address,
            "user": self.user,
            "port": self.port,
            "tags": ",".join(self.tags),
            "source": self.source,
        }


def _local_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


class Fleet:
    def __init__(self, hosts: dict[str, Host]):
        self.hosts = hosts

    @classmethod
    def load(cls, config: Config, ssh_config: SSHConfig | None = None) -> Fleet:
        ssh = ssh_config if ssh_config is not None else SSHConfig.load()
        hosts: dict[str, Host] = {
            LOCAL: Host(LOCAL, paths.hostname(), _local_user(), 0, tags=["local"], source="local")
        }
        section = config.section("hosts")
        for name, entry in section.items():
            if name == LOCAL:
                raise config.error("'local' is the built-in name of this machine", "hosts", name)
            if not _NAME_RE.match(name):
                raise config.error(f"host name {name!r} may hold only letters, digits, . _ -")
            if not isinstance(entry, dict):
                raise config.error(f"[hosts.{name}] must be a table", "hosts", name)
            unknown = set(entry) - _HOST_KEYS
            if unknown:
                raise config.error(
                    f"[hosts.{name}]: unknown key {sorted(unknown)[0]!r}"
                    f" (known: {', '.join(sorted(_HOST_KEYS))})",
                    "hosts",
                    name,
                )
            hosts[name] = _host_from_entry(config, name, entry, ssh)
        for alias in ssh.aliases():
            if alias not in hosts and _NAME_RE.match(alias):
                hosts[alias] = _merge_ssh(Host(alias, alias, port=0, source="ssh_config"), ssh, {})
        return cls(hosts)

    @property
    def names(self) -> list[str]:
        return list(self.hosts)

    def get(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise ConfigError(
                f"unknown host {name!r}; known hosts: {', '.join(self.names)}"
            ) from None

    def select(self, spec: str | None) -> list[Host]:
        """Resolve a host set such as `nas,pi[1-4],@server` (order kept, duplicates dropped)."""
        chosen: dict[str, Host] = {}
        for item in hostset_items(spec):
            if item == "all":
                for host in self.hosts.values():
                    chosen.setdefault(host.name, host)
            elif item.startswith("@"):
                tag = item[1:]
                members = [h for h in self.hosts.values() if tag in h.tags]
                if not members:
                    tags = sorted({t for h in self.hosts.values() for t in h.tags})
                    raise ConfigError(f"no host has tag {tag!r}; tags: {', '.join(tags) or 'none'}")
                for host in members:
                    chosen.setdefault(host.name, host)
            else:
                for name in expand_ranges(item):
                    chosen.setdefault(name, self.get(name))
        return list(chosen.values())


def hostset_items(spec: str | None) -> list[str]:
    """The comma-separated items of a host set. One that names nothing (empty, blanks, commas) is
    a usage error, never "every host": a script whose variable came out empty must not reach
    the whole fleet, so every host is only ever the word `all`."""
    items = [item.strip() for item in _split_top(spec or "")]
    items = [item for item in items if item]
    if not items:
        raise ConfigError(f"empty host set {spec or ''!r}: name hosts (nas,pi[1-4]), @tags, or all")
    return items


def _split_top(spec: str) -> list[str]:
    """Split on commas that are not inside [...] ranges."""
    parts, depth, cur = [], 0, ""
    for ch in spec:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def expand_ranges(item: str) -> list[str]:
    """`pi[1-3,7]` -> pi1 pi2 pi3 pi7; `n[01-03]` keeps the zero padding."""
    m = re.search(r"\[([^\]]*)\]", item)
    if not m:
        return [item]
    prefix, suffix = item[: m.start()], item[m.end() :]
    out: list[str] = []
    for part in m.group(1).split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ConfigError(f"bad range {item!r}: use name[1-4] or name[1,3,5]")
        if not sep:
            numbers = [lo]
        else:
            if int(hi) < int(lo):
                raise ConfigError(f"bad range {item!r}: {lo} > {hi}")
            width = len(lo) if lo.startswith("0") else 0
            numbers = [str(n).zfill(width) for n in range(int(lo), int(hi) + 1)]
        for n in numbers:
            out.extend(expand_ranges(prefix + n + suffix))
    return out


def _host_from_entry(config: Config, name: str, entry: dict, ssh: SSHConfig) -> Host:
    def typed(key, kind, default):
        value = entry.get(key, default)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise config.error(
                f"[hosts.{name}] {key} must be {kind.__name__}, not {type(value).__name__}",
                "hosts",
                name,
            )
        return value

    address = typed("address", str, name)
    port = typed("port", int, 0)
    if port < 0 or port > 65535:
        raise config.error(f"[hosts.{name}] port {port} out of range", "hosts", name)
    identity = entry.get("identity", [])
    identity = [identity] if isinstance(identity, str) else typed("identity", list, [])
    tags = typed("tags", list, [])
    if not all(isinstance(t, str) for t in tags) or not all(isinstance(i, str) for i in identity):
        raise config.error(f"[hosts.{name}] tags and identity must be strings", "hosts", name)
    host = Host(
        name,
        address,
        typed("user", str, ""),
        port,
        [os.path.expanduser(i) for i in identity],
        tags,
        "config",
        typed("accept_new", bool, False),
        typed("proxy_jump", str, ""),
        python=typed("python", str, "python3"),
    )
    return _merge_ssh(host, ssh, entry)


def _merge_ssh(host: Host, ssh: SSHConfig, entry: dict) -> Host:
    """Fill what the fleet entry leaves unset from ~/.ssh/config, as `ssh ADDRESS` would."""
    opts = ssh.lookup(host.address)
    if "hostname" in opts:
        host.address = str(opts["hostname"]).replace("%h", host.address)
    if not host.user:
        host.user = str(opts.get("user", "")) or _local_user()
    if not host.port:
        try:
            host.port = int(opts.get("port", 22))
        except ValueError:
            host.port = 22
    if not host.identity and "identityfile" in opts:
        host.identity = [os.path.expanduser(p) for p in opts["identityfile"]]  # type: ignore[union-attr]
    if not host.proxy_jump and str(opts.get("proxyjump", "none")).lower() != "none":
        host.proxy_jump = str(opts["proxyjump"])
    host.ssh_config = ssh.path
    return host
