"""The lean staging table (migration 0010): look-up, COPY of sparse columns, checks that replace the
foreign keys, the API body kept once per batch, long idempotency keys, attributes kept with the row."""

from __future__ import annotations

import json
import zlib

import pytest
from flask import Flask
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from orgcarbon.collection.staging import stage_batch
from orgcarbon.collection.staging_sql import existing_rows
from orgcarbon.metamodel.models import Material
from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import StagingBatch, StagingRow
from tests.integration.collection.conftest import ApiCaller, org_id, readings

READINGS = "/api/v1/ingest/readings"


def _row(key: str, **values: object) -> dict[str, object]:
    return {"record_key": key, "organization": "西区", "sub_process": "加热炉", "material": "天然气",
            "quantity": 12.0, "unit": "万Nm3", "time": "2025-04-30T23:30:00+08:00", **values}


def test_lookup_finds_staged_keys_also_with_the_separator_in_a_key(app: Flask) -> None:
    """The duplicate look-up returns exactly the staged keys of the source (joined-text and array paths)."""
    odd = "k\x1fwith-separator"
    with app.app_context():
        west = org_id("西区")
        stage_batch(db.session, [_row("k1"), _row("k2", quantity=3.5), _row(odd)], source="files",
                    batch_id="b1", organization_id=west)
        stage_batch(db.session, [_row("k1")], source="odata", batch_id="b2", organization_id=west)
        found = existing_rows(db.session, "files", ["k2", "missing", "k1"], ("quantity", "month"))
        assert {k: (v["quantity"], v["month"], v["status"]) for k, v in found.items()} == {
            "k1": (12.0, "2025-04", "new"), "k2": (3.5, "2025-04", "new")}
        with_odd = existing_rows(db.session, "files", ["k1", odd], ("quantity",))
        assert sorted(with_odd) == sorted(["k1", odd])
        assert existing_rows(db.session, "files", [], ("quantity",)) == {}
        again = stage_batch(db.session, [_row(odd), _row("k1")], source="files", batch_id="b3",
                            organization_id=west)
        assert (again.staged, again.duplicates) == (0, 2)


def test_sparse_columns_are_null_and_filled_ones_kept(app: Flask) -> None:
    """Columns empty in every row are left out of the bulk insert; a column one row fills is written."""
    with app.app_context():
        west = org_id("西区")
        result = stage_batch(db.session, [
            _row("s1"),
            _row("s2", category="燃料燃烧", ef=56.1, tags=["A", "B", "A"], reference="file.csv#2"),
            _row("s3", tags=["A", "B", "A"]),
        ], source="files", batch_id="bs", organization_id=west)
        db.session.commit()
        assert result.staged == 3
        rows = {r.record_key: r for r in db.session.scalars(select(StagingRow))}
        assert (rows["s1"].category, rows["s1"].ef, rows["s1"].tags, rows["s1"].reference) == (None, None, None, None)
        assert (rows["s2"].category, rows["s2"].ef, rows["s2"].tags, rows["s2"].reference) == (
            "燃料燃烧", 56.1, "A,B", "file.csv#2")
        assert rows["s3"].tags == "A,B" and rows["s3"].raw is None
        assert [r.row for r in sorted(rows.values(), key=lambda r: r.record_key)] == [1, 2, 3]


def test_unknown_connector_or_client_ids_are_refused(app: Flask) -> None:
    """Without foreign keys the writer itself refuses a connector or API client id that names nothing."""
    with app.app_context():
        with pytest.raises(ValueError, match="cn_connector.id=987654"):
            stage_batch(db.session, [_row("x")], source="odata", batch_id="b", connector_id=987654)
        with pytest.raises(ValueError, match="cn_api_client.id=987655"):
            stage_batch(db.session, [_row("x")], source="api", batch_id="b", api_client_id=987655,
                        organization_id=org_id("西区"))
        db.session.rollback()
        assert db.session.scalar(select(StagingRow.id)) is None


def test_deleting_a_referenced_parent_is_refused_on_postgresql(app: Flask, database_url: str) -> None:
    """The trigger that replaces the foreign key: a material staged rows name cannot be deleted."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite never enforced st_row's foreign keys (no PRAGMA foreign_keys)")
    with app.app_context():
        stage_batch(db.session, [_row("d1")], source="files", batch_id="bd", organization_id=org_id("西区"))
        db.session.commit()
        gas = db.session.scalar(select(Material.id).where(Material.name == "天然气"))
        with pytest.raises(IntegrityError, match="暂存数据"):
            db.session.execute(delete(Material.__table__).where(Material.__table__.c.id == gas))
        db.session.rollback()
        # A material no staged row names can still be deleted.
        table = Material.__table__
        spare = db.session.execute(insert(table).values(
            name="测试删除物料", category="other", unit="t").returning(table.c.id)).scalar_one()
        db.session.execute(delete(table).where(table.c.id == spare))
        db.session.rollback()
        triggers = db.session.execute(text(
            "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'st_row_guard_%' ORDER BY tgname")).scalars().all()
        assert triggers == [f"st_row_guard_{c}" for c in sorted(
            ["api_client_id", "connector_id", "material_id", "organization_id", "subprocess_id"])]


def test_body_is_kept_once_per_batch_and_attributes_with_the_row(app: Flask, east: ApiCaller) -> None:
    """An accepted batch's body is in st_batch (compressed, SM3 as received); attributes stay in raw."""
    payload = readings(2, key="k-" + "x" * 100)  # a 102-character idempotency key
    payload["readings"][1]["attributes"] = {"meter": "FT-101", "shift": 2}
    response = east.post(READINGS, payload)
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        rows = db.session.scalars(select(StagingRow).order_by(StagingRow.row)).all()
        assert [r.raw for r in rows] == [None, {"attributes": {"meter": "FT-101", "shift": 2}}]
        assert {r.request_id for r in rows} == {payload["idempotency_key"]}
        kept = db.session.scalars(select(StagingBatch)).all()
        assert len(kept) == 1 and kept[0].batch_id == rows[0].batch_id and kept[0].rows == 2
        body = json.loads(zlib.decompress(kept[0].body))
        number = int(rows[1].reference.rsplit("#", 1)[1])
        assert body["readings"][number - 1]["attributes"]["meter"] == "FT-101"
    # A refused batch keeps no body.
    bad = east.post(READINGS, readings(1, key="bad-1", material="不存在的物料"))
    assert bad.status_code == 422
    with app.app_context():
        assert len(db.session.scalars(select(StagingBatch)).all()) == 1
