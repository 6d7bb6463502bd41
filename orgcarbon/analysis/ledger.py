"""碳账本: the selection's result lines with names, filtered and paginated (a query, no aggregation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.analysis.queries import LINE, ORG, PROC, SUB, Selection

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class LedgerFilter:
    """Optional equality filters of the ledger; empty values do not filter."""

    organization_id: int | None = None
    process_id: int | None = None
    category: str | None = None
    material: str | None = None
    month: str | None = None

    def apply(self, query: Any) -> Any:
        """``query`` narrowed by the filters that are set."""
        for column, value in ((LINE.c.organization_id, self.organization_id), (LINE.c.process_id, self.process_id),
                              (LINE.c.category, self.category), (LINE.c.material, self.material),
                              (LINE.c.month, self.month)):
            if value not in (None, ""):
                query = query.where(column == value)
        return query


COLUMNS = (LINE.c.id, LINE.c.run_id, LINE.c.month, ORG.c.name.label("organization"),
           PROC.c.name.label("process"), SUB.c.name.label("subprocess"), LINE.c.material, LINE.c.category,
           LINE.c.term, LINE.c.scope, LINE.c.activity, LINE.c.activity_unit, LINE.c.ef, LINE.c.ef_unit,
           LINE.c.tco2, LINE.c.net_tco2, LINE.c.formula_name, LINE.c.formula_version, LINE.c.organization_id,
           LINE.c.process_id, LINE.c.sign)
SOURCE = (LINE.outerjoin(ORG, ORG.c.id == LINE.c.organization_id).outerjoin(PROC, PROC.c.id == LINE.c.process_id)
          .outerjoin(SUB, SUB.c.id == LINE.c.subprocess_id))


def lines(session: Session, sel: Selection, flt: LedgerFilter, page: int = 0,
          page_size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int, float]:
    """One page of lines (ordered by month, organisation, process, line), their count and signed sum."""
    base = flt.apply(select(*COLUMNS).select_from(SOURCE).where(sel.where()))
    count, total = session.execute(
        flt.apply(select(func.count(), func.sum(LINE.c.net_tco2)).select_from(LINE).where(sel.where()))
    ).one()
    query = base.order_by(LINE.c.month, ORG.c.name, PROC.c.name, LINE.c.id).offset(page * page_size).limit(page_size)
    return [dict(row._mapping) for row in session.execute(query)], int(count or 0), float(total or 0.0)


def facets(session: Session, sel: Selection) -> dict[str, list[Any]]:
    """The values the ledger's filters offer: organisations, processes, categories, materials, months."""
    def pairs(id_col: Any, name_col: Any, table: Any) -> list[tuple[Any, Any]]:
        source = LINE.join(table, id_col == table.c.id)
        return list(session.execute(select(id_col, name_col).select_from(source).where(sel.where())
                                    .group_by(id_col, name_col).order_by(name_col)).all())

    def values(column: Any) -> list[Any]:
        return list(session.scalars(select(column).where(sel.where()).group_by(column).order_by(column)))

    return {"organizations": pairs(LINE.c.organization_id, ORG.c.name, ORG),
            "processes": pairs(LINE.c.process_id, PROC.c.name, PROC),
            "categories": values(LINE.c.category), "materials": values(LINE.c.material),
            "months": values(LINE.c.month)}
