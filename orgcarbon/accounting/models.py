"""Tables of accounting runs and their result lines (lineage is data: ids of what a line came from).

Result lines are derived data written in bulk with Core inserts, so the audit listener (which
sees ORM flushes only) does not record them one by one; the run row is an ORM insert and is
audited, and it carries the digest of the inputs the lines were computed from.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orgcarbon.metamodel.models import Organization, Process, SubProcess
from orgcarbon.metamodel.versioned import AccountingModel, Binding, Factor, Formula


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
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|done|failed|superseded
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
    # Set (with status "superseded") when an approved restatement replaced this run; never edited otherwise.
    superseded_by_id: Mapped[int | None] = mapped_column(Integer, index=True)

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


class Restatement(Model):
    """A modeller's decision on a factor change: ``freeze`` past runs or ``restate`` them.

    A ``restate`` request holds the factor version, the affected runs (``RestatementRun``) and a
    preview (``RestatementDiff``) computed without storing any run; it is applied only when a
    different user approves it. Status: pending → applied | rejected; a ``freeze`` decision is
    recorded as ``frozen`` at once (nothing changes).
    """

    __tablename__ = "ac_restatement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    factor_id: Mapped[int] = mapped_column(ForeignKey("mm_factor.id"), index=True)
    factor_code: Mapped[str] = mapped_column(String(200))
    factor_version: Mapped[int] = mapped_column(Integer)
    policy: Mapped[str] = mapped_column(String(16))  # freeze | restate
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|applied|rejected|frozen
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    requested_by_name: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    decided_by_name: Mapped[str | None] = mapped_column(String(100))
    before_tco2: Mapped[float | None] = mapped_column(Float)
    after_tco2: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)

    factor: Mapped[Factor] = relationship()
    runs: Mapped[list[RestatementRun]] = relationship(back_populates="restatement", order_by="RestatementRun.id",
                                                      cascade="all, delete-orphan")
    diffs: Mapped[list[RestatementDiff]] = relationship(back_populates="restatement", order_by="RestatementDiff.id",
                                                        cascade="all, delete-orphan")

    def __str__(self) -> str:
        return f"{self.factor_code} v{self.factor_version} {self.policy} #{self.id}"


class RestatementRun(Model):
    """One run a restatement covers: its totals before and after, and the run that replaced it."""

    __tablename__ = "ac_restatement_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restatement_id: Mapped[int] = mapped_column(ForeignKey("ac_restatement.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ac_run.id"), index=True)
    new_run_id: Mapped[int | None] = mapped_column(ForeignKey("ac_run.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    before_tco2: Mapped[float] = mapped_column(Float)
    after_tco2: Mapped[float] = mapped_column(Float)
    data_changed: Mapped[bool] = mapped_column(Boolean, default=False)  # activity rows changed since the run

    restatement: Mapped[Restatement] = relationship(back_populates="runs")
    run: Mapped[AccountingRun] = relationship(foreign_keys=[run_id])
    new_run: Mapped[AccountingRun | None] = relationship(foreign_keys=[new_run_id])
    organization: Mapped[Organization] = relationship()


class RestatementDiff(Model):
    """Preview row: one run's signed tCO2 of one organisation node, process and month, before and after."""

    __tablename__ = "ac_restatement_diff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restatement_id: Mapped[int] = mapped_column(ForeignKey("ac_restatement.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ac_run.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("mm_process.id"))
    month: Mapped[str] = mapped_column(String(7))
    before_tco2: Mapped[float] = mapped_column(Float)
    after_tco2: Mapped[float] = mapped_column(Float)
    diff_tco2: Mapped[float] = mapped_column(Float)

    restatement: Mapped[Restatement] = relationship(back_populates="diffs")
    organization: Mapped[Organization] = relationship()
    main_process: Mapped[Process | None] = relationship()
