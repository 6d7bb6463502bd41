"""The cleaning verification report of a run (spec 6.2.4 d), as data and as an Excel workbook.

Built from the run's stored findings, so its counts are the findings: per rule how many records it
flagged and how many values it changed; every change with before → after; what remains open
(validation findings) by severity; and, for record-level checks, how many records failed before
cleaning, so the effect of the cleaning rules shows as "resolved".
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.quality.models import QualityFinding, QualityRun
from orgcarbon.quality.runs import SEVERITIES, run_dict
from orgcarbon.rules.quality.definitions import SEVERITY_ZH

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHANGE_LIMIT = 5000  # changes listed on the page and in the workbook; the counts cover all


def verification_report(session: Session, run: QualityRun) -> dict[str, Any]:
    """Counts per rule, changes (before → after), open findings by severity; all from stored findings."""
    stored = session.execute(
        select(QualityFinding.rule_code, QualityFinding.rule_version, QualityFinding.kind, QualityFinding.severity,
               func.count()).where(QualityFinding.run_id == run.id)
        .group_by(QualityFinding.rule_code, QualityFinding.rule_version, QualityFinding.kind,
                  QualityFinding.severity)).all()
    report: dict[str, Any] = run.report or {}
    meta: dict[str, dict[str, Any]] = report.get("rules", {})
    before: dict[str, int] = report.get("before_cleaning", {})
    per_rule: dict[str, dict[str, Any]] = {}
    for code in sorted({*meta, *(r[0] for r in stored)}):
        info = meta.get(code, {})
        per_rule[code] = {"rule": code, "version": info.get("version"), "name": info.get("name", ""),
                          "kind": info.get("kind", ""), "action": info.get("action", ""),
                          "level": info.get("level", ""), "severity": info.get("severity", ""),
                          "findings": 0, "changes": 0, "before_cleaning": before.get(code),
                          "resolved": None}
    remaining: Counter[str] = Counter()
    for code, version, kind, severity, count in stored:
        entry = per_rule[code]
        entry["version"] = entry["version"] or version
        entry["findings" if kind == "finding" else "changes"] += count
        if kind == "finding":
            remaining[severity or "info"] += count
    for entry in per_rule.values():
        if entry["before_cleaning"] is not None:
            entry["resolved"] = max(0, entry["before_cleaning"] - entry["findings"])
    changes = session.scalars(
        select(QualityFinding).where(QualityFinding.run_id == run.id, QualityFinding.kind == "change")
        .order_by(QualityFinding.rule_code, QualityFinding.target_id, QualityFinding.id).limit(CHANGE_LIMIT)).all()
    return {
        "run": run_dict(run),
        "rows_in": report.get("rows_in"),
        "rows_out": report.get("rows_out"),
        "rules": list(per_rule.values()),
        "changes": [{"rule": c.rule_code, "version": c.rule_version, "target": c.target,
                     "target_id": c.target_id, "field": c.field, "before": c.before, "after": c.after,
                     "message": c.message} for c in changes],
        "changes_total": sum(e["changes"] for e in per_rule.values()),
        "findings_total": sum(e["findings"] for e in per_rule.values()),
        "remaining": {s: remaining.get(s, 0) for s in SEVERITIES},
    }


def _sheet(wb: Workbook, title: str, headers: list[str], rows: list[list[Any]], first: bool = False) -> None:
    ws = wb.active if first else wb.create_sheet()
    ws.title = title[:31]
    ws.append(headers)
    for row in rows:
        ws.append(row)
    ws.freeze_panes = "A2"
    for i, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(12, len(header) * 2 + 2)


def _shown(value: Any) -> Any:
    return "—" if value is None else value


def report_workbook(report: dict[str, Any]) -> bytes:
    """The report as .xlsx: 按规则统计, 值的变更, 未解决问题 (one sheet each)."""
    wb = Workbook()
    _sheet(wb, "按规则统计", ["规则", "版本", "名称", "类型", "动作", "严重程度", "问题数", "变更数", "清洗前命中",
                         "已解决"],
           [[r["rule"], r["version"], r["name"], r["kind"], r["action"], SEVERITY_ZH.get(r["severity"], r["severity"]),
             r["findings"], r["changes"], _shown(r["before_cleaning"]), _shown(r["resolved"])]
            for r in report["rules"]], first=True)
    _sheet(wb, "值的变更", ["规则", "版本", "数据集", "记录", "字段", "变更前", "变更后", "说明"],
           [[c["rule"], c["version"], c["target"], c["target_id"], c["field"], _shown(c["before"]),
             _shown(c["after"]), c["message"]] for c in report["changes"]])
    _sheet(wb, "未解决问题", ["严重程度", "数量"],
           [[SEVERITY_ZH.get(s, s), n] for s, n in report["remaining"].items()]
           + [["合计", sum(report["remaining"].values())]])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
