"""Benchmark intensity values (对标值), kept as data with their sources."""

from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orgcarbon.metamodel.models import Organization


class Benchmark(Model):
    """An intensity benchmark: tCO2 per tonne of a product, for a process or the whole enterprise.

    ``process_name`` empty means the enterprise (per t crude steel); otherwise it names a process
    (炼铁, 转炉炼钢 …) as the metamodel names it. ``organization_id`` empty means every organisation.
    """

    __tablename__ = "an_benchmark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("mm_organization.id"), index=True)
    process_name: Mapped[str | None] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(100), default="粗钢")
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32), default="tCO2/t")
    scope: Mapped[str] = mapped_column(String(8), default="total")  # total | direct
    year: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization | None] = relationship()

    def __str__(self) -> str:
        return self.name
