"""碳全景: the panorama's figures for one selection, as one JSON-able dict (cached by run ids)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.analysis import facts as f
from orgcarbon.analysis import queries as q
from orgcarbon.analysis.cache import cached, make_key
from orgcarbon.forms.models import Submission
from orgcarbon.rules.model import TERM_NAMES

OPEN_REVIEW_STATUSES = ("submitted", "reviewed")
REVIEW_QUEUE = "/forms/review"  # the review queue page of the forms module


def panorama(session: Session, period: q.Period, nodes: frozenset[int]) -> dict[str, Any]:
    """Totals, split, trend against last year, categories, processes, sources, intensity, completeness.

    The aggregates are cached by run ids; the open review count is not (submissions move on
    their own), so it is read on every call.
    """
    q.done_runs(session, [period.year, period.year - 1])  # both years' runs in one query
    sel = q.select_lines(session, period, nodes)
    before = q.select_lines(session, period.last_year(), nodes)
    key = make_key("panorama", now=sel.key(), before=before.key())
    data: dict[str, Any] = cached(key, lambda: _compute(session, sel, before))
    data["open_reviews"] = {"count": open_review_items(session, nodes), "url": REVIEW_QUEUE}
    return data


def open_review_items(session: Session, nodes: frozenset[int]) -> int:
    """Submissions waiting for review or approval (submitted or reviewed) in ``nodes``, any period."""
    if not nodes:
        return 0
    table = Submission.__table__
    return int(session.scalar(select(func.count()).select_from(table).where(
        table.c.status.in_(OPEN_REVIEW_STATUSES), table.c.organization_id.in_(sorted(nodes)))) or 0)


def _compute(session: Session, sel: q.Selection, before: q.Selection) -> dict[str, Any]:
    now, last = f.facts(session, sel), f.yearly(session, [before])  # last year: its months are enough
    sums = f.total(now)
    total = sums.net
    per_month = f.sum_by(now, lambda r: r.month)
    months = {m: s.net for m, s in per_month.items()}
    tonnes_by_month = {m: s.crude for m, s in per_month.items() if s.crude}
    last_months = {m: s.net for m, s in last.items()}
    last_sums = f.total(last.values())
    return {
        "period": {"year": sel.period.year, "month_from": sel.period.month_from, "month_to": sel.period.month_to},
        "run_ids": list(sel.run_ids),
        "totals": f.as_totals(sums),
        "last_year": {**f.as_totals(last_sums), "run_ids": list(before.run_ids)},
        "trend": q.trend(months, last_months, sel.period),
        "by_category": q.with_shares([{"key": t, "name": TERM_NAMES.get(t, t), "value": s.net}
                                      for t, s in f.sum_by(now, lambda r: r.term).items()], total),
        "by_process": q.with_shares([
            # The ids let a chart's bar open the ledger filtered to that plant and process.
            {"organization_id": o, "organization": on, "process_id": p, "name": pn or "—", "value": s.net}
            for (o, on, p, pn), s in f.sum_by(now, lambda r: (r.organization_id, r.organization, r.process_id,
                                                             r.process)).items()], total),
        "by_subprocess": q.by_subprocess(session, sel, total),
        "by_organization": q.with_shares([{"id": o, "name": n, "value": s.net} for (o, n), s in f.sum_by(
            now, lambda r: (r.organization_id, r.organization)).items()], total),
        "top_sources": q.top_sources(session, sel, total),
        "intensity": q.intensity(total, sums.direct, sums.crude),
        "intensity_trend": q.intensity_trend(months, tonnes_by_month, sel.period),
        "completeness": f.completeness(now, sel.period),
    }
