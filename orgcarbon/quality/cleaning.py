"""Cleaning staging rows for real, and promoting the cleaned rows into monthly activity data.

``CleaningRun`` is a ``DryRun`` over the staging data set that then applies what the cleaning rules
changed: the changed values are written to ``st_row`` (their before/after values stay in the
run's findings), rows a rule removed (reject, duplicate) are marked ``rejected``, the rest
``cleaned``. ``promote_staging`` sums the cleaned rows per organisation node, sub-process,
material, category and month (converted to the material's unit) into ``mm_activity`` rows with
``source="staging"`` and links each staging row to its activity row. Both run in one transaction:
a refusal writes nothing. Split/merge actions create rows that have no staging origin; they are
counted in the run's report and not written back.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import ActivityRecord, Material
from orgcarbon.metamodel.versioned import Binding
from orgcarbon.quality.frames import Period, load_records
from orgcarbon.quality.models import QualityFinding, QualityRun, StagingRow
from orgcarbon.quality.partitions import JOINED, effective_status, effective_statuses
from orgcarbon.quality.rules_store import definition_of, utcnow
from orgcarbon.quality.runs import DryRun, RunRefused, before_cleaning, counts_of, finding_rows
from orgcarbon.rules.quality import run_rules
from orgcarbon.security.scope import subtree_ids

# Frame column → st_row column for the values a cleaning rule may change.
WRITABLE = {"quantity": "quantity", "ncv": "ncv", "cc": "carbon_content", "of": "oxidation_factor",
            "purity": "purity", "ef": "ef", "unit": "unit"}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if a is None and isinstance(b, float) and math.isnan(b):
        return True
    if b is None and isinstance(a, float) and math.isnan(a):
        return True
    return bool(a == b)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


@dataclass
class CleaningRun(DryRun):
    """Run the active rules over a period's staging rows and apply the cleaning to them."""

    dataset: str = "staging"

    def run(self, run: QualityRun) -> QualityRun:
        """Evaluate, store the findings, write the cleaned values and statuses; one commit."""
        if self.dataset != "staging":
            raise RunRefused(["清洗只作用于暂存数据（staging）；核算数据只能试运行"])
        _, rules = self.validate()
        run.status, run.kind = "running", "cleaning"
        self.session.flush()
        definitions = [definition_of(r) for r in rules]
        records = load_records(self.session, "staging", self.organization_id, Period(self.year, self.month))
        report = run_rules(records.frame, definitions, records.period.months)
        rows, fact_rows = finding_rows(run.id, records, report.findings, report.evaluation.actions, definitions)
        if rows:
            from sqlalchemy import insert

            self.session.execute(insert(QualityFinding), rows)
        applied = apply_cleaning(self.session, records.frame, report.evaluation.frame, records.in_period)
        run.rule_versions = {r.code: r.version for r in rules}
        run.counts = {**counts_of(rows, len(records.in_period)), "applied": applied}
        run.report = {"rows_in": len(records.in_period), "rows_out": applied["cleaned"],
                      "before_cleaning": before_cleaning(records, definitions), "fact_rows": fact_rows,
                      "applied": applied,
                      "rules": {d.id: {"name": d.name, "kind": d.kind, "action": d.action, "level": d.level,
                                       "severity": d.severity, "version": d.version} for d in definitions}}
        run.status, run.finished_at = "done", utcnow()
        self.session.flush()  # the caller commits once, with the promotion
        return run


def apply_cleaning(session: Session, before: Any, after: Any, in_period: frozenset[int]) -> dict[str, int]:
    """Write the cleaned frame back to ``st_row``: changed values, ``cleaned``/``rejected`` status."""
    promoted = {i for i, status in effective_statuses(session, in_period).items() if status == "promoted"}
    wanted = [rid for rid in in_period if rid not in promoted]
    before_rows = {int(r["row_id"]): r for r in before.to_dict("records") if int(r["row_id"]) in in_period}
    after_rows: dict[int, dict[str, Any]] = {}
    new_rows = 0
    for r in after.to_dict("records"):
        rid = _plain(r.get("row_id"))
        if rid is None or int(rid) not in before_rows:
            new_rows += 1
            continue
        after_rows[int(rid)] = r
    updates: list[dict[str, Any]] = []
    rejected: list[int] = []
    changed_values = 0
    for rid in wanted:
        cleaned = after_rows.get(rid)
        if cleaned is None:
            rejected.append(rid)
            continue
        values = {"_id": rid, "status": "cleaned"}
        original = before_rows[rid]
        for column, target in WRITABLE.items():
            if column in cleaned and not _same(original.get(column), cleaned.get(column)):
                values[target] = _plain(cleaned[column])
                changed_values += 1
        updates.append(values)
    table = StagingRow.__table__
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for values in updates:
        by_columns[tuple(sorted(k for k in values if k != "_id"))].append(values)
    for columns, batch in by_columns.items():
        statement = update(table).where(table.c.id == bindparam("_id")).values(
            {c: bindparam(c) for c in columns})
        session.connection().execute(statement, batch)
    if rejected:
        session.execute(update(StagingRow).where(StagingRow.id.in_(rejected)).values(status="rejected"))
    return {"cleaned": len(updates), "rejected": len(rejected), "values_changed": changed_values,
            "skipped_promoted": len(promoted), "new_rows_not_written": new_rows}


@dataclass
class PromotionResult:
    """What ``promote_staging`` wrote, and what it left and why (Chinese)."""

    created: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    rows: int = 0
    skipped: list[str] = field(default_factory=list)


def promote_staging(session: Session, organization_id: int, year: int, month: int | None = None,
                    user: Any = None) -> PromotionResult:
    """Sum cleaned staging rows into monthly activity rows (``source="staging"``); caller commits."""
    from orgcarbon.forms.periods import period_locked
    from orgcarbon.metamodel.rules_inputs import unit_table

    months = [f"{year}-{m:02d}" for m in ([month] if month else range(1, 13))]
    nodes = subtree_ids(session, [organization_id])
    rows = session.execute(select(StagingRow).select_from(JOINED).where(
        StagingRow.organization_id.in_(sorted(nodes)), StagingRow.month.in_(months),
        effective_status() == "cleaned")).scalars().all()
    result = PromotionResult()
    if not rows:
        result.skipped.append("没有已清洗、待汇总的暂存数据")
        return result
    units = unit_table(session)
    materials = {m.id: m for m in session.scalars(select(Material))}
    bindings = {b.id: b for b in session.scalars(select(Binding).where(
        Binding.id.in_(sorted({r.binding_id for r in rows if r.binding_id}))))}
    groups: dict[tuple[int, int, int, str, str], list[StagingRow]] = defaultdict(list)
    for r in rows:
        binding = bindings.get(r.binding_id or 0)
        sub = r.subprocess_id or (binding.subprocess_id if binding else None)
        material = r.material_id or (binding.material_id if binding else None)
        category = r.category or (binding.category if binding else None)
        if not (r.organization_id and sub and material and category) or r.quantity is None:
            result.skipped.append(f"暂存行 #{r.id}：缺少组织、子工序、物料、类别或数量，未汇总")
            continue
        groups[(r.organization_id, sub, material, category, r.month or "")].append(r)
    links: list[dict[str, Any]] = []
    for (org, sub, material_id, category, month_key), members in sorted(groups.items()):
        if period_locked(session, org, year, int(month_key[5:])):
            result.skipped.append(f"{month_key} 期间已关闭：子工序 {sub} 物料 {materials[material_id].name} 未汇总")
            continue
        material = materials[material_id]
        try:
            total = sum(units.convert(float(m.quantity), m.unit or material.unit, material.unit) for m in members)
        except ValueError as exc:
            result.skipped.append(f"{month_key} {material.name}：{exc}")
            continue
        existing = session.execute(select(ActivityRecord).where(
            ActivityRecord.subprocess_id == sub, ActivityRecord.material_id == material_id,
            ActivityRecord.category == category, ActivityRecord.month == month_key)).scalars().all()
        if any(e.source != "staging" for e in existing):
            result.skipped.append(f"{month_key} {material.name}：已有表单或数据包数据，暂存数据未覆盖")
            continue
        for old in existing:
            result.replaced.append(old.id)
            session.delete(old)
        record = ActivityRecord(organization_id=org, subprocess_id=sub, material_id=material_id, category=category,
                                month=month_key, quantity=total, unit=material.unit, source="staging",
                                binding_id=next((m.binding_id for m in members if m.binding_id), None))
        session.add(record)
        session.flush()
        result.created.append(record.id)
        result.rows += len(members)
        links += [{"_id": m.id, "activity_id": record.id, "status": "promoted"} for m in members]
    if links:
        table = StagingRow.__table__
        session.connection().execute(update(table).where(table.c.id == bindparam("_id")).values(
            activity_id=bindparam("activity_id"), status=bindparam("status")), links)
    return result


def clean_and_promote(session: Session, organization_id: int, year: int, month: int | None,
                      user: Any = None) -> tuple[QualityRun, PromotionResult]:
    """The whole step after staging: a cleaning run, then promotion into activity data."""
    run = QualityRun(kind="cleaning", dataset="staging", organization_id=organization_id, year=year, month=month,
                     status="pending", started_at=utcnow(), user_id=getattr(user, "id", None),
                     user_name=getattr(user, "username", None))
    session.add(run)
    session.flush()
    CleaningRun(session, organization_id, year, month).run(run)
    promotion = promote_staging(session, organization_id, year, month, user)
    session.commit()
    return run, promotion


__all__: Sequence[str] = ("CleaningRun", "PromotionResult", "apply_cleaning", "clean_and_promote",
                          "promote_staging")
