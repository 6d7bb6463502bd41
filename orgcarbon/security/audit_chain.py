"""The tamper-evident chain of the audit trail (spec 8.2.2.2, GB/T 22239 level 2).

Each audit entry stores ``entry_hash = SM3(prev_hash ‖ canonical JSON of the entry)`` and the hash
of the entry before it. Editing an entry breaks its own hash; removing or reordering entries breaks
the link of the next one. ``verify_chain`` walks the entries in id order and names the first entry
where either check fails. Pure: takes plain mappings, returns a dataclass.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orgcarbon.security.crypto import sm3_hex

GENESIS = "0" * 64
# The columns that the hash covers, in this order; ``id`` is not among them (ids are assigned by the
# database after the hash is computed), the order of entries is checked through the links instead.
HASHED_FIELDS = ("occurred_at", "user_id", "username", "ip", "action", "table_name", "row_id", "before", "after")


def _canonical_time(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # SQLite hands back naive datetimes for what was stored as UTC; normalise both ways.
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return value


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The bytes of an entry that its hash covers (sorted keys, no whitespace, UTF-8)."""
    doc = {name: _canonical_time(entry.get(name)) for name in HASHED_FIELDS}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """SM3 over the previous hash and the entry's canonical bytes, as 64 hex digits."""
    return sm3_hex(prev_hash.encode("ascii") + canonical(entry))


def chain(prev_hash: str, entries: Iterable[dict[str, Any]]) -> str:
    """Fill ``prev_hash`` and ``entry_hash`` of new entries in order; returns the last hash."""
    for entry in entries:
        entry["prev_hash"] = prev_hash
        entry["entry_hash"] = prev_hash = entry_hash(prev_hash, entry)
    return prev_hash


@dataclass(frozen=True)
class ChainProblem:
    """One break in the chain: which entry, and why (Chinese)."""

    entry_id: Any
    reason: str


@dataclass
class ChainReport:
    """The result of walking the whole chain."""

    checked: int = 0
    last_hash: str = GENESIS
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(entries: Iterable[Mapping[str, Any]], *, stop_after: int = 20) -> ChainReport:
    """Check every entry (in id order): its link to the previous one and its own hash."""
    report = ChainReport()
    expected_prev = GENESIS
    for entry in entries:
        report.checked += 1
        if entry.get("prev_hash") != expected_prev:
            report.problems.append(ChainProblem(
                entry.get("id"), "与前一条记录的链接不符：其前面的记录被删除、插入或调换了顺序"))
        if entry.get("entry_hash") != entry_hash(str(entry.get("prev_hash")), entry):
            report.problems.append(ChainProblem(entry.get("id"), "记录内容与其哈希不符：该记录被修改过"))
        expected_prev = str(entry.get("entry_hash"))
        if len(report.problems) >= stop_after:
            break
    report.last_hash = expected_prev
    return report
