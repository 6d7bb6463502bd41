"""Tables of accounting runs and their result lines (lineage is data: ids of what a line came from).

Result lines are derived data written in bulk with Core inserts, so the audit listener (which
sees ORM flushes only) does not record them one by one; the run row is an ORM insert and is
audited, and it carries the digest of the inputs the lines were computed from.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orgcarbon.metamodel.models import Organization, Process, SubProcess
from orgcarbon.metamodel.versioned import AccountingModel, Binding, Formula


def utcnow() -> dt.datetime:
    """Current UTC time (a callable default, evaluated per row)."""
    return dt.datetime.now(dt.UTC)


class AccountingRun(Model):
    """One accounting of an organisation subtree for one year under one model version."""

    __tablename__ = "ac_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("mm_accounting_model.id"), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|done|failed
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    created_by_name: Mapped[str | None] = mapped_column(String(100))
    electricity_ef: Mapped[float | None] = mapped_column(Float)  # tCO2/MWh given for this run
    inputs_digest: Mapped[str | None] = mapped_column(String(64))
    factor_versions: Mapped[dict[str, str] | None] = mapped_column(JSON)  # factor code → version
    total_tco2: Mapped[float | None] = mapped_column(Float)
    direct_tco2: Mapped[float | None] = mapped_column(Float)
    indirect_tco2: Mapped[float | None] = mapped_column(Float)
    by_category: Mapped[dict[str, float] | None] = mapped_column(JSON)
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str | None] = mapped_column(Text)  # grid-factor choice and fallback, one per line
    error: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship()
    model: Mapped[AccountingModel] = relationship()
    created_by: Mapped[User | None] = relationship(User)

    def __str__(self) -> str:
        return f"{self.organization.name if self.organization else ''} {self.year} #{self.id}"


class ResultLine(Model):
    """One activity record's emission with its lineage (formula, factor versions, records)."""

    __tablename__ = "ac_result_line"
    __table_args__ = (Index("ix_ac_result_line_run_process", "run_id", "process_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ac_run.id", ondelete="CASCADE"), index=True)
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("mm_binding.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("mm_process.id"))
    subprocess_id: Mapped[int | None] = mapped_column(ForeignKey("mm_subprocess.id"))
    material: Mapped[str] = mapped_column(String(100))
    month: Mapped[str] = mapped_column(String(7))
    category: Mapped[str] = mapped_column(String(32))
    term: Mapped[str] = mapped_column(String(32))
    sign: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(8))  # direct | indirect
    activity: Mapped[float] = mapped_column(Float)
    activity_unit: Mapped[str] = mapped_column(String(32))
    ef: Mapped[float] = mapped_column(Float)
    ef_unit: Mapped[str] = mapped_column(String(64))
    tco2: Mapped[float] = mapped_column(Float)
    net_tco2: Mapped[float] = mapped_column(Float)
    formula_id: Mapped[int | None] = mapped_column(ForeignKey("mm_formula.id"))
    formula_name: Mapped[str] = mapped_column(String(200))
    formula_version: Mapped[str] = mapped_column(String(16))
    formula_expression: Mapped[str] = mapped_column(Text)
    factors: Mapped[list[dict[str, object]]] = mapped_column(JSON)  # [{id, version, value, unit, source, grade}]
    measured: Mapped[list[str]] = mapped_column(JSON)
    inputs: Mapped[dict[str, float | None]] = mapped_column(JSON)  # quantity (converted) and parameters
    record_ids: Mapped[list[int]] = mapped_column(JSON)

    run: Mapped[AccountingRun] = relationship()
    binding: Mapped[Binding | None] = relationship()
    organization: Mapped[Organization] = relationship()
    main_process: Mapped[Process | None] = relationship()
    subprocess: Mapped[SubProcess | None] = relationship()
    formula: Mapped[Formula | None] = relationship()
