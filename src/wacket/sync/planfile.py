"""Plan files (`--plan FILE`, read back by `--apply FILE`): their two shapes, reading and writing.

A two-way plan is the decided ops (`Plan`); a one-way plan is the dry run's records, the job's
options and both sides' fingerprints (a dict marked `"mode": "one-way"`). A plan file is the
user's: it may hold anything, so reading checks its shape. Nothing else of sync/ is imported here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from wacket.errors import ConfigError
from wacket.fsutil import write_output

ONE_WAY = "one-way"


PLAN_VERSION = 1


@dataclass
class Plan:
    a: dict
    b: dict
    stamp: str
    ops: list[dict] = field(default_factory=list)
    same: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    refresh: list[str] = field(default_factory=list)  # same content, new inode or ctime
    hashes: dict[str, str] = field(default_factory=dict)  # content of `same` and `refresh` paths
    hashed: int = 0  # files read to compare contents
    first_run: bool = False
    state_digest: str = ""
    errors: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    version: int = PLAN_VERSION

    def deletes(self, side: str) -> int:
        return sum(1 for op in self.ops if op["op"] == "delete" and op["on"] == side)


def write(plan: Plan, path: str) -> None:
    """A two-way plan, as --plan writes it (0600: it lists the user's file names)."""
    data = json.dumps(asdict(plan), ensure_ascii=True, indent=1).encode() + b"\n"
    write_output(os.path.abspath(os.path.expanduser(path)), data, 0o600)


# What each kind of op must hold (a plan file is the user's: it may be anything)
_OP_KEYS = {
    "copy": {"path": str, "from": str, "sig": list, "action": str},
    "delete": {"path": str, "on": str, "sig": list},
    "rename": {"path": str, "to": str, "on": str, "sig": list},
    "conflict": {"path": str, "winner": str, "policy": str},
}


_SIDES = ("a", "b")


def read(path: str) -> Plan:
    """A two-way plan file, checked for the shape write() gives it (ConfigError if it has not)."""
    try:
        with open(os.path.expanduser(path), "rb") as fh:
            data = json.loads(fh.read())
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"plan version {data.get('version')!r}, expected {PLAN_VERSION}")
        plan = Plan(**data)
        _check(plan)
        return plan
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a wacket sync plan ({exc})") from None


def _check(plan: Plan) -> None:
    """The plan's fields and ops have the shape --plan writes (ValueError says what is not)."""
    for name, kind in (("a", dict), ("b", dict), ("stamp", str), ("ops", list), ("same", list),
                       ("drop", list), ("state_digest", str), ("errors", dict),
                       ("options", dict)):  # fmt: skip
        if not isinstance(getattr(plan, name), kind):
            raise ValueError(f"{name} is not a {kind.__name__}")
    for n, op in enumerate(plan.ops, 1):
        keys = _OP_KEYS.get(op.get("op")) if isinstance(op, dict) else None
        if keys is None or any(not isinstance(op.get(k), t) for k, t in keys.items()):
            raise ValueError(f"op {n} is not a copy, delete, rename or conflict")
        if any(op.get(k, "a") not in _SIDES for k in ("from", "on", "winner")):
            raise ValueError(f"op {n} names a side other than a or b")
        if op["op"] == "conflict" and not isinstance(op.get("sig_" + op["winner"]), list):
            raise ValueError(f"op {n} has no signature of its winner")


def kind_of(sig) -> str:
    return {"f": "file", "d": "dir", "l": "symlink"}.get(sig[0], "other")


def size_of(sig):
    return sig[1] if sig[0] == "f" else None


def records(plan: Plan) -> list[dict]:
    """What the plan does, one record per path (the same records a run emits)."""
    out = []
    for op in plan.ops:
        kind = op["op"]
        if kind == "copy":
            if op.get("conflict"):
                continue  # shown as the conflict record
            sig = op["sig"]
            arrow = "a->b" if op["from"] == "a" else "b->a"
            out.append({"action": op["action"], "kind": kind_of(sig), "size": size_of(sig),
                        "path": op["path"], "side": arrow})  # fmt: skip
        elif kind == "delete":
            out.append({"action": "delete", "kind": kind_of(op["sig"]), "size": size_of(op["sig"]),
                        "path": op["path"], "side": op["on"]})  # fmt: skip
        elif kind == "conflict":
            rec = {"action": "conflict", "kind": kind_of(op["sig_" + op["winner"]]), "size": None,
                   "path": op["path"], "side": op["winner"], "policy": op["policy"]}  # fmt: skip
            if op.get("kept_as"):
                rec["kept_as"] = op["kept_as"]
            out.append(rec)
    for side in ("a", "b"):
        for rel, message in plan.errors.get(side, []):
            out.append({"action": "error", "kind": None, "size": None, "path": rel, "side": side,
                        "message": message})  # fmt: skip
    return out


def is_oneway(path: str) -> bool:
    try:
        with open(os.path.expanduser(path), "rb") as fh:
            return json.loads(fh.read()).get("mode") == ONE_WAY
    except (OSError, ValueError, AttributeError):
        return False


def read_oneway(path: str) -> dict:
    """The JSON of a one-way plan (OSError or ValueError if it cannot be read)."""
    with open(os.path.expanduser(path), "rb") as fh:
        return json.loads(fh.read())


def write_oneway(path: str, data: dict) -> None:
    write_output(os.path.abspath(os.path.expanduser(path)),
                 json.dumps(data, ensure_ascii=True, indent=1).encode() + b"\n")  # fmt: skip
