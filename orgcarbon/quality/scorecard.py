"""The quality scorecard of an organisation, period and data set (spec 6.2.3), with drill-down.

The core's ``scorecards`` scores each organisation × month; this module feeds it stored data and
sums its cards over the period. What the platform knows and the core cannot:

* completeness expects every published binding of the subtree (activity data; staging: every
  binding seen in the period) in every slot its form collects: each month, a quarterly form's
  quarter-end months, a yearly form's year; a value for the whole year fills every slot;
* accuracy and consistency count the findings of the organisation's active rules;
* timeliness, accessibility and traceability use the provenance from ``frames`` (form due dates,
  staging times, connector reachability, submissions and staging references).

Every score keeps the record ids (and missing binding-slots) behind it for the drill-down.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import Material, Organization, Process, SubProcess
from orgcarbon.quality.frames import Period, Records, form_dues, load_records
from orgcarbon.quality.rules_store import active_rules, definition_of
from orgcarbon.rules.quality import Finding, run_rules, scorecards
from orgcarbon.rules.quality.definitions import DIMENSIONS
from orgcarbon.security.scope import subtree_ids

DIMENSION_LABELS = {"completeness": "完整性", "accuracy": "准确性", "consistency": "一致性",
                    "timeliness": "时效性", "accessibility": "可访问性", "traceability": "可追溯性"}
BINDING_KEY = ["organization", "process", "subprocess", "category", "material"]
DRILL_LIMIT = 1000


@dataclass
class Tally:
    """One dimension summed over cards: checked, passed, the failing records and missing slots."""

    checked: int = 0
    passed: int = 0
    failing: set[int] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        """passed / checked, or None when nothing was measurable."""
        return self.passed / self.checked if self.checked else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"score": self.score, "checked": self.checked, "passed": self.passed,
                "failing_rows": sorted(self.failing), "missing": sorted(self.missing)}


@dataclass
class QualityScorecard:
    """The six dimensions of one organisation, period and data set, and the same per organisation × month."""

    organization_id: int
    organization: str
    period: Period
    dataset: str
    rows: int
    dimensions: dict[str, Tally]
    cells: dict[tuple[str, str], dict[str, Tally]]
    records: Records
    findings: list[Finding]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's answer)."""
        return {
            "organization_id": self.organization_id, "organization": self.organization, "year": self.period.year,
            "month": self.period.month, "dataset": self.dataset, "rows": self.rows,
            "dimensions": {name: {"label": DIMENSION_LABELS[name], **t.as_dict()}
                           for name, t in self.dimensions.items()},
            "by_month": [{"organization": org, "period": month,
                          "scores": {name: t.score for name, t in dims.items()}}
                         for (org, month), dims in sorted(self.cells.items())],
        }


def _expected(session: Session, records: Records, organization_id: int) -> dict[tuple[str, ...], str]:
    """Binding key → how often it is collected (month | quarter | year)."""
    from orgcarbon.metamodel.versioned import Binding

    dues = form_dues(session)
    expected: dict[tuple[str, ...], str] = {}
    if records.dataset == "activity":
        labels = {v: k for k, v in records.organizations.items()}
        query = (select(Binding.id, Binding.organization_id, Process.name, SubProcess.name, Binding.category,
                        Material.name)
                 .join(SubProcess, Binding.subprocess_id == SubProcess.id)
                 .join(Process, SubProcess.process_id == Process.id)
                 .join(Material, Binding.material_id == Material.id)
                 .where(Binding.status == "published",
                        Binding.organization_id.in_(sorted(subtree_ids(session, [organization_id])))))
        for binding_id, org_id, process, sub, category, material in session.execute(query):
            key = (labels.get(org_id, str(org_id)), process, sub, category, material)
            expected[key] = dues.get(binding_id, ("month", 0))[0]
    frame = records.period_frame()
    for key in frame[BINDING_KEY].drop_duplicates().itertuples(index=False):
        expected.setdefault(tuple(key), "month")
    return expected


def _slots(granularity: str, period: Period) -> list[str]:
    if granularity == "quarter":
        return [m for m in period.months if int(m[5:]) % 3 == 0]
    if granularity == "year":
        return [str(period.year)] if period.month is None else []
    return list(period.months)


def _completeness(session: Session, records: Records, organization_id: int) -> dict[tuple[str, str], Tally]:
    """(organisation, month; "" for the year's slot) → expected binding slots present."""
    frame = records.period_frame()
    present: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for row in frame[[*BINDING_KEY, "month"]].itertuples(index=False):
        key, month = tuple(row[:5]), row[5]
        if month:
            present[key] |= {month, str(records.period.year)}
        else:  # a value for the whole year fills every slot of it
            present[key] |= {*records.period.months, str(records.period.year)}
    cells: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for key, granularity in _expected(session, records, organization_id).items():
        for slot in _slots(granularity, records.period):
            tally = cells[(key[0], slot if len(slot) == 7 else "")]
            tally.checked += 1
            if slot in present.get(key, ()):
                tally.passed += 1
            else:
                tally.missing.append("/".join([*key, slot]))
    return cells


def _findings(records: Records, organization_id: int, session: Session) -> list[Finding]:
    definitions = [definition_of(r) for r in active_rules(session, organization_id)]
    if not definitions or records.frame.empty:
        return []
    return run_rules(records.frame, definitions, records.period.months).findings


def quality_scorecard(session: Session, organization_id: int, period: Period, dataset: str) -> QualityScorecard:
    """Score the node's subtree for ``period`` and ``dataset`` with its active rules."""
    organization = session.get(Organization, organization_id)
    records = load_records(session, dataset, organization_id, period)
    findings = _findings(records, organization_id, session)
    frame = records.period_frame()
    # Accessibility is judged per system a value was read from (a connector), not per source type.
    scoring = frame.assign(source=[records.access.get(int(i), s) for i, s in zip(frame["row_id"], frame["source"],
                                                                                 strict=True)])
    cards = scorecards(scoring, findings, period.months, records.unreachable) if len(frame) else []
    cells: dict[tuple[str, str], dict[str, Tally]] = defaultdict(lambda: {d: Tally() for d in DIMENSIONS})
    for card in cards:
        for name, score in card.dimensions.items():
            if name == "completeness":
                continue
            tally = cells[(card.organization, card.period)][name]
            tally.checked += score.checked
            tally.passed += score.passed
            tally.failing |= set(score.failing_rows)
    for cell, tally in _completeness(session, records, organization_id).items():
        cells[cell]["completeness"] = tally
    totals = {d: Tally() for d in DIMENSIONS}
    for dims in cells.values():
        for name, tally in dims.items():
            totals[name].checked += tally.checked
            totals[name].passed += tally.passed
            totals[name].failing |= tally.failing
            totals[name].missing += tally.missing
    return QualityScorecard(organization_id, organization.name if organization else "", period, dataset, len(frame),
                            totals, dict(cells), records, findings)


def drill_down(card: QualityScorecard, dimension: str) -> dict[str, Any]:
    """The records (and missing binding slots) behind one dimension's score, with the reasons."""
    tally = card.dimensions[dimension]
    frame = card.records.period_frame()
    failing = frame[frame["row_id"].isin(tally.failing)].sort_values(["organization", "month", "row_id"])
    reasons: dict[int, list[str]] = defaultdict(list)
    for f in card.findings:
        if f.dimension == dimension:
            for row_id in f.row_ids:
                reasons[row_id].append(f"{f.rule_id}：{f.message}")
    rows = []
    for r in failing.head(DRILL_LIMIT).to_dict("records"):
        rows.append({**{k: _plain(r[k]) for k in ("row_id", "organization", "process", "subprocess", "category",
                                                   "material", "month", "quantity", "unit", "source", "batch",
                                                   "received_at", "due_at")},
                     "access": card.records.access.get(int(r["row_id"]), r["source"]),
                     "reasons": reasons.get(int(r["row_id"]), [])})
    return {"dimension": dimension, "label": DIMENSION_LABELS[dimension], **tally.as_dict(), "records": rows,
            "dataset": card.dataset, "truncated": len(failing) > DRILL_LIMIT}


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ", timespec="minutes")
    return value.item() if hasattr(value, "item") else value
