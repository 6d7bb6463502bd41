"""Aggregation queries over stored result lines (SQLAlchemy Core, GROUP BY in the database).

Which lines count: for each organisation × year the newest run with status ``done`` (a superseded
run has another status, so a restatement replaces it). When runs overlap (a group run and a later
run of one plant), each organisation node's lines come from the newest run covering that node, so
nothing is counted twice. Everything is then limited to the requested organisation subtree, the
caller's readable scope and the requested months.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.metamodel.models import Organization, Process, SubProcess
from orgcarbon.rules.model import TERM_NAMES
from orgcarbon.security.scope import subtree_ids

LINE = ResultLine.__table__
RUN = AccountingRun.__table__
ORG = Organization.__table__
PROC = Process.__table__
SUB = SubProcess.__table__

INTENSITY_CATEGORY = "fixed_carbon_product"  # as orgcarbon.rules.model.AccountingModel defines it
INTENSITY_MATERIAL = "粗钢"
TOP_SOURCES = 10


@dataclass(frozen=True)
class Period:
    """A year and an inclusive month range within it."""

    year: int
    month_from: int = 1
    month_to: int = 12

    def __post_init__(self) -> None:
        if not (1 <= self.month_from <= self.month_to <= 12):
            raise ValueError("month range must satisfy 1 ≤ from ≤ to ≤ 12")

    @property
    def months(self) -> tuple[str, ...]:
        """The ``YYYY-MM`` months of the period."""
        return tuple(f"{self.year}-{m:02d}" for m in range(self.month_from, self.month_to + 1))

    def last_year(self) -> Period:
        """The same months one year earlier."""
        return Period(self.year - 1, self.month_from, self.month_to)


@dataclass(frozen=True)
class Selection:
    """The lines of a period: per chosen run, the organisation nodes it answers for."""

    period: Period
    slices: tuple[tuple[int, tuple[int, ...]], ...]  # (run id, node ids)
    nodes: tuple[int, ...] = field(default=())  # every node asked for (readable part of the subtree)

    @property
    def run_ids(self) -> tuple[int, ...]:
        """The runs the selection reads (part of every cache key)."""
        return tuple(run_id for run_id, _ in self.slices)

    def key(self) -> dict[str, Any]:
        """JSON-able identity of the selection for cache keys."""
        return {"year": self.period.year, "from": self.period.month_from, "to": self.period.month_to,
                "slices": [[r, list(n)] for r, n in self.slices]}

    def where(self) -> Any:
        """The WHERE clause picking the selection's lines."""
        if not self.slices:
            return false()
        runs = [and_(LINE.c.run_id == run_id, LINE.c.organization_id.in_(nodes)) for run_id, nodes in self.slices]
        return and_(or_(*runs), LINE.c.month.in_(self.period.months))


def wanted_nodes(session: Session, org_id: int | None, readable: Iterable[int] | None) -> frozenset[int]:
    """Nodes of ``org_id``'s subtree (every node when None) that the caller may read."""
    nodes = (subtree_ids(session, [org_id]) if org_id is not None
             else frozenset(session.scalars(select(ORG.c.id))))
    return nodes if readable is None else nodes & frozenset(readable)


def select_lines(session: Session, period: Period, nodes: frozenset[int]) -> Selection:
    """The current runs of ``period.year`` and the nodes each answers for, within ``nodes``."""
    runs = session.execute(
        select(RUN.c.id, RUN.c.organization_id).where(RUN.c.year == period.year, RUN.c.status == "done")
        .order_by(RUN.c.id.desc())
    ).all()
    children: dict[int | None, list[int]] = {}
    for node, parent in session.execute(select(ORG.c.id, ORG.c.parent_id)):
        children.setdefault(parent, []).append(node)
    covered: set[int] = set()
    seen_orgs: set[int] = set()
    slices: list[tuple[int, tuple[int, ...]]] = []
    for run_id, org_id in runs:
        if org_id in seen_orgs:
            continue  # an older run of the same organisation and year
        seen_orgs.add(org_id)
        provides = _subtree(children, org_id) - covered
        covered |= provides
        mine = sorted(provides & nodes)
        if mine:
            slices.append((int(run_id), tuple(mine)))
    return Selection(period, tuple(sorted(slices)), tuple(sorted(nodes)))


def _subtree(children: dict[int | None, list[int]], root: int) -> set[int]:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(children.get(node, ()))
    return seen


def _f(value: Any) -> float:
    return float(value or 0.0)


def totals(session: Session, sel: Selection) -> dict[str, float]:
    """Total (with indirect), direct and indirect tCO2 and the number of lines."""
    direct = func.sum(case((LINE.c.scope == "direct", LINE.c.net_tco2), else_=0.0))
    total, direct_value, count = session.execute(
        select(func.sum(LINE.c.net_tco2), direct, func.count()).where(sel.where())
    ).one()
    return {"total": _f(total), "direct": _f(direct_value), "indirect": _f(total) - _f(direct_value),
            "lines": int(count or 0)}


def _grouped(session: Session, sel: Selection, *columns: Any, joins: Sequence[tuple[Any, Any]] = ()) -> list[Any]:
    source: Any = LINE
    for table, on in joins:
        source = source.outerjoin(table, on)
    query = (select(*columns, func.sum(LINE.c.net_tco2).label("net")).select_from(source).where(sel.where())
             .group_by(*columns))
    return list(session.execute(query).all())


def with_shares(rows: list[dict[str, Any]], total: float) -> list[dict[str, Any]]:
    """Add ``share`` (per cent of the signed total; deductions are negative) and sort by value."""
    for row in rows:
        row["share"] = row["value"] / total * 100.0 if total else 0.0
    return sorted(rows, key=lambda r: -r["value"])


def by_category(session: Session, sel: Selection, total: float) -> list[dict[str, Any]]:
    """Signed tCO2 per term of the standard (E燃烧, E过程, … deductions negative)."""
    rows = _grouped(session, sel, LINE.c.term)
    return with_shares([{"key": t, "name": TERM_NAMES.get(t, t), "value": _f(v)} for t, v in rows], total)


def by_process(session: Session, sel: Selection, total: float) -> list[dict[str, Any]]:
    """Signed tCO2 and contribution rate per process (organisation node and process name)."""
    rows = _grouped(session, sel, ORG.c.name, PROC.c.name,
                    joins=[(ORG, ORG.c.id == LINE.c.organization_id), (PROC, PROC.c.id == LINE.c.process_id)])
    return with_shares([{"organization": o, "name": p or "—", "value": _f(v)} for o, p, v in rows], total)


def by_subprocess(session: Session, sel: Selection, total: float) -> list[dict[str, Any]]:
    """Signed tCO2 and contribution rate per sub-process."""
    rows = _grouped(session, sel, PROC.c.name, SUB.c.name,
                    joins=[(PROC, PROC.c.id == LINE.c.process_id), (SUB, SUB.c.id == LINE.c.subprocess_id)])
    return with_shares([{"process": p or "—", "name": s or "—", "value": _f(v)} for p, s, v in rows], total)


def by_organization(session: Session, sel: Selection, total: float) -> list[dict[str, Any]]:
    """Signed tCO2 per organisation node the lines belong to (plants)."""
    rows = _grouped(session, sel, ORG.c.id, ORG.c.name, joins=[(ORG, ORG.c.id == LINE.c.organization_id)])
    return with_shares([{"id": i, "name": n, "value": _f(v)} for i, n, v in rows], total)


def by_month(session: Session, sel: Selection) -> dict[str, float]:
    """Signed tCO2 per ``YYYY-MM`` month."""
    return {m: _f(v) for m, v in _grouped(session, sel, LINE.c.month)}


def top_sources(session: Session, sel: Selection, total: float, limit: int = TOP_SOURCES) -> list[dict[str, Any]]:
    """The largest emitting sources: organisation, process, material and category, by tCO2."""
    columns = (ORG.c.name, PROC.c.name, LINE.c.material, LINE.c.category)
    source = LINE.outerjoin(ORG, ORG.c.id == LINE.c.organization_id).outerjoin(PROC, PROC.c.id == LINE.c.process_id)
    net = func.sum(LINE.c.net_tco2)
    query = (select(*columns, net).select_from(source).where(sel.where()).group_by(*columns)
             .order_by(net.desc()).limit(limit))
    rows = [{"organization": o, "process": p or "—", "material": m, "category": c, "value": _f(v),
             "share": _f(v) / total * 100.0 if total else 0.0} for o, p, m, c, v in session.execute(query)]
    return rows


def product_tonnes(session: Session, sel: Selection) -> dict[str, float]:
    """Crude steel produced per month (t): the activity of the fixed-carbon product 粗钢 lines."""
    query = (select(LINE.c.month, func.sum(LINE.c.activity)).where(
        sel.where(), LINE.c.category == INTENSITY_CATEGORY, LINE.c.material == INTENSITY_MATERIAL)
        .group_by(LINE.c.month))
    return {m: _f(v) for m, v in session.execute(query)}


def intensity(total: float, direct: float, tonnes: float) -> dict[str, Any] | None:
    """tCO2 per t crude steel, total and direct, as the rules engine computes it (None without output)."""
    if tonnes <= 0:
        return None
    return {"product": INTENSITY_MATERIAL, "quantity_t": tonnes, "total_per_t": total / tonnes,
            "direct_per_t": direct / tonnes}


def completeness(session: Session, sel: Selection) -> dict[str, Any]:
    """Months with data out of the months expected, for every node that reported in the year."""
    pairs = select(LINE.c.organization_id, LINE.c.month).where(sel.where()).distinct().subquery()
    per_node = dict(session.execute(select(pairs.c.organization_id, func.count()).group_by(pairs.c.organization_id)).all())
    expected = len(sel.period.months) * len(per_node)
    present = int(sum(per_node.values()))
    return {"months_with_data": present, "months_expected": expected,
            "ratio": present / expected if expected else 0.0, "nodes": len(per_node)}


def trend(this_year: dict[str, float], last_year: dict[str, float], period: Period) -> list[dict[str, Any]]:
    """Each month against the same month of the previous year (change in per cent, None without a base)."""
    rows = []
    for month in period.months:
        now = this_year.get(month)
        before = last_year.get(f"{period.year - 1}{month[4:]}")
        change = (now - before) / abs(before) * 100.0 if now is not None and before else None
        rows.append({"month": month, "value": now, "last_year": before, "change": change})
    return rows


def intensity_trend(month_totals: dict[str, float], tonnes: dict[str, float], period: Period) -> list[dict[str, Any]]:
    """Monthly tCO2 per t crude steel."""
    return [{"month": m, "value": month_totals[m] / tonnes[m] if tonnes.get(m) and m in month_totals else None}
            for m in period.months]
