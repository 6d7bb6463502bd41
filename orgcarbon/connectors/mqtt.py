"""MQTT subscription with paho-mqtt 2.x: topics mapped to tags, QoS 1, reconnect with backoff."""

from __future__ import annotations

import json
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from orgcarbon.connectors.base import (
    ConnectionStatus,
    Connector,
    ConnectorError,
    FetchResult,
    Record,
    Watermark,
    new_batch_id,
    utc_now,
)
from orgcarbon.connectors.mqtt_buffer import BoundedBuffer, BufferedMessage
from orgcarbon.connectors.registry import ConfigError, ConnectorType, register_connector_type

__all__ = ["MqttConfig", "MqttConnector"]


@dataclass(frozen=True)
class MqttConfig:
    """Settings of one MQTT subscription; ``topics`` maps a topic filter to its tag."""

    host: str = field(metadata={"label": "服务器地址"})
    topics: dict[str, str] = field(metadata={"label": "订阅主题与标签"})
    port: int = field(default=1883, metadata={"label": "端口"})
    qos: int = field(default=1, metadata={"label": "服务质量（QoS）"})
    buffer_size: int = field(default=10000, metadata={"label": "缓冲区容量"})
    when_full: str = field(default="spill", metadata={"label": "缓冲区满时"})
    spill_path: str = field(default="", metadata={"label": "溢出文件"})
    block_timeout_s: float = field(default=5.0, metadata={"label": "阻塞等待（秒）"})
    payload_format: str = field(default="json", metadata={"label": "消息格式"})
    reconnect_min_s: float = field(default=1.0, metadata={"label": "重连最短间隔（秒）"})
    reconnect_max_s: float = field(default=60.0, metadata={"label": "重连最长间隔（秒）"})
    keepalive_s: int = field(default=30, metadata={"label": "心跳（秒）"})
    username: str = field(default="", metadata={"label": "用户名"})
    password: str = field(default="", metadata={"label": "密码"})

    def check(self) -> None:
        """Cross-field rules; raises ``ConfigError`` naming the field."""
        if not self.topics:
            raise ConfigError("topics（订阅主题与标签）", "至少订阅一个主题")
        for topic in self.topics:
            if not topic or "#" in topic[:-1] or any(c in topic for c in "\x00"):
                raise ConfigError(f"topics（订阅主题与标签）.{topic}", "主题过滤器无效")
        if self.qos not in (0, 1, 2):
            raise ConfigError("qos（服务质量（QoS））", "只能是 0、1 或 2")
        if not 1 <= self.buffer_size <= 1_000_000:
            raise ConfigError("buffer_size（缓冲区容量）", "应在 1 到 1000000 之间")
        if self.when_full not in ("block", "spill"):
            raise ConfigError(
                "when_full（缓冲区满时）", "只能是 block（阻塞）或 spill（溢出到文件）"
            )
        if self.when_full == "spill" and not self.spill_path:
            raise ConfigError("spill_path（溢出文件）", "溢出模式必须指定溢出文件")
        if self.payload_format not in ("json", "text"):
            raise ConfigError("payload_format（消息格式）", "只能是 json 或 text")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ConfigError("reconnect_min_s（重连最短间隔（秒））", "应为正数且不大于最长间隔")


class MqttConnector(Connector):
    """Subscribes in a background thread; ``fetch`` drains the buffer, ``commit`` releases it."""

    type_name = "mqtt"

    def __init__(self, connector_id: str, config: MqttConfig) -> None:
        super().__init__(connector_id)
        self.config = config
        # Sequence numbers restart with the process; the session id keeps record keys unique.
        self.session_id = uuid.uuid4().hex[:12]
        self.buffer = BoundedBuffer(
            config.buffer_size,
            config.when_full,
            Path(config.spill_path) if config.spill_path else None,
            config.block_timeout_s,
        )
        self.connects = 0
        self.disconnects = 0
        self._client: mqtt.Client | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect, subscribe and keep the network loop running (reconnects on its own)."""
        if self._client is not None:
            return
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"orgcarbon-{self.connector_id}-{self.session_id}",
            protocol=mqtt.MQTTv311,
        )
        if self.config.username:
            client.username_pw_set(self.config.username, self.config.password)
        # paho doubles the wait after each failed attempt, from min to max: exponential backoff.
        client.reconnect_delay_set(self.config.reconnect_min_s, self.config.reconnect_max_s)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        try:
            client.connect(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        except OSError as exc:
            self._client = None
            raise ConnectorError(
                f"无法连接 MQTT 服务器 {self.config.host}:{self.config.port}：{exc}"
            ) from exc
        client.loop_start()
        deadline = time.monotonic() + timeout_s
        while not client.is_connected() or self.connects == 0:
            if time.monotonic() > deadline:
                self.close()
                raise ConnectorError("连接 MQTT 服务器超时")
            time.sleep(0.02)

    @property
    def connected(self) -> bool:
        """Whether the client is connected right now."""
        return self._client is not None and self._client.is_connected()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            return
        # Subscriptions are repeated on every (re)connect: a clean session forgets them.
        client.subscribe([(topic, self.config.qos) for topic in self.config.topics])
        self.connects += 1

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.disconnects += 1

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.buffer.put(message.topic, bytes(message.payload), utc_now().isoformat(), message.mid)

    def check(self) -> ConnectionStatus:
        """Open a TCP connection to the broker; report buffer counters when subscribed."""
        started = time.perf_counter()
        try:
            with socket.create_connection((self.config.host, self.config.port), timeout=3):
                pass
        except OSError as exc:
            return ConnectionStatus(False, f"无法连接 MQTT 服务器：{exc}")
        latency = (time.perf_counter() - started) * 1000
        stats = self.buffer.stats()
        return ConnectionStatus(
            True, "连接正常", latency, {"subscribed": self.connected, "buffer": stats}
        )

    def _tags(self, topic: str) -> tuple[str, ...]:
        return tuple(
            tag
            for pattern, tag in self.config.topics.items()
            if mqtt.topic_matches_sub(pattern, topic)
        )

    def _payload(self, message: BufferedMessage) -> dict[str, Any]:
        text = message.payload.decode("utf-8", errors="replace")
        if self.config.payload_format == "json":
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                return {"value": text, "parse_error": "JSON 格式错误"}
            return value if isinstance(value, dict) else {"value": value}
        return {"value": text}

    def fetch(self, since: Watermark | None) -> FetchResult:
        """Buffered messages after ``since`` (this session's sequence) as records."""
        after = self.buffer.committed_seq
        if since is not None and since.value.startswith(self.session_id + ":"):
            after = max(after, int(since.value.split(":", 1)[1]))
        messages = self.buffer.peek(after, limit=self.config.buffer_size)
        batch_id = new_batch_id()
        records = [
            Record(
                key=f"{self.session_id}:{m.seq}",
                payload=self._payload(m),
                provenance=self.provenance(
                    batch_id, f"{m.topic}#{m.mid}", _parse_time(m.received_at)
                ),
                tags=self._tags(m.topic),
            )
            for m in messages
        ]
        watermark = Watermark(f"{self.session_id}:{messages[-1].seq}") if messages else since
        return FetchResult(
            records, watermark, batch_id, complete=len(messages) < self.config.buffer_size
        )

    def commit(self, watermark: Watermark | None) -> None:
        """Forget messages the sink accepted."""
        if watermark is not None and watermark.value.startswith(self.session_id + ":"):
            self.buffer.commit(int(watermark.value.split(":", 1)[1]))

    def close(self) -> None:
        """Stop the network loop and disconnect."""
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


register_connector_type(ConnectorType("mqtt", "MQTT 订阅", MqttConfig, MqttConnector))
