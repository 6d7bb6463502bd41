"""MQTT against the real Mosquitto: messages arrive exactly as records, tagged by topic; reconnect."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from orgcarbon.connectors import (
    MemoryWatermarkStore,
    RetryPolicy,
    SyncRunner,
    create_connector,
    parse_mapping,
)
from orgcarbon.connectors.mapping import MappedBatch
from orgcarbon.connectors.mqtt import MqttConnector
from tests.integration.connectors.conftest import mqtt_url


@pytest.fixture
def broker() -> tuple[str, int]:
    parsed = urlparse(mqtt_url())
    return parsed.hostname or "127.0.0.1", parsed.port or 1883


@pytest.fixture
def prefix() -> str:
    """A topic prefix of our own, so parallel runs on the shared broker do not see each other."""
    return f"orgcarbon-test/{uuid.uuid4().hex[:8]}"


def publisher(host: str, port: int) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.connect(host, port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def make(
    connector_id: str, host: str, port: int, topics: dict[str, str], **extra: object
) -> MqttConnector:
    made = create_connector(
        "mqtt", connector_id, {"host": host, "port": port, "topics": topics, **extra}
    )
    assert isinstance(made, MqttConnector)
    return made


def test_messages_arrive_exactly_as_tagged_records(
    broker: tuple[str, int], prefix: str, tmp_path: Path
) -> None:
    """QoS 1 messages on two topics become records with their payloads and the topics' tags."""
    host, port = broker
    topics = {f"{prefix}/bf/+/coke": "高炉", f"{prefix}/power/#": "电力"}
    connector = make("m1", host, port, topics, spill_path=str(tmp_path / "spill.jsonl"))
    connector.start()
    sent = [{"plant": "一厂", "qty": 12.5 + i, "unit": "t"} for i in range(5)]
    try:
        for pub in publisher(host, port):
            for i, body in enumerate(sent):
                pub.publish(
                    f"{prefix}/bf/{i}/coke", json.dumps(body, ensure_ascii=False), qos=1
                ).wait_for_publish(5)
            pub.publish(
                f"{prefix}/power/meter1",
                json.dumps({"plant": "一厂", "qty": 3, "unit": "MWh"}),
                qos=1,
            ).wait_for_publish(5)
            pub.publish(f"{prefix}/other", "ignored", qos=1).wait_for_publish(5)
        assert connector.buffer.wait_for_count(6, timeout_s=5)
        result = connector.fetch(None)
    finally:
        connector.close()
    assert [r.payload for r in result.records[:5]] == sent
    assert [r.tags for r in result.records] == [("高炉",)] * 5 + [("电力",)]
    assert result.records[5].provenance.reference.startswith(f"{prefix}/power/meter1#")
    assert len({r.key for r in result.records}) == 6


def test_sync_commits_buffer_only_after_sink(
    broker: tuple[str, int], prefix: str, tmp_path: Path
) -> None:
    """A failing sink keeps the messages buffered; the next run delivers them, then releases them."""
    host, port = broker
    connector = make(
        "m2", host, port, {f"{prefix}/#": "现场"}, spill_path=str(tmp_path / "s.jsonl")
    )
    mapping = parse_mapping(
        {
            "fields": {
                "organization": {"field": "plant"},
                "quantity": {"field": "qty"},
                "unit": {"field": "unit"},
            },
            "target_unit": "t",
        }
    )
    got: list[MappedBatch] = []
    fail = [True]

    def sink(batch: MappedBatch) -> None:
        if fail[0]:
            raise RuntimeError("staging down")
        got.append(batch)

    connector.start()
    try:
        for pub in publisher(host, port):
            for i in range(3):
                pub.publish(
                    f"{prefix}/m", json.dumps({"plant": "二厂", "qty": i, "unit": "kg"}), qos=1
                ).wait_for_publish(5)
        assert connector.buffer.wait_for_count(3, timeout_s=5)
        runner = SyncRunner(
            connector, mapping, sink, MemoryWatermarkStore(), RetryPolicy(attempts=1)
        )
        assert runner.run_once().status == "failed"
        assert connector.buffer.stats().buffered == 3
        fail[0] = False
        entry = runner.run_once()
    finally:
        connector.close()
    assert (entry.status, entry.accepted) == ("success", 3)
    assert list(got[0].frame["quantity"]) == [0.0, 0.001, 0.002]
    assert list(got[0].frame["organization"]) == ["二厂"] * 3
    assert connector.buffer.stats().buffered == 0


@pytest.mark.slow
def test_reconnects_after_the_broker_drops_the_connection(
    broker: tuple[str, int], prefix: str, tmp_path: Path
) -> None:
    """A client id takeover kicks the connector off; it reconnects, resubscribes and keeps receiving."""
    host, port = broker
    connector = make(
        "m3",
        host,
        port,
        {f"{prefix}/r": "重连"},
        spill_path=str(tmp_path / "s.jsonl"),
        reconnect_min_s=0.2,
        reconnect_max_s=1.0,
    )
    connector.start()
    try:
        intruder = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"orgcarbon-m3-{connector.session_id}"
        )
        intruder.connect(host, port)
        intruder.loop_start()
        deadline = time.monotonic() + 5
        while connector.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        intruder.disconnect()
        intruder.loop_stop()
        deadline = time.monotonic() + 10
        while connector.connects < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert connector.disconnects >= 1 and connector.connects >= 2
        for pub in publisher(host, port):
            pub.publish(f"{prefix}/r", json.dumps({"qty": 7}), qos=1).wait_for_publish(5)
        assert connector.buffer.wait_for_count(1, timeout_s=5)
        assert connector.fetch(None).records[0].payload == {"qty": 7}
    finally:
        connector.close()
