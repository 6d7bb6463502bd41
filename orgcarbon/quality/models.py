"""Staging rows with provenance and the API batches they came in, quality rules as versioned data, quality runs and their findings."""

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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from orgcarbon.metamodel.models import Organization
from orgcarbon.security.models import utcnow  # one clock for every table


class StagingRow(Model):
    """One incoming value as it arrived, with where it came from (spec 6.2.3 traceability).

    Written in bulk (binary ``COPY`` on PostgreSQL) by the API, connectors and package imports;
    cleaning and validation read it; monthly aggregation promotes it into ``mm_activity``
    (``activity_id``). The ids that the writer fills for every row (organisation, sub-process,
    material, API client, connector) carry no foreign key: they come from the writer's name index
    or the authenticated caller, read in the same transaction, and a per-row referential check
    cost more than half of the database's work per batch (docs/scaling-storage.md). Only the
    indexes that queries use are kept.
    """

    __tablename__ = "st_row"
    __table_args__ = (
        Index("ix_st_row_org_month", "organization_id", "month"),  # cleaning, promotion, quality frames
        Index("ix_st_row_source_key", "source", "record_key"),  # the writer's duplicate look-up
        # Partial: rows of the API (no connector) and new rows (not yet promoted) add no entry.
        Index("ix_st_row_connector", "connector_id", postgresql_where=text("connector_id IS NOT NULL"),
              sqlite_where=text("connector_id IS NOT NULL")),
        Index("ix_st_row_activity", "activity_id", postgresql_where=text("activity_id IS NOT NULL"),
              sqlite_where=text("activity_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # api | odata | mqtt | files | package | excel | form
    connector_id: Mapped[int | None] = mapped_column(Integer)  # cn_connector.id (checked by the writer)
    api_client_id: Mapped[int | None] = mapped_column(Integer)  # cn_api_client.id (the authenticated caller)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("fm_import.id"))
    batch_id: Mapped[str] = mapped_column(String(64))  # API batches: st_batch holds the body as received
    request_id: Mapped[str | None] = mapped_column(String(128))  # idempotency key or nonce of the API call
    reference: Mapped[str | None] = mapped_column(String(300))  # file#row, entity URI, topic#mid, api:client:key#n
    record_key: Mapped[str | None] = mapped_column(String(200))  # stable across re-sends
    row: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    organization_id: Mapped[int | None] = mapped_column(Integer)  # mm_organization.id (name index)
    subprocess_id: Mapped[int | None] = mapped_column(Integer)  # mm_subprocess.id (name index)
    material_id: Mapped[int | None] = mapped_column(Integer)  # mm_material.id (name index)
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
    status: Mapped[str] = mapped_column(String(16), default="new")  # new|cleaned|rejected|promoted; see st_partition
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("mm_activity.id"))
    raw: Mapped[dict[str, object] | None] = mapped_column(JSON)  # extras not in columns (API: attributes)

    organization: Mapped[Organization | None] = relationship(
        primaryjoin=lambda: foreign(StagingRow.organization_id) == Organization.id, viewonly=True
    )


class StagingPartition(Model):
    """How far the bulk pipeline has cleaned and promoted one plant × month of ``st_row``.

    The bulk path marks a partition "cleaned through id N" with this one row instead of
    rewriting every reading's ``status`` (and "promoted through id N" instead of writing every
    reading's ``activity_id``): a reading still stored ``new`` whose id is at or below a mark has
    that status (``quality/partitions.py``). Rejected readings, and readings of the per-row path
    (forms, ``CleaningRun``), keep a stored status, which wins over the marks.
    """

    __tablename__ = "st_partition"

    organization_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # mm_organization.id, as st_row
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    cleaned_through_id: Mapped[int | None] = mapped_column(Integer)
    promoted_through_id: Mapped[int | None] = mapped_column(Integer)
    cleaned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    promoted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Highest id an UPDATE or DELETE touched (PostgreSQL trigger): column chunks are not read for
    # a window that reaches it (collection/chunks.py).
    unchunked_through_id: Mapped[int | None] = mapped_column(Integer)


class StagingChunk(Model):
    """One batch's staged rows of one plant × month as columns (PostgreSQL; ``collection/chunks.py``).

    Written by the staging writer in the rows' transaction, read by bulk cleaning, deleted once
    the partition's cleaned mark passes ``last_id``.
    """

    __tablename__ = "st_chunk"
    __table_args__ = (Index("ix_st_chunk_partition", "organization_id", "month", "last_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(Integer)
    month: Mapped[str] = mapped_column(String(7))
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ChunkState(Model):
    """One row: the highest id an INSERT from outside the staging writer reached (no chunks below it)."""

    __tablename__ = "st_chunk_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unchunked_through_id: Mapped[int] = mapped_column(Integer, default=0)


class StagingBatch(Model):
    """The body of one accepted API batch exactly as received (zlib-compressed JSON).

    Kept once per batch instead of a JSON copy of every reading in ``st_row.raw``: a staged row
    finds its original reading through ``batch_id`` and the position in its ``reference``
    (``api:<client>:<key>#<n>`` is ``readings[n-1]``), and ``body_sm3`` proves the body unchanged
    (the same digest as the idempotency record's ``request_sm3``).
    """

    __tablename__ = "st_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[str] = mapped_column(String(64), index=True)
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("cn_api_client.id"))
    request_id: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    body_sm3: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(16), default="zlib+json")
    body: Mapped[bytes] = mapped_column(LargeBinary)


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
