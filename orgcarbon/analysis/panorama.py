"""碳全景: the panorama's figures for one selection, as one JSON-able dict (cached by run ids)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.analysis import facts as f
from orgcarbon.analysis import queries as q
from orgcarbon.analysis.cache import cached_text, make_key
from orgcarbon.forms.models import Submission
from orgcarbon.rules.model import TERM_NAMES

OPEN_REVIEW_STATUSES = ("submitted", "reviewed")
REVIEW_QUEUE = "/forms/review"  # the review queue page of the forms module


def panorama(session: Session, period: q.Period, nodes: frozenset[int]) -> dict[str, Any]:
    """Totals, split, trend against last year, categories, processes, sources, intensity, completeness.

    The aggregates are cached by run ids; the open review count by the submissions' own stamp
    (``permission_cache`` module, ``workflow_cache``): a committed submission change shows at once
    on this host, within ``PERMISSION_CACHE_SECONDS`` on others.
    """
    return json.loads(panorama_json(session, period, nodes))  # type: ignore[no-any-return]


def panorama_json(session: Session, period: q.Period, nodes: frozenset[int]) -> str:
    """``panorama`` as JSON text: the cached aggregate's stored text with the open review count
    appended, never parsed and serialised again (the API's cache-hit path)."""
    sel = q.select_lines(session, period, nodes)
    before = q.select_lines(session, period.last_year(), nodes)
    key = make_key("panorama", now=sel.key(), before=before.key())
    text = cached_text(key, lambda: _compute(session, sel, before))
    reviews = json.dumps({"count": open_review_items(session, nodes), "url": REVIEW_QUEUE})
    return f'{text[:-1]},"open_reviews":{reviews}}}'


def open_review_items(session: Session, nodes: frozenset[int]) -> int:
    """Submissions waiting for review or approval (submitted or reviewed) in ``nodes``, any period.

    Kept per process until a submission changes (``derived`` of the ``workflow_cache``, whose
    stamp every committed submission change renews, here and in the host's other processes).
    """
    if not nodes:
        return 0
    from orgcarbon.security.permission_cache import derived

    count: int = derived(("analysis", "open_reviews", nodes), lambda: _count_open(session, nodes), session,
                         "workflow_cache")
    return count


def _count_open(session: Session, nodes: frozenset[int]) -> int:
    table = Submission.__table__
    return int(session.scalar(select(func.count()).select_from(table).where(
        table.c.status.in_(OPEN_REVIEW_STATUSES), table.c.organization_id.in_(sorted(nodes)))) or 0)


def _compute(session: Session, sel: q.Selection, before: q.Selection) -> dict[str, Any]:
    # Each figure sums the coarsest facts that still hold its key (see facts.run_facts).
    nodes, terms, processes = (f.facts(session, sel, level) for level in ("node", "term", "process"))
    last = f.yearly(session, [before])  # last year: its months are enough
    sums = f.total(nodes)
    total = sums.net
    per_month = f.sum_by(nodes, lambda r: r.month)
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
                                      for t, s in f.sum_by(terms, lambda r: r.term).items()], total),
        "by_process": q.with_shares([
            # The ids let a chart's bar open the ledger filtered to that plant and process.
            {"organization_id": o, "organization": on, "process_id": p, "name": pn or "—", "value": s.net}
            for (o, on, p, pn), s in f.sum_by(processes, lambda r: (r.organization_id, r.organization,
                                                                   r.process_id, r.process)).items()], total),
        "by_subprocess": q.by_subprocess(session, sel, total),
        "by_organization": q.with_shares([{"id": o, "name": n, "value": s.net} for (o, n), s in f.sum_by(
            nodes, lambda r: (r.organization_id, r.organization)).items()], total),
        "top_sources": q.top_sources(session, sel, total),
        "intensity": q.intensity(total, sums.direct, sums.crude),
        "intensity_trend": q.intensity_trend(months, tonnes_by_month, sel.period),
        "completeness": f.completeness(nodes, sel.period),
    }
