"""The staging writer: names resolved within the subtree, months in China time, once per record key."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import select

from orgcarbon.collection.staging import stage_batch
from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import StagingRow
from orgcarbon.security.models import AuditEntry
from tests.integration.collection.conftest import count, org_id


def _row(key: str, **values: object) -> dict[str, object]:
    return {"record_key": key, "organization": "西区", "sub_process": "加热炉", "material": "天然气",
            "quantity": 12.0, "unit": "万Nm3", "time": "2025-04-30T23:30:00+08:00", **values}


def test_rows_resolve_and_reasons_are_chinese(app: Flask) -> None:
    """Known names become ids; unknown or out-of-subtree names and bad numbers are rejected with reasons."""
    with app.app_context():
        result = stage_batch(db.session, [
            _row("a"),
            _row("b", organization="东区"),          # 加热炉 belongs to 西区
            _row("c", material="不存在的物料"),
            _row("d", quantity="十二"),
            _row("e", unit="桶"),
            _row("f", time="昨天"),
            _row("g", organization="东区", sub_process="1#高炉"),  # outside the allowed subtree
        ], source="files", batch_id="b1", organization_id=org_id("西区"))
        db.session.commit()
        assert (result.received, result.staged, result.duplicates) == (7, 1, 0)
        assert {r.record_key: r.reason for r in result.rejected} == {
            "b": "组织“东区”不在数据范围内",
            "c": "未知物料“不存在的物料”",
            "d": "数量“十二”不是有效数字",
            "e": "未知单位“桶”",
            "f": "时间“昨天”无法识别（应为 ISO 8601，如 2025-03-01T08:00:00+08:00）",
            "g": "组织“东区”不在数据范围内",
        }
        row = db.session.scalar(select(StagingRow))
        # 23:30 on 30 April in Beijing is April, although it is 15:30 UTC.
        assert (row.month, row.unit, row.organization_id) == ("2025-04", "10^4Nm3", org_id("西区"))


def test_same_key_is_not_staged_twice_and_a_moved_on_row_is_not_overwritten(app: Flask) -> None:
    """Re-sent records are duplicates; a change updates a new row, and is refused once the row is cleaned."""
    with app.app_context():
        west = org_id("西区")
        first = stage_batch(db.session, [_row("k1"), _row("k2")], source="files", batch_id="b1", organization_id=west)
        again = stage_batch(db.session, [_row("k1"), _row("k2"), _row("k2")], source="files", batch_id="b2",
                            organization_id=west)
        assert (first.staged, again.staged, again.duplicates) == (2, 0, 3)
        # The same key from another source is another record.
        other = stage_batch(db.session, [_row("k1")], source="odata", batch_id="b3", organization_id=west)
        assert other.staged == 1
        db.session.scalar(select(StagingRow).where(StagingRow.record_key == "k2")).status = "cleaned"
        db.session.flush()
        changed = stage_batch(db.session, [_row("k1", quantity=13.0), _row("k2", quantity=14.0)],
                              source="files", batch_id="b4", organization_id=west)
        assert (changed.staged, changed.updated, len(changed.rejected)) == (0, 1, 1)
        assert "状态 cleaned" in changed.rejected[0].reason
        db.session.commit()
        values = {(r.source, r.record_key): r.quantity for r in db.session.scalars(select(StagingRow))}
        assert values == {("files", "k1"): 13.0, ("files", "k2"): 12.0, ("odata", "k1"): 12.0}
        batches = db.session.scalars(select(AuditEntry.row_id).where(
            AuditEntry.table_name == "st_row", AuditEntry.row_id.startswith("batch:"))).all()
        assert batches == ["batch:b1", "batch:b3", "batch:b4"]  # b2 changed nothing: no audit entry


def test_a_mapped_frame_is_staged_with_its_derived_fields(app: Flask) -> None:
    """A connector's MappedBatch frame (tags tuples, Timestamps, derived columns) stages as is."""
    frame = pd.DataFrame({
        "record_key": ["x1"], "organization": ["东区"], "sub_process": ["1#高炉"], "material": ["焦炭"],
        "quantity": [1.25], "unit": ["t"], "time": [pd.Timestamp("2025-01-31T20:00:00Z")],
        "tags": [("SAP", "原料")], "source": ["odata"], "connector_id": ["c9"], "batch_id": ["b"],
        "received_at": [pd.Timestamp("2025-02-01T00:00:00Z")], "reference": ["http://sap/A_Product('x1')"],
        "energy_GJ": [35.5],
    })
    with app.app_context():
        result = stage_batch(db.session, frame, source="odata", batch_id="b")
        db.session.commit()
        row = db.session.scalar(select(StagingRow))
        assert result.staged == 1
        assert (row.month, row.tags, row.raw, row.reference) == (
            "2025-02", "SAP,原料", {"energy_GJ": 35.5}, "http://sap/A_Product('x1')")
        assert row.received_at.replace(tzinfo=None) == dt.datetime(2025, 2, 1)


def test_a_user_writes_only_in_their_scope(app: Flask) -> None:
    """With a user (and no connector or client) the user's writable subtree applies: filler is 西区."""
    with app.app_context():
        filler = app.appbuilder.sm.find_user(username="filler")
        result = stage_batch(db.session, [_row("u1"), _row("u2", organization="东区", sub_process="1#高炉",
                                                               material="焦炭", unit="t")],
                             source="excel", batch_id="bu", user=filler)
        assert [r.reason for r in result.rejected] == ["组织“东区”不在数据范围内"]
        assert count(StagingRow) == 1 and db.session.scalar(select(StagingRow.user_id)) == filler.id


@pytest.mark.slow
def test_staging_is_fast(app: Flask) -> None:
    """20,000 rows in batches of 1,000: no per-row round trips, no lookups that grow with the table.

    The floor is low on purpose (CI machines are shared); benchmarks/ingest.py has the real figures.
    """
    import time

    rows = [_row(f"p{i}", time=f"2025-04-{1 + i % 28:02d}T08:00:00+08:00", quantity=float(i)) for i in range(20_000)]
    with app.app_context():
        west = org_id("西区")
        started = time.perf_counter()
        for start in range(0, len(rows), 1000):
            stage_batch(db.session, rows[start:start + 1000], source="files", batch_id=f"p{start}",
                        organization_id=west)
        db.session.commit()
        elapsed = time.perf_counter() - started
        assert count(StagingRow) == 20_000
    assert 20_000 / elapsed > 1_500, f"{20_000 / elapsed:.0f} rows/s"
