"""Aggregation queries over stored result lines (SQLAlchemy Core, GROUP BY in the database).

Which lines count: for each organisation × year the newest run with status ``done`` (a superseded
run has another status, so a restatement replaces it). When runs overlap (a group run and a later
run of one plant), each organisation node's lines come from the newest run covering that node, so
nothing is counted twice. Everything is then limited to the requested organisation subtree, the
caller's readable scope and the requested months.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import and_, bindparam, false, func, or_, select
from sqlalchemy.orm import Session

from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.analysis import pieces
from orgcarbon.metamodel.models import Organization, Process, SubProcess

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

    def runs_where(self) -> Any:
        """A coarser WHERE: the selection's runs and months, without the nodes of each run.

        PostgreSQL misjudges the size of ``where()`` (run and node are correlated) and sorts;
        this single IN list it sizes right and hashes, several times faster. Grouped queries use
        it, keep ``run_id`` and ``organization_id`` among their keys and drop the pairs outside
        the selection with ``keeps``: the result is exactly that of ``where()``.
        """
        if not self.slices:
            return false()
        return and_(LINE.c.run_id.in_(self.run_ids), LINE.c.month.in_(self.period.months))

    @cached_property
    def _pairs(self) -> dict[int, frozenset[int]]:
        return {run_id: frozenset(nodes) for run_id, nodes in self.slices}

    def keeps(self, run_id: int, organization_id: int) -> bool:
        """True when the selection reads ``organization_id``'s lines from run ``run_id``."""
        return organization_id in self._pairs.get(run_id, ())


def _request_memo() -> dict[str, Any] | None:
    """A dict living for the current request (None outside one): the organisation tree and the
    runs do not change while one request reads them, and a page asks for them several times."""
    from flask import has_request_context, request

    if not has_request_context():
        return None
    # In the WSGI environ, not in ``g``: ``g`` outlives the request when an app context was open.
    memo: dict[str, Any] = request.environ.setdefault("orgcarbon.analysis_memo", {})
    return memo


def org_children(session: Session) -> dict[int | None, list[int]]:
    """Each organisation node's children (``None``: the roots); never mutate the answer.

    Kept per process like the permissions (``permission_cache.derived``): the tree is one of the
    security tables whose changes renew the stamp, so a new or moved node shows at once.
    """
    memo = _request_memo()
    if memo is not None and "children" in memo:
        return memo["children"]  # type: ignore[no-any-return]
    from orgcarbon.security.permission_cache import derived

    children: dict[int | None, list[int]] = derived(("analysis", "org_children"), lambda: _read_tree(session), session)
    if memo is not None:
        memo["children"] = children
    return children


def _read_tree(session: Session) -> dict[int | None, list[int]]:
    children: dict[int | None, list[int]] = {}
    for node, parent in session.execute(select(ORG.c.id, ORG.c.parent_id)):
        children.setdefault(parent, []).append(node)
    return children


def done_runs(session: Session, years: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
    """(run id, organisation id) of the ``done`` runs of each year, newest first.

    The whole list is kept per process like the organisation tree (``permission_cache.derived``:
    storing, superseding or restating a run renews the stamp, so a new run counts at once).
    """
    memo = _request_memo()
    if memo is not None and "runs" in memo:
        runs: dict[int, list[tuple[int, int]]] = memo["runs"]
    else:
        from orgcarbon.security.permission_cache import derived

        runs = derived(("analysis", "done_runs"), lambda: _read_runs(session), session)
        if memo is not None:
            memo["runs"] = runs
    return {y: runs.get(y, []) for y in set(years)}


def _read_runs(session: Session) -> dict[int, list[tuple[int, int]]]:
    found: dict[int, list[tuple[int, int]]] = {}
    for run_id, org_id, year in session.execute(
            select(RUN.c.id, RUN.c.organization_id, RUN.c.year).where(RUN.c.status == "done")
            .order_by(RUN.c.id.desc())):
        found.setdefault(int(year), []).append((int(run_id), int(org_id)))
    return found


def wanted_nodes(session: Session, org_id: int | None, readable: Iterable[int] | None) -> frozenset[int]:
    """Nodes of ``org_id``'s subtree (every node when None) that the caller may read."""
    children = org_children(session)
    nodes = (frozenset(subtree_of(children, org_id)) if org_id is not None
             else frozenset(n for kids in children.values() for n in kids))
    return nodes if readable is None else nodes & frozenset(readable)


def select_lines(session: Session, period: Period, nodes: frozenset[int]) -> Selection:
    """The current runs of ``period.year`` and the nodes each answers for, within ``nodes``.

    Kept per process like the runs and the tree it is made of (``permission_cache.derived``: a new
    run or a moved node renews the stamp); a dashboard asks for the same few selections again.
    """
    from orgcarbon.security.permission_cache import derived

    selection: Selection = derived(("analysis", "selection", period, nodes),
                                   lambda: _select_lines(session, period, nodes), session)
    return selection


def _select_lines(session: Session, period: Period, nodes: frozenset[int]) -> Selection:
    runs = done_runs(session, [period.year])[period.year]
    children = org_children(session)
    covered: set[int] = set()
    seen_orgs: set[int] = set()
    slices: list[tuple[int, tuple[int, ...]]] = []
    for run_id, org_id in runs:
        if org_id in seen_orgs:
            continue  # an older run of the same organisation and year
        seen_orgs.add(org_id)
        provides = subtree_of(children, org_id) - covered
        covered |= provides
        mine = sorted(provides & nodes)
        if mine:
            slices.append((int(run_id), tuple(mine)))
    return Selection(period, tuple(sorted(slices)), tuple(sorted(nodes)))


def subtree_of(children: dict[int | None, list[int]], root: int) -> set[int]:
    """``root`` and every node below it, from an ``org_children`` map."""
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


_STATEMENTS: dict[Hashable, Any] = {}


def statement(key: Hashable, build: Callable[[], Any]) -> Any:
    """The statement under ``key``, built once per process: its values go in as (expanding) bind
    parameters, so a piece load neither builds nor hashes a new statement each time."""
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS.setdefault(key, build())
    return found


def in_list(name: str) -> Any:
    """An expanding bind parameter: ``column.in_(in_list("ids"))`` takes a list at execution."""
    return bindparam(name, expanding=True)


def names(session: Session, table: Any, ids: Iterable[int | None]) -> dict[int, str]:
    """``id → name`` of the rows of ``table`` (organisations, processes, sub-processes) among ``ids``.

    Kept in the piece store (``pieces.py``): only ids not seen in the last ten minutes are read.
    """
    wanted = {i for i in ids if i is not None}

    def load(keys: list[Any]) -> dict[Any, Any]:
        query = statement(("names", table.name),
                          lambda: select(table.c.id, table.c.name).where(table.c.id.in_(in_list("ids"))))
        found = dict(session.execute(query, {"ids": sorted(k[2] for k in keys)}).all())
        return {k: found.get(k[2]) for k in keys}

    got = pieces.store().get_many([("name", table.name, i) for i in wanted], load)
    return {key[2]: name for key, name in got.items() if name is not None}


def grouped(session: Session, sel: Selection, *columns: Any, name: str, where: Any = None,
            value: Any = None) -> list[tuple[Any, ...]]:
    """Sum of ``value`` (default: signed tCO2) per node and ``columns`` within the selection:
    ``(org, *columns, sum)`` rows, exactly as ``where()`` would give.

    Each run's groups for the period's months are read once per process (``pieces.py``; ``name``
    tells the groupings apart: one per ``columns``/``where``/``value``, and names the statement,
    built once). The database reads only runs not seen before, by run and month as
    ``runs_where()`` does (see there), and ``keeps``' test picks each run's nodes.
    """
    period = sel.period
    months = (period.year, period.month_from, period.month_to)

    def build() -> Any:
        measure = func.sum(LINE.c.net_tco2 if value is None else value)
        return (select(LINE.c.run_id, LINE.c.organization_id, *columns, measure)
                .where(LINE.c.run_id.in_(in_list("runs")), LINE.c.month.in_(in_list("months")),
                       *(() if where is None else (where,)))
                .group_by(LINE.c.run_id, LINE.c.organization_id, *columns))

    def load(keys: list[Any]) -> dict[Any, Any]:
        runs = sorted(k[2] for k in keys)
        query = statement(("grouped", name), build)
        per_run: dict[int, list[tuple[Any, ...]]] = {r: [] for r in runs}
        for run_id, *rest in session.execute(query, {"runs": runs, "months": list(period.months)}):
            per_run[int(run_id)].append((*rest[:-1], _f(rest[-1])))
        return {k: per_run[k[2]] for k in keys}

    got = pieces.store().get_many([(f"grouped:{name}", months, r) for r in sel.run_ids], load)
    out: dict[tuple[Any, ...], float] = {}
    for run_id, nodes in sel.slices:
        wanted = frozenset(nodes)
        for row in got[(f"grouped:{name}", months, run_id)]:
            if row[0] in wanted:
                key = row[:-1]
                out[key] = out.get(key, 0.0) + row[-1]
    return [(*key, net) for key, net in out.items()]


def with_shares(rows: list[dict[str, Any]], total: float) -> list[dict[str, Any]]:
    """Add ``share`` (per cent of the signed total; deductions are negative) and sort by value."""
    for row in rows:
        row["share"] = row["value"] / total * 100.0 if total else 0.0
    return sorted(rows, key=lambda r: -r["value"])


def by_subprocess(session: Session, sel: Selection, total: float) -> list[dict[str, Any]]:
    """Signed tCO2 and contribution rate per sub-process (by process and sub-process name)."""
    rows = grouped(session, sel, LINE.c.process_id, LINE.c.subprocess_id, name="subprocess")
    processes = names(session, PROC, (r[1] for r in rows))
    subs = names(session, SUB, (r[2] for r in rows))
    out: dict[tuple[str, str], float] = {}
    for _org, process_id, sub_id, net in rows:
        key = (processes.get(process_id) or "—", subs.get(sub_id) or "—")
        out[key] = out.get(key, 0.0) + net
    return with_shares([{"process": p, "name": n, "value": v} for (p, n), v in out.items()], total)


def top_sources(session: Session, sel: Selection, total: float, limit: int = TOP_SOURCES) -> list[dict[str, Any]]:
    """The largest emitting sources: organisation, process, material and category, by tCO2."""
    rows = grouped(session, sel, LINE.c.process_id, LINE.c.material, LINE.c.category, name="source")
    orgs = names(session, ORG, (r[0] for r in rows))
    processes = names(session, PROC, (r[1] for r in rows))
    out: dict[tuple[str, str, str, str], float] = {}
    for org_id, process_id, material, category, net in rows:
        key = (orgs.get(org_id, ""), processes.get(process_id) or "—", material, category)
        out[key] = out.get(key, 0.0) + net
    top = sorted(out.items(), key=lambda item: -item[1])[:limit]
    return [{"organization": o, "process": p, "material": m, "category": c, "value": v,
             "share": v / total * 100.0 if total else 0.0} for (o, p, m, c), v in top]


def intensity(total: float, direct: float, tonnes: float) -> dict[str, Any] | None:
    """tCO2 per t crude steel, total and direct, as the rules engine computes it (None without output)."""
    if tonnes <= 0:
        return None
    return {"product": INTENSITY_MATERIAL, "quantity_t": tonnes, "total_per_t": total / tonnes,
            "direct_per_t": direct / tonnes}


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
