"""Connector instances and their watermarks, registered API clients, replay and idempotency
records of the HTTPS JSON API, and the interface log (spec 6.7.2)."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orgcarbon.metamodel.models import Organization
from orgcarbon.security.models import utcnow  # one clock for every table


class ConnectorInstance(Model):
    """A configured connector (OData, MQTT, folder) with its mapping, schedule and organisation."""

    __tablename__ = "cn_connector"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(32))  # a registered connector type: odata | mqtt | files
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    config: Mapped[dict[str, object]] = mapped_column(JSON)  # the type's config without secrets
    secret: Mapped[str | None] = mapped_column(Text)  # secret config fields, encrypted with the data key
    mapping: Mapped[dict[str, object]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    schedule_minutes: Mapped[int | None] = mapped_column(Integer)  # None: on demand / subscription only
    last_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    note: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship()

    def __str__(self) -> str:
        return self.name


class ConnectorWatermark(Model):
    """Where a connector's incremental fetch stands (``Watermark.to_json()``)."""

    __tablename__ = "cn_watermark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("cn_connector.id", ondelete="CASCADE"), unique=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiClient(Model):
    """A third-party system allowed to call the HTTPS JSON API, with its keys and organisation."""

    __tablename__ = "cn_api_client"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    public_key: Mapped[str | None] = mapped_column(Text)  # SM2 public key (hex) for signatures
    hmac_secret: Mapped[str | None] = mapped_column(Text)  # encrypted with the data key
    server_key_id: Mapped[str | None] = mapped_column(String(64))  # which server SM2 key it wraps to
    allowed_ips: Mapped[str | None] = mapped_column(Text)  # comma-separated addresses or networks
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    organization: Mapped[Organization] = relationship()

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class ApiNonce(Model):
    """A nonce already seen from a client (replay protection); pruned after the allowed clock skew."""

    __tablename__ = "cn_api_nonce"
    __table_args__ = (UniqueConstraint("client_id", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class IdempotencyRecord(Model):
    """The answer given to a batch's idempotency key, so a retry never duplicates."""

    __tablename__ = "cn_idempotency"
    __table_args__ = (UniqueConstraint("client_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    request_sm3: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, object] | None] = mapped_column(JSON)
    batch_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InterfaceLog(Model):
    """One connector run or API call: who, what, how many, how long, and why it failed."""

    __tablename__ = "cn_interface_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # pull (connector) | push (API ingest) | query (API read)
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("cn_connector.id", ondelete="SET NULL"), index=True)
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("cn_api_client.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # success | partial | failed | refused
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    filtered: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    batch_id: Mapped[str | None] = mapped_column(String(64))
    watermark_before: Mapped[str | None] = mapped_column(Text)
    watermark_after: Mapped[str | None] = mapped_column(Text)
    request_path: Mapped[str | None] = mapped_column(String(300))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, object] | None] = mapped_column(JSON)  # rejected reasons and the like
