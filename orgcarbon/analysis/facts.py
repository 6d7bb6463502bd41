"""One GROUP BY per run, from which most panorama and intensity figures are summed.

The database groups a run's lines by organisation node, process, term and month, with the signed
tCO2, its direct part, the crude steel produced and the line count of each group (a few hundred
groups per plant and year). Those facts are kept per run and process (``pieces.py``), with their
sums per node and month with the process, with the term, and with neither. Totals, months,
categories, processes, organisations, crude steel and completeness of any selection are then sums
over the matching kind (``math.fsum``, so the order of addition does not move the last digit).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from orgcarbon.analysis import pieces
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


LEVELS = ("line", "process", "term", "node")


def run_facts(session: Session, run_ids: Iterable[int], level: str = "line") -> dict[int, tuple[Fact, ...]]:
    """Each run's facts at ``level``, for all its nodes and months.

    ``line``: by node, process, term and month, as the database groups the lines; ``process``
    (term left out, ``""``), ``term`` (process left out, None) and ``node`` (both left out): the
    ``line`` facts summed per node and month (``sum_by``), so that a selection of many runs adds
    up a few rows per node and month instead of every fact. Read once per run and process
    (``pieces.py``): a ``done`` run's lines never change.
    """
    if level not in LEVELS:
        raise ValueError(level)

    def load(keys: list[Any]) -> dict[Any, Any]:
        runs = sorted(k[2] for k in keys)
        if level != "line":
            full = run_facts(session, runs)
            return {k: _rollup(full[k[2]], level) for k in keys}
        rows = session.execute(q.statement("facts", _line_facts), {"runs": runs}).all()
        orgs = q.names(session, q.ORG, (r[1] for r in rows))
        processes = q.names(session, q.PROC, (r[2] for r in rows))
        per_run: dict[int, list[Fact]] = {r: [] for r in runs}
        for run, o, p, t, m, n, d, c, k in rows:
            per_run[int(run)].append(Fact(int(o), orgs.get(o, ""), p, processes.get(p) if p is not None else None, t, m,
                                          float(n or 0.0), float(d or 0.0), float(c or 0.0), int(k or 0)))
        return {k: tuple(per_run[k[2]]) for k in keys}

    got = pieces.store().get_many([("facts", level, r) for r in run_ids], load)
    return {key[2]: value for key, value in got.items()}


def _line_facts() -> Any:
    group = (q.LINE.c.run_id, q.LINE.c.organization_id, q.LINE.c.process_id, q.LINE.c.term, q.LINE.c.month)
    return (select(*group, func.sum(q.LINE.c.net_tco2), _DIRECT, _CRUDE, func.count())
            .where(q.LINE.c.run_id.in_(q.in_list("runs"))).group_by(*group))


def _rollup(rows: tuple[Fact, ...], level: str) -> tuple[Fact, ...]:
    """``line`` facts summed per node and month, keeping the process or the term (or neither)."""
    if level == "process":
        def key(r: Fact) -> tuple[Any, ...]:
            return (r.organization_id, r.organization, r.process_id, r.process, "", r.month)
    elif level == "term":
        def key(r: Fact) -> tuple[Any, ...]:
            return (r.organization_id, r.organization, None, None, r.term, r.month)
    else:
        def key(r: Fact) -> tuple[Any, ...]:
            return (r.organization_id, r.organization, None, None, "", r.month)
    return tuple(Fact(*k, s.net, s.direct, s.crude, s.lines) for k, s in sum_by(rows, key).items())


def facts(session: Session, sel: q.Selection, level: str = "line") -> list[Fact]:
    """The selection's facts at ``level`` (see ``run_facts``): each run's, for its nodes and the months."""
    months = frozenset(sel.period.months)
    by_run = run_facts(session, sel.run_ids, level)
    out: list[Fact] = []
    for run_id, nodes in sel.slices:
        wanted = frozenset(nodes)
        # A node read from one run only (``keeps``), so (node, process, term, month) stays unique.
        out.extend(r for r in by_run[run_id] if r.month in months and r.organization_id in wanted)
    return out


def total(rows: Iterable[Fact | Sums]) -> Sums:
    """Facts (or sums) added up."""
    rows = list(rows)
    return Sums(math.fsum([r.net for r in rows]), math.fsum([r.direct for r in rows]),
                math.fsum([r.crude for r in rows]), sum([r.lines for r in rows]))


def sum_by(rows: Iterable[Fact], key: Callable[[Fact], K]) -> dict[K, Sums]:
    """Facts summed per ``key`` (in first-seen order).

    One pass collecting each group's values, then ``math.fsum`` per group: the same exactly
    rounded sums as ``total`` of each group, without a list of facts and four passes per group.
    """
    groups: dict[K, tuple[list[float], list[float], list[float], list[int]]] = {}
    for row in rows:
        k = key(row)
        group = groups.get(k)
        if group is None:
            group = groups[k] = ([], [], [], [])
        group[0].append(row.net)
        group[1].append(row.direct)
        group[2].append(row.crude)
        group[3].append(row.lines)
    fsum = math.fsum
    return {k: Sums(fsum(n), fsum(d), fsum(c), sum(k_)) for k, (n, d, c, k_) in groups.items()}


def months_with_data(rows: Iterable[Fact]) -> dict[int, int]:
    """Per organisation node, the number of months it has lines in."""
    seen: dict[int, set[str]] = {}
    for row in rows:
        if row.lines:
            seen.setdefault(row.organization_id, set()).add(row.month)
    return {node: len(months) for node, months in seen.items()}


def yearly(session: Session, selections: Iterable[q.Selection]) -> dict[str, Sums]:
    """Signed tCO2, direct part and crude steel per ``YYYY-MM`` month of selections of different years."""
    out: dict[str, Sums] = {}
    for sel in selections:
        if sel.slices:
            out.update(sum_by(facts(session, sel, "node"), lambda r: r.month))
    return out


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
