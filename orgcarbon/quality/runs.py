"""``DryRun``: run the active rules over a period's stored data and store what fired, changing nothing.

API/task → command → DAO, as for accounting: ``validate()`` refuses in Chinese, ``run()`` loads the
frame (``frames``), calls the pure pipeline (``rules.quality.run_rules``: cleaning and validation
vectorised, aggregate rules on an experta engine built from the stored definitions) and writes the
run's findings with Core inserts (not audited one by one; the run row is). The data itself is
never touched: cleaning changes are recorded with their before and after values only.

A finding row is one of: a validation rule that fired on a record (``kind`` finding, target the
record); a change a cleaning rule (or a reject) would make (``kind`` change, with field, before and
after); a rule over aggregated facts (target "aggregate", ``key`` organisation/…/month; the
records behind the fact are kept in ``run.report["fact_rows"]``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import Organization
from orgcarbon.quality.frames import DATASETS, Period, Records, load_records
from orgcarbon.quality.models import QualityFinding, QualityRule, QualityRun
from orgcarbon.quality.rules_store import active_rules, definition_of, utcnow
from orgcarbon.rules.quality import (
    ActionEntry,
    Finding,
    RuleDefinition,
    evaluate_records,
    run_rules,
)

SEVERITIES = ("error", "warning", "info")


class RunRefused(ValueError):
    """A run request is refused; ``reasons`` are Chinese."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("；".join(self.reasons))


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool | str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _month_of_key(key: str) -> str:
    return key.rsplit("/", 1)[-1] if "/" in key else ""


@dataclass
class DryRun:
    """Run the active rules of an organisation over one period and data set; store the findings."""

    session: Session
    organization_id: int
    year: int
    month: int | None = None
    dataset: str = "activity"

    def validate(self) -> tuple[Organization, list[QualityRule]]:
        """The organisation and the active rules; ``RunRefused`` with every reason otherwise."""
        reasons = []
        organization = self.session.get(Organization, self.organization_id)
        if organization is None:
            reasons.append(f"组织 {self.organization_id} 不存在")
        if not 1900 <= self.year <= 2200:
            reasons.append(f"年份 {self.year} 无效")
        if self.month is not None and not 1 <= self.month <= 12:
            reasons.append(f"月份 {self.month} 无效（1–12）")
        if self.dataset not in DATASETS:
            reasons.append(f"数据集 {self.dataset} 无效，可选：activity（核算数据）、staging（暂存数据）")
        if reasons:
            raise RunRefused(reasons)
        rules = active_rules(self.session, self.organization_id)
        if not rules:
            raise RunRefused(["没有已发布且启用的质量规则（可运行 orgcarbon quality load-pack 导入默认规则包）"])
        assert organization is not None
        return organization, rules

    def run(self, run: QualityRun) -> QualityRun:
        """Evaluate and store; the run ends ``done`` (committed)."""
        _, rules = self.validate()
        run.status = "running"
        self.session.flush()
        definitions = [definition_of(r) for r in rules]
        records = load_records(self.session, self.dataset, self.organization_id, Period(self.year, self.month))
        report = run_rules(records.frame, definitions, records.period.months)
        rows, fact_rows = finding_rows(run.id, records, report.findings, report.evaluation.actions, definitions)
        if rows:
            self.session.execute(insert(QualityFinding), rows)
        kept = records.in_period
        out = report.evaluation.frame["row_id"]
        run.rule_versions = {r.code: r.version for r in rules}
        run.counts = counts_of(rows, len(kept))
        run.report = {
            "rows_in": len(kept),
            "rows_out": int((out.isin(kept) | ~out.isin(records.frame["row_id"])).sum()),
            "before_cleaning": before_cleaning(records, definitions),
            "fact_rows": fact_rows,
            "rules": {d.id: {"name": d.name, "kind": d.kind, "action": d.action, "level": d.level,
                             "severity": d.severity, "version": d.version} for d in definitions},
        }
        run.status, run.finished_at = "done", utcnow()
        self.session.commit()
        return run


def finding_rows(run_id: int, records: Records, findings: Sequence[Finding], actions: Sequence[ActionEntry],
                 definitions: Sequence[RuleDefinition]) -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
    """The ``dq_finding`` rows of the period (context month left out) and the records behind each fact."""
    rules = {d.id: d for d in definitions}
    context = set(records.frame["row_id"].tolist()) - records.in_period
    months = dict(zip(records.frame["row_id"].tolist(), records.frame["month"].tolist(), strict=True))
    target = records.dataset
    base = {"run_id": run_id}
    record_messages = {(f.rule_id, f.row_ids[0]): f for f in findings if not f.key and f.row_ids}
    rows: list[dict[str, Any]] = []
    changed: set[tuple[str, int]] = set()
    for entry in actions:
        if entry.row_id in context:
            continue
        rule = rules[entry.rule_id]
        found = record_messages.get((entry.rule_id, entry.row_id))
        changed.add((entry.rule_id, entry.row_id))
        before, after = _number(entry.before), _number(entry.after)
        text = found.message if found else f"{entry.field}：{entry.before} → {entry.after}"
        rows.append({**base, "rule_code": rule.id, "rule_version": rule.version, "kind": "change",
                     "severity": rule.severity, "dimension": rule.quality_dimension,
                     "organization_id": records.row_orgs.get(entry.row_id), "month": months.get(entry.row_id),
                     "target": target, "target_id": entry.row_id, "key": None, "field": entry.field,
                     "before": before, "after": after, "message": text})
    fact_rows: dict[str, list[int]] = {}
    for f in findings:
        if f.key:
            month = _month_of_key(f.key)
            if month and month not in records.period.months:
                continue
            fact_rows[f.key] = sorted(set(fact_rows.get(f.key, [])) | set(f.row_ids))
            rows.append({**base, "rule_code": f.rule_id, "rule_version": f.rule_version, "kind": "finding",
                         "severity": f.severity, "dimension": f.dimension,
                         "organization_id": records.organization_of_key(f.key), "month": month or None,
                         "target": "aggregate", "target_id": None, "key": f.key[:300], "field": None,
                         "before": None, "after": None, "message": f.message})
            continue
        for row_id in f.row_ids:
            if row_id in context or (f.rule_id, row_id) in changed:
                continue
            rows.append({**base, "rule_code": f.rule_id, "rule_version": f.rule_version, "kind": "finding",
                         "severity": f.severity, "dimension": f.dimension,
                         "organization_id": records.row_orgs.get(row_id), "month": months.get(row_id),
                         "target": target, "target_id": row_id, "key": None, "field": None,
                         "before": None, "after": None, "message": f.message})
    return rows, fact_rows


def counts_of(rows: Sequence[dict[str, Any]], rows_in: int) -> dict[str, Any]:
    """Totals of a run: rows checked, findings and changes by rule, open findings by severity."""
    by_rule: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = by_rule.setdefault(row["rule_code"], {"findings": 0, "changes": 0})
        entry["findings" if row["kind"] == "finding" else "changes"] += 1
    open_by = Counter(r["severity"] for r in rows if r["kind"] == "finding")
    return {"rows": rows_in, "findings": sum(r["kind"] == "finding" for r in rows),
            "changes": sum(r["kind"] == "change" for r in rows),
            "by_severity": {s: open_by.get(s, 0) for s in SEVERITIES}, "by_rule": by_rule}


def before_cleaning(records: Records, definitions: Sequence[RuleDefinition]) -> dict[str, int]:
    """Records each record-level validation rule fires on before any cleaning (spec 6.2.4 d)."""
    checks = [d for d in definitions if d.kind == "validation" and d.level == "record" and d.enabled]
    if not checks or records.frame.empty:
        return {d.id: 0 for d in checks}
    evaluation = evaluate_records(records.frame, checks)
    return {h.rule.id: int(sum(int(i) in records.in_period for i in h.row_ids)) for h in evaluation.hits}


def run_dict(run: QualityRun) -> dict[str, Any]:
    """A run as JSON (without its findings)."""
    return {
        "id": run.id, "kind": run.kind, "dataset": run.dataset, "organization_id": run.organization_id,
        "organization": run.organization.name if run.organization else None, "year": run.year, "month": run.month,
        "status": run.status, "user": run.user_name, "rule_versions": run.rule_versions, "counts": run.counts,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None, "error": run.error,
    }


def finding_dict(finding: QualityFinding, fact_rows: dict[str, list[int]]) -> dict[str, Any]:
    """A finding as JSON; ``records`` are the ids of the records it is about."""
    records = [finding.target_id] if finding.target_id is not None else fact_rows.get(finding.key or "", [])
    return {
        "id": finding.id, "rule": finding.rule_code, "version": finding.rule_version, "kind": finding.kind,
        "severity": finding.severity, "dimension": finding.dimension, "organization_id": finding.organization_id,
        "month": finding.month, "target": finding.target, "target_id": finding.target_id, "key": finding.key,
        "records": records, "field": finding.field, "before": finding.before, "after": finding.after,
        "message": finding.message,
    }


def run_findings(session: Session, run: QualityRun, rule: str | None = None, limit: int | None = None,
                 offset: int = 0) -> list[QualityFinding]:
    """A run's findings by rule, then record; optionally of one rule, a page at a time."""
    query = select(QualityFinding).where(QualityFinding.run_id == run.id)
    if rule:
        query = query.where(QualityFinding.rule_code == rule)
    query = query.order_by(QualityFinding.rule_code, QualityFinding.kind, QualityFinding.target_id,
                           QualityFinding.id).offset(offset)
    return list(session.scalars(query if limit is None else query.limit(limit)))
