"""MQTT subscription into staging with the real Mosquitto, through the listener process's code."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from orgcarbon.collection.listener import SubscriptionListener, live_connector
from orgcarbon.collection.models import ConnectorInstance, InterfaceLog
from orgcarbon.collection.tasks import sync
from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import StagingRow
from tests.integration.collection.conftest import org_id
from tests.integration.connectors.conftest import mqtt_url


def test_subscription_is_staged_once_with_topic_tags(app: Flask, tmp_path: Path) -> None:
    """Messages published with QoS 1 are staged by the listener, tagged by topic, and not twice."""
    parsed = urlparse(mqtt_url())
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 1883
    prefix = f"orgcarbon-test/{uuid.uuid4().hex[:8]}"
    with app.app_context():
        instance = ConnectorInstance(
            name="高炉计量", type="mqtt", organization_id=org_id("东区"), enabled=True,
            config={"host": host, "port": port, "topics": {f"{prefix}/bf/#": "高炉"},
                    "spill_path": str(tmp_path / "spill.jsonl")},
            mapping={"fields": {"sub_process": {"field": "sub"}, "material": {"value": "焦炭"},
                                "quantity": {"field": "qty"}, "unit": {"field": "unit"},
                                "time": {"field": "time"}}, "target_unit": "t"},
        )
        db.session.add(instance)
        db.session.commit()
        connector_id = instance.id
        # Without a listener in this process a subscription connector is not synced by the task.
        assert sync.delay(connector_id).get()["status"] == "skipped"

    listener = SubscriptionListener(app, flush_s=0.1)
    try:
        assert listener.refresh() == [connector_id]
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
        publisher.connect(host, port)
        publisher.loop_start()
        for i in range(3):
            body = {"sub": "1#高炉", "qty": 1500 + i, "unit": "kg", "time": f"2025-05-0{i + 1}T10:00:00+08:00"}
            publisher.publish(f"{prefix}/bf/{i}", json.dumps(body, ensure_ascii=False), qos=1).wait_for_publish(5)
        publisher.publish(f"{prefix}/bf/x", json.dumps({"sub": "月球", "qty": 1, "unit": "t",
                                                         "time": "2025-05-04"}), qos=1).wait_for_publish(5)
        publisher.disconnect()
        publisher.loop_stop()
        live = live_connector(connector_id)
        assert live is not None and live.buffer.wait_for_count(4, timeout_s=5)  # type: ignore[attr-defined]
        runs = listener.flush()[connector_id]
        assert [(r["fetched"], r["staged"], r["rejected"]) for r in runs] == [(4, 3, 1)]
        assert listener.flush()[connector_id][0]["fetched"] == 0  # released after staging
    finally:
        listener.close()
    with app.app_context():
        rows = db.session.scalars(select(StagingRow).order_by(StagingRow.quantity)).all()
        assert [(r.source, round(r.quantity, 9), r.unit, r.month, r.tags) for r in rows] == [
            ("mqtt", 1.5, "t", "2025-05", "高炉"), ("mqtt", 1.501, "t", "2025-05", "高炉"),
            ("mqtt", 1.502, "t", "2025-05", "高炉")]
        assert all(r.reference.startswith(f"{prefix}/bf/") and r.organization_id == org_id("东区") for r in rows)
        log = db.session.scalars(select(InterfaceLog).where(InterfaceLog.connector_id == connector_id)
                                 .order_by(InterfaceLog.id)).first()
        assert (log.status, log.accepted, log.rejected) == ("partial", 3, 1)
        assert log.details["rejected_rows"] == [f"{log.details['rejected_rows'][0].split(':')[0]}: 组织下没有子工序“月球”"]
