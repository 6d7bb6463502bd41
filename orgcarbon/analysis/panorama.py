"""碳全景: the panorama's figures for one selection, as one JSON-able dict (cached by run ids)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from orgcarbon.analysis import queries as q
from orgcarbon.analysis.cache import cached, make_key


def panorama(session: Session, period: q.Period, nodes: frozenset[int]) -> dict[str, Any]:
    """Totals, split, trend against last year, categories, processes, sources, intensity, completeness."""
    sel = q.select_lines(session, period, nodes)
    before = q.select_lines(session, period.last_year(), nodes)
    key = make_key("panorama", now=sel.key(), before=before.key())
    return cached(key, lambda: _compute(session, sel, before))  # type: ignore[no-any-return]


def _compute(session: Session, sel: q.Selection, before: q.Selection) -> dict[str, Any]:
    totals = q.totals(session, sel)
    total = totals["total"]
    months = q.by_month(session, sel)
    tonnes_by_month = q.product_tonnes(session, sel)
    tonnes = sum(tonnes_by_month.values())
    last = q.totals(session, before)
    return {
        "period": {"year": sel.period.year, "month_from": sel.period.month_from, "month_to": sel.period.month_to},
        "run_ids": list(sel.run_ids),
        "totals": totals,
        "last_year": {**last, "run_ids": list(before.run_ids)},
        "trend": q.trend(months, q.by_month(session, before), sel.period),
        "by_category": q.by_category(session, sel, total),
        "by_process": q.by_process(session, sel, total),
        "by_subprocess": q.by_subprocess(session, sel, total),
        "by_organization": q.by_organization(session, sel, total),
        "top_sources": q.top_sources(session, sel, total),
        "intensity": q.intensity(total, totals["direct"], tonnes),
        "intensity_trend": q.intensity_trend(months, tonnes_by_month, sel.period),
        "completeness": q.completeness(session, sel),
    }
