"""The SM3 chain finds any edited, removed or reordered audit entry."""

from __future__ import annotations

import copy
import datetime as dt

from orgcarbon.security.audit_chain import GENESIS, chain, verify_chain


def _entries(n: int) -> list[dict]:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [
        {"id": i + 1, "occurred_at": base + dt.timedelta(seconds=i), "user_id": 1, "username": "admin",
         "ip": "127.0.0.1", "action": "update", "table_name": "mm_factor", "row_id": str(i),
         "before": {"value": i}, "after": {"value": i + 1}}
        for i in range(n)
    ]
    chain(GENESIS, rows)
    return rows


def test_intact_chain_verifies() -> None:
    report = verify_chain(_entries(10))
    assert report.ok and report.checked == 10 and report.last_hash != GENESIS


def test_edited_entry_is_found() -> None:
    rows = _entries(10)
    rows[4]["after"] = {"value": 999}
    report = verify_chain(rows)
    assert [p.entry_id for p in report.problems] == [5]
    assert "被修改" in report.problems[0].reason


def test_removed_entry_is_found_at_its_successor() -> None:
    rows = _entries(10)
    del rows[3]
    report = verify_chain(rows)
    assert [p.entry_id for p in report.problems] == [5]
    assert "删除" in report.problems[0].reason


def test_reordered_entries_are_found() -> None:
    rows = _entries(10)
    rows[2], rows[3] = rows[3], rows[2]
    assert not verify_chain(rows).ok


def test_naive_and_aware_times_hash_alike() -> None:
    rows = _entries(3)
    naive = copy.deepcopy(rows)
    for row in naive:
        row["occurred_at"] = row["occurred_at"].replace(tzinfo=None)
    assert verify_chain(naive).ok
