"""Versioned tables: factors and fuel parameters, formulas, bindings and accounting models.

A row is one version. Rows of one lineage share ``code`` (factors, bindings) or ``name``
(formulas, models). A draft is edited in place; a published version never changes again (see
``versioning.py``): publishing the next version marks the previous one superseded, which is what
makes "as of date D" a query.
"""

from __future__ import annotations

import datetime as dt
import uuid

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orgcarbon.metamodel.models import Material, Organization, SubProcess


class VersionedMixin:
    """Columns every versioned table shares."""

    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_frozen(self) -> bool:
        """Published and superseded versions are immutable."""
        return self.status in ("published", "superseded")


class Factor(VersionedMixin, Model):
    """An emission factor or a fuel parameter (NCV, CC, OF) with its source and validity."""

    __tablename__ = "mm_factor"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    material_id: Mapped[int] = mapped_column(ForeignKey("mm_material.id"), index=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(64))
    regime: Mapped[str] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(16))
    year: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(500))
    clause: Mapped[str | None] = mapped_column(String(200))
    grade: Mapped[str] = mapped_column(String(1), default="C")
    measured: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)

    material: Mapped[Material] = relationship()

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class Formula(VersionedMixin, Model):
    """emission = (activity) × (factor): two expressions of the one expression language."""

    __tablename__ = "mm_formula"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    activity: Mapped[str] = mapped_column(Text)
    factor: Mapped[str] = mapped_column(Text)
    variables: Mapped[str] = mapped_column(Text)  # "quantity=t, ncv=GJ/t, cc=tC/GJ, of=1"
    activity_unit: Mapped[str | None] = mapped_column(String(64))
    factor_unit: Mapped[str | None] = mapped_column(String(64))
    result_unit: Mapped[str] = mapped_column(String(64), default="tCO2")
    description: Mapped[str | None] = mapped_column(Text)
    test_cases: Mapped[str | None] = mapped_column(Text)  # JSON [{"inputs": {...}, "expected": x}]

    @property
    def expression(self) -> str:
        """The whole formula as one expression."""
        return f"({self.activity}) * ({self.factor})"

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


def _binding_code() -> str:
    return f"binding-{uuid.uuid4().hex[:10]}"


class Binding(VersionedMixin, Model):
    """A material entering or leaving a sub-process, under an emission category and a formula."""

    __tablename__ = "mm_binding"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(200), index=True, default=_binding_code)
    organization_id: Mapped[int] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    subprocess_id: Mapped[int] = mapped_column(ForeignKey("mm_subprocess.id"), index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("mm_material.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8), default="in")
    category: Mapped[str] = mapped_column(String(32))
    formula_id: Mapped[int] = mapped_column(ForeignKey("mm_formula.id"), index=True)

    organization: Mapped[Organization] = relationship()
    subprocess: Mapped[SubProcess] = relationship()
    material: Mapped[Material] = relationship()
    formula: Mapped[Formula] = relationship()

    def __str__(self) -> str:
        return f"{self.subprocess} · {self.material} v{self.version}"


model_binding = Table(
    "mm_model_binding",
    Model.metadata,
    Column("model_id", ForeignKey("mm_accounting_model.id", ondelete="CASCADE"), primary_key=True),
    Column("binding_id", ForeignKey("mm_binding.id"), primary_key=True),
)


class AccountingModel(VersionedMixin, Model):
    """A named, versioned set of bindings (and through them formulas) for one standard."""

    __tablename__ = "mm_accounting_model"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    standard: Mapped[str] = mapped_column(String(200), default="GB/T 32151.5-2015")
    regime: Mapped[str] = mapped_column(String(100), default="GB/T 32151.5-2015")
    # None: a model every organisation may use; else the node whose subtree owns it.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization | None] = relationship()
    bindings: Mapped[list[Binding]] = relationship(secondary=model_binding)

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
