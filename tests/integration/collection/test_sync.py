"""Stored connectors against the real OData server (mock-sap): increments, crash re-runs, scheduling."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from orgcarbon.collection.models import ConnectorInstance, ConnectorWatermark, InterfaceLog
from orgcarbon.collection.runner import build_connector, run_connector
from orgcarbon.collection.store import DbWatermarkStore
from orgcarbon.connectors import RetryPolicy
from orgcarbon.platform.extensions import db
from orgcarbon.platform.tasks import celery_app
from orgcarbon.quality.models import StagingRow
from tests.integration.collection.conftest import org_id
from tests.integration.connectors.conftest import mock_sap  # noqa: F401  # the real OData server

SERVICE = "/sap/opu/odata/sap/API_PRODUCT_SRV/"
MAPPING = {
    "fields": {
        "organization": {"value": "东区"},
        "sub_process": {"value": "1#高炉"},
        "material": {"value": "焦炭"},
        "quantity": {"field": "GrossWeight"},
        "unit": {"field": "WeightUnit"},
        "time": {"field": "LastChangeDate"},
    },
    "unit_aliases": {"KG": "kg", "TO": "t"},
    "target_unit": "t",
    "filters": [{"field": "ProductType", "op": "ne", "value": "DIEN"}],
    "tags": [{"tag": "SAP"}],
}


def make_connector(app: Flask, base: str, name: str, **extra: Any) -> int:
    """Store an OData connector of 东区 reading A_Product; returns its id."""
    with app.app_context():
        instance = ConnectorInstance(
            name=name, type="odata", organization_id=org_id("东区"), mapping=MAPPING, enabled=True,
            config={"service_url": base + SERVICE, "entity_set": "A_Product", "watermark_field": "LastChangeDate",
                    "page_size": 4, **extra},
        )
        db.session.add(instance)
        db.session.commit()
        return instance.id


def staged(connector_id: int) -> dict[str, tuple[float, str, str, str | None]]:
    """The staging rows of a connector by entity key: quantity, unit, month, tags."""
    rows = db.session.scalars(select(StagingRow).where(StagingRow.connector_id == connector_id)).all()
    return {r.record_key.split("/", 1)[1]: (round(r.quantity, 9), r.unit, r.month, r.tags) for r in rows}


def test_incremental_sync_stages_only_new_rows(app: Flask, mock_sap: str) -> None:  # noqa: F811
    """Run 1 stages the 9 kept products; run 2 nothing new; after two inserts run 3 stages just those two."""
    connector_id = make_connector(app, mock_sap, "SAP 物料")
    with app.app_context():
        first = run_connector(db.session, connector_id, retry=RetryPolicy(attempts=1))
        assert [(r["status"], r["fetched"], r["staged"]) for r in first] == [("success", 10, 9)]
        assert len(staged(connector_id)) == 9
        assert staged(connector_id)["('MZ-RM-S200')"] == (0.012, "t", staged(connector_id)["('MZ-RM-S200')"][2], "SAP")
        watermark = db.session.scalar(select(ConnectorWatermark.value).where(
            ConnectorWatermark.connector_id == connector_id))
        assert watermark and "boundary_keys" in watermark

        second = run_connector(db.session, connector_id, retry=RetryPolicy(attempts=1))
        assert sum(r["staged"] for r in second) == 0 and len(staged(connector_id)) == 9

        source = build_connector(db.session.get(ConnectorInstance, connector_id))
        source.create({"Product": "INC-COKE-A", "ProductType": "ROH", "GrossWeight": Decimal("12.345"),
                       "WeightUnit": "TO"})
        source.create({"Product": "INC-COKE-B", "ProductType": "ROH", "GrossWeight": "0.5", "WeightUnit": "TO"})
        source.close()
        third = run_connector(db.session, connector_id, retry=RetryPolicy(attempts=1))
        assert [(r["fetched"], r["staged"]) for r in third] == [(2, 2)]
        rows = staged(connector_id)
        assert (rows["('INC-COKE-A')"][0], rows["('INC-COKE-B')"][0], len(rows)) == (12.345, 0.5, 11)
        logs = db.session.scalars(select(InterfaceLog).where(InterfaceLog.connector_id == connector_id)
                                  .order_by(InterfaceLog.id)).all()
        assert [(log.kind, log.status, log.accepted) for log in logs] == [
            ("pull", "success", 9), ("pull", "success", 0), ("pull", "success", 2)]
        assert logs[0].filtered == 1 and logs[2].watermark_before == logs[1].watermark_after
        assert db.session.get(ConnectorInstance, connector_id).last_status == "success"


def test_a_run_killed_before_the_watermark_is_stored_is_rerun_to_the_same_staging(
    app: Flask, mock_sap: str, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """An exception after fetch and staging, before the watermark is saved, leaves nothing; the re-run is clean."""
    clean_id = make_connector(app, mock_sap, "SAP 干净运行")
    broken_id = make_connector(app, mock_sap, "SAP 中途失败")
    real_save = DbWatermarkStore.save

    def killed(self: DbWatermarkStore, connector_id: str, watermark: Any) -> None:
        raise RuntimeError("worker killed before the watermark was stored")

    with app.app_context():
        run_connector(db.session, clean_id, retry=RetryPolicy(attempts=1))
        monkeypatch.setattr(DbWatermarkStore, "save", killed)
        failed = run_connector(db.session, broken_id, retry=RetryPolicy(attempts=1))
        assert failed[0]["status"] == "failed" and "worker killed" in failed[0]["error"]
        assert staged(broken_id) == {}
        assert db.session.scalar(select(ConnectorWatermark).where(ConnectorWatermark.connector_id == broken_id)) is None
        log = db.session.scalar(select(InterfaceLog).where(InterfaceLog.connector_id == broken_id))
        assert (log.status, log.accepted) == ("failed", 0)

        monkeypatch.setattr(DbWatermarkStore, "save", real_save)
        rerun = run_connector(db.session, broken_id, retry=RetryPolicy(attempts=1))
        assert rerun[0]["status"] == "success"
        assert staged(broken_id) == staged(clean_id) and len(staged(clean_id)) >= 9
        again = run_connector(db.session, broken_id, retry=RetryPolicy(attempts=1))
        assert again[0]["staged"] == 0 and staged(broken_id) == staged(clean_id)


def test_dispatch_runs_due_connectors_once_per_interval(app: Flask, mock_sap: str) -> None:  # noqa: F811
    """Beat's minute task starts connectors whose schedule is due, and not again before the next interval."""
    from orgcarbon.collection.tasks import dispatch

    due = make_connector(app, mock_sap, "SAP 每五分钟")
    manual = make_connector(app, mock_sap, "SAP 手动")
    with app.app_context():
        db.session.get(ConnectorInstance, due).schedule_minutes = 5
        db.session.commit()
        first = dispatch.delay().get()
        assert first["dispatched"] == [due]
        assert len(staged(due)) >= 9 and staged(manual) == {}  # 9 seeded (+ rows earlier tests added)
        assert dispatch.delay().get()["dispatched"] == []
    assert celery_app.conf.beat_schedule["orgcarbon.collection.dispatch"]["schedule"] == 60.0
