"""One GROUP BY over a selection's lines, from which most panorama and intensity figures are summed.

The database groups the lines by run, organisation node, process, term and month, with the signed
tCO2, its direct part, the crude steel produced and the line count of each group (a few thousand
groups for a 20-plant year). Totals, months, categories, processes, organisations, crude steel
and completeness are then sums over those groups (``math.fsum``, so the order of addition does
not move the last digit). One scan of the lines instead of one per chart is what keeps an
uncached panorama fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from orgcarbon.analysis import queries as q

K = TypeVar("K", bound=Hashable)

_DIRECT = func.sum(case((q.LINE.c.scope == "direct", q.LINE.c.net_tco2), else_=0.0))
_CRUDE = func.sum(case((and_(q.LINE.c.category == q.INTENSITY_CATEGORY, q.LINE.c.material == q.INTENSITY_MATERIAL),
                        q.LINE.c.activity), else_=0.0))


@dataclass(frozen=True)
class Fact:
    """The lines of one organisation node, process, term and month, summed."""

    organization_id: int
    organization: str
    process_id: int | None
    process: str | None
    term: str
    month: str
    net: float
    direct: float
    crude: float  # t crude steel (activity of the fixed-carbon product 粗钢 lines)
    lines: int


@dataclass(frozen=True)
class Sums:
    """Signed tCO2, its direct part, crude steel and the line count of a group of facts."""

    net: float = 0.0
    direct: float = 0.0
    crude: float = 0.0
    lines: int = 0


def facts(session: Session, sel: q.Selection) -> list[Fact]:
    """The selection's lines grouped by node, process, term and month (one query, names looked up)."""
    keys = (q.LINE.c.run_id, q.LINE.c.organization_id, q.LINE.c.process_id, q.LINE.c.term, q.LINE.c.month)
    query = (select(*keys, func.sum(q.LINE.c.net_tco2), _DIRECT, _CRUDE, func.count())
             .where(sel.runs_where()).group_by(*keys))
    rows = [r for r in session.execute(query) if sel.keeps(r[0], r[1])]
    orgs = q.names(session, q.ORG, (r[1] for r in rows))
    processes = q.names(session, q.PROC, (r[2] for r in rows))
    # A node read from one run only (``keeps``), so (node, process, term, month) stays unique.
    return [Fact(int(o), orgs.get(o, ""), p, processes.get(p) if p is not None else None, t, m,
                 float(n or 0.0), float(d or 0.0), float(c or 0.0), int(k or 0))
            for _run, o, p, t, m, n, d, c, k in rows]


def total(rows: Iterable[Fact | Sums]) -> Sums:
    """Facts (or sums) added up."""
    rows = list(rows)
    return Sums(math.fsum(r.net for r in rows), math.fsum(r.direct for r in rows),
                math.fsum(r.crude for r in rows), sum(r.lines for r in rows))


def sum_by(rows: Iterable[Fact], key: Callable[[Fact], K]) -> dict[K, Sums]:
    """Facts summed per ``key`` (in first-seen order)."""
    groups: dict[K, list[Fact]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return {k: total(v) for k, v in groups.items()}


def months_with_data(rows: Iterable[Fact]) -> dict[int, int]:
    """Per organisation node, the number of months it has lines in."""
    seen: dict[int, set[str]] = {}
    for row in rows:
        if row.lines:
            seen.setdefault(row.organization_id, set()).add(row.month)
    return {node: len(months) for node, months in seen.items()}


def yearly(session: Session, selections: Iterable[q.Selection]) -> dict[str, Sums]:
    """Signed tCO2, direct part and crude steel per ``YYYY-MM`` month of selections of different years."""
    by_year = {s.period.year: s for s in selections if s.slices}
    if not by_year:
        return {}
    keys = (q.LINE.c.run_id, q.LINE.c.organization_id, q.LINE.c.month)
    query = (select(*keys, func.sum(q.LINE.c.net_tco2), _DIRECT, _CRUDE, func.count())
             .where(or_(*[s.runs_where() for s in by_year.values()])).group_by(*keys))
    groups: dict[str, list[Sums]] = {}
    for run_id, org_id, month, n, d, c, k in session.execute(query):
        if by_year[int(month[:4])].keeps(run_id, org_id):
            groups.setdefault(month, []).append(Sums(float(n or 0.0), float(d or 0.0), float(c or 0.0), int(k or 0)))
    return {m: total(v) for m, v in groups.items()}


def as_totals(sums: Sums) -> dict[str, Any]:
    """The panorama's ``totals`` block."""
    return {"total": sums.net, "direct": sums.direct, "indirect": sums.net - sums.direct, "lines": sums.lines}


def completeness(rows: Iterable[Fact], period: q.Period) -> dict[str, Any]:
    """Months with data out of the months expected, for every node that reported in the period."""
    per_node = months_with_data(rows)
    expected = len(period.months) * len(per_node)
    present = sum(per_node.values())
    return {"months_with_data": present, "months_expected": expected,
            "ratio": present / expected if expected else 0.0, "nodes": len(per_node)}
