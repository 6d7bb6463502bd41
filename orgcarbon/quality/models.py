"""Staging rows with provenance, quality rules as versioned data, quality runs and their findings."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orgcarbon.metamodel.models import Organization
from orgcarbon.security.models import utcnow  # one clock for every table


class StagingRow(Model):
    """One incoming value as it arrived, with where it came from (spec 6.2.3 traceability).

    Written in bulk (Core inserts) by the API, connectors and package imports; cleaning and
    validation read it; monthly aggregation promotes it into ``mm_activity`` (``activity_id``).
    """

    __tablename__ = "st_row"
    __table_args__ = (
        Index("ix_st_row_org_month", "organization_id", "month"),
        Index("ix_st_row_source_key", "source", "record_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # api | odata | mqtt | files | package | excel | form
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("cn_connector.id"), index=True)
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("cn_api_client.id"), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("fm_import.id"), index=True)
    batch_id: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))  # idempotency key or nonce of the API call
    reference: Mapped[str | None] = mapped_column(String(300))  # file#row, entity URI, topic#mid
    record_key: Mapped[str | None] = mapped_column(String(200))  # stable across re-sends
    row: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("mm_organization.id"))
    subprocess_id: Mapped[int | None] = mapped_column(ForeignKey("mm_subprocess.id"))
    material_id: Mapped[int | None] = mapped_column(ForeignKey("mm_material.id"))
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("mm_binding.id"))
    category: Mapped[str | None] = mapped_column(String(32))
    month: Mapped[str | None] = mapped_column(String(7))
    timestamp: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # the reading's own time
    quantity: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    ncv: Mapped[float | None] = mapped_column(Float)
    carbon_content: Mapped[float | None] = mapped_column(Float)
    oxidation_factor: Mapped[float | None] = mapped_column(Float)
    purity: Mapped[float | None] = mapped_column(Float)
    ef: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[str | None] = mapped_column(String(300))  # comma-separated
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)  # new|cleaned|rejected|promoted
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("mm_activity.id"))
    raw: Mapped[dict[str, object] | None] = mapped_column(JSON)  # the payload as received

    organization: Mapped[Organization | None] = relationship()


class QualityRule(Model):
    """A cleaning or validation rule, one row per version; ``definition`` is the engine's rule dict.

    Drafts are edited; publishing (by someone other than the author, after the rule's test cases
    pass) freezes a version and supersedes the previous one.
    """

    __tablename__ = "dq_rule"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)  # draft|published|superseded
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # cleaning | validation
    action: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(32), default="record")
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    order: Mapped[int] = mapped_column(Integer, default=100)
    definition: Mapped[dict[str, object]] = mapped_column(JSON)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    author_name: Mapped[str | None] = mapped_column(String(100))
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    publisher_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization | None] = relationship()

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class QualityRun(Model):
    """One execution of the rules over a data set: a dry run, a cleaning run or a validation run."""

    __tablename__ = "dq_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # dry_run | cleaning | validation | scorecard
    dataset: Mapped[str] = mapped_column(String(16), default="activity")  # activity | staging
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|running|done|failed
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    user_name: Mapped[str | None] = mapped_column(String(100))
    rule_versions: Mapped[dict[str, int] | None] = mapped_column(JSON)  # code → version used
    counts: Mapped[dict[str, object] | None] = mapped_column(JSON)
    report: Mapped[dict[str, object] | None] = mapped_column(JSON)  # verification report / scorecard
    error: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship()


class QualityFinding(Model):
    """A rule that fired on a record (validation) or changed it (cleaning), with before and after."""

    __tablename__ = "dq_finding"
    __table_args__ = (Index("ix_dq_finding_run_rule", "run_id", "rule_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("dq_run.id", ondelete="CASCADE"), index=True)
    rule_code: Mapped[str] = mapped_column(String(100))
    rule_version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # finding | change
    severity: Mapped[str | None] = mapped_column(String(16))
    dimension: Mapped[str | None] = mapped_column(String(16))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    month: Mapped[str | None] = mapped_column(String(7))
    target: Mapped[str] = mapped_column(String(16), default="activity")  # activity | staging | aggregate
    target_id: Mapped[int | None] = mapped_column(Integer)
    key: Mapped[str | None] = mapped_column(String(300))  # aggregate findings: organisation/process/month
    field: Mapped[str | None] = mapped_column(String(32))
    before: Mapped[float | None] = mapped_column(Float)
    after: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)

    run: Mapped[QualityRun] = relationship()
