"""Explain a stored result line: a join over its lineage ids, never a recomputation."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.accounting.models import ResultLine
from orgcarbon.metamodel.models import ActivityRecord, Material
from orgcarbon.metamodel.versioned import Factor
from orgcarbon.rules.model import CATEGORY_NAMES, TERM_NAMES

SOURCE_NAMES = {"demo": "演示数据", "package": "数据包导入", "form": "表单提交", "excel": "Excel 导入",
                "api": "接口写入"}
# Activity column of each measured parameter, by the formula's variable name.
RECORD_COLUMNS = {"ncv": "ncv", "cc": "carbon_content", "of": "oxidation_factor", "purity": "purity", "ef": "ef"}
PARAMETER_LABELS = {"ncv": ("低位发热量 NCV", "GJ/{unit}"), "cc": ("单位热值含碳量 CC", "tC/GJ"),
                    "of": ("碳氧化率 OF", ""), "purity": ("纯度 DX", ""), "ef": ("排放因子 EF", "tCO2/{unit}")}
_NAME = re.compile(r"[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*")
_FUNCTIONS = {"min", "max", "abs", "round", "sum", "if_null", "is_null", "clamp", "sqrt"}


def _number(value: float | None) -> str:
    return "空" if value is None else f"{value:.10g}"


def substitute(expression: str, values: dict[str, Any]) -> str:
    """The expression with each variable replaced by its value (functions and keywords kept)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(0)
        if name in _FUNCTIONS or name not in values:
            return name
        return _number(values[name])

    return _NAME.sub(replace, expression)


def _activity_expression(line: ResultLine) -> tuple[str, str]:
    # The stored expression is "(activity) * (factor)"; split it back at the top-level product.
    text = line.formula_expression
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and text[i + 1:i + 4] == " * ":
            return text[1:i], text[i + 5:-1]
    return text, ""


def _submission_text(submission: Any) -> str:
    form = submission.form
    granularity = form.granularity if form is not None else "month"
    if granularity == "quarter":
        period = f"{submission.year}年第{submission.period}季度"
    elif granularity == "year":
        period = f"{submission.year}年"
    else:
        period = f"{submission.year}-{submission.period:02d}"
    parts = [form.name if form is not None else "", submission.organization.name if submission.organization else "",
             period, f"第 {submission.version} 版"]
    if submission.source == "excel":
        parts.append("Excel 导入")
    return "，".join(p for p in parts if p)


def origin(session: Session, record: ActivityRecord) -> dict[str, Any]:
    """Where an activity row came from: its ``source`` and the approved form submission, if any."""
    source = record.source or "demo"
    found: dict[str, Any] = {"source": source, "source_name": SOURCE_NAMES.get(source, source),
                             "submission_id": record.submission_id, "submission_url": None}
    if record.submission_id is None:
        found["origin"] = found["source_name"]
        return found
    from orgcarbon.forms.models import Submission  # the forms issue's table, read only here

    submission = session.get(Submission, record.submission_id)
    detail = f"（{_submission_text(submission)}）" if submission is not None else ""
    found["origin"] = f"表单提交 #{record.submission_id}{detail}"
    found["submission_url"] = f"/forms/submission/{record.submission_id}"
    return found


def measured_parameters(line: ResultLine, values: dict[str, Any], unit: str | None) -> list[dict[str, Any]]:
    """Each parameter measured on the record (it replaced the library default), with its value and unit."""
    found = []
    for name in line.measured or []:
        label, per = PARAMETER_LABELS.get(name, (name, ""))
        found.append({"name": name, "label": label, "value": values.get(name),
                      "unit": per.replace("{unit}", unit or "单位活动量"), "source": "实测值（活动记录）"})
    return found


def explain(session: Session, line: ResultLine) -> dict[str, Any]:
    """Everything a figure came from: equation with values, factors with sources, records with origins."""
    activity_expr, factor_expr = _activity_expression(line)
    values = dict(line.inputs or {})
    factor_rows = {
        (f.code, str(f.version)): f
        for f in session.scalars(select(Factor).where(Factor.code.in_([x["id"] for x in line.factors])))
    }
    factors = []
    for used in line.factors:
        row = factor_rows.get((used["id"], str(used["version"])))
        factors.append({
            **used,
            "factor_row_id": row.id if row else None,
            "status": row.status if row else "数据包或运行指定",
            "valid_from": row.valid_from.isoformat() if row and row.valid_from else None,
            "valid_to": row.valid_to.isoformat() if row and row.valid_to else None,
            "regime": row.regime if row else None,
        })
    records = []
    for record in session.scalars(select(ActivityRecord).where(ActivityRecord.id.in_(line.record_ids or []))):
        records.append({
            "id": record.id, "table": ActivityRecord.__tablename__,
            "organization": record.organization.name, "process": record.subprocess.main_process.name,
            "subprocess": record.subprocess.name, "material": record.material.name,
            "category": record.category, "month": record.month, "quantity": record.quantity,
            "unit": record.unit, "purity": record.purity,
            "measured": {name: value for name, column in RECORD_COLUMNS.items()
                         if (value := getattr(record, column)) is not None},
            **origin(session, record),
        })
    run = line.run
    return {
        "id": line.id,
        "run": {"id": run.id, "organization": run.organization.name, "year": run.year,
                "model": str(run.model), "model_version": run.model_version,
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "inputs_digest": run.inputs_digest, "notes": run.notes},
        "organization": line.organization.name,
        "process": line.main_process.name if line.main_process else None,
        "subprocess": line.subprocess.name if line.subprocess else None,
        "binding_id": line.binding_id,
        "month": line.month, "material": line.material,
        "category": line.category, "category_name": CATEGORY_NAMES.get(line.category, line.category),
        "term": line.term, "term_name": TERM_NAMES.get(line.term, line.term), "sign": line.sign,
        "formula": {"id": line.formula_id, "name": line.formula_name, "version": line.formula_version,
                    "expression": line.formula_expression, "activity": activity_expr, "factor": factor_expr},
        "values": values,
        "equation": {
            "activity": f"{activity_expr} = {substitute(activity_expr, values)} = "
                        f"{_number(line.activity)} {line.activity_unit}",
            "factor": f"{factor_expr} = {substitute(factor_expr, values)} = {_number(line.ef)} {line.ef_unit}",
            "emission": f"{_number(line.activity)} {line.activity_unit} × {_number(line.ef)} {line.ef_unit} = "
                        f"{_number(line.tco2)} tCO2",
            "net": f"{'+' if line.sign > 0 else '−'}{_number(line.tco2)} = {_number(line.net_tco2)} tCO2",
        },
        "activity": line.activity, "activity_unit": line.activity_unit,
        "ef": line.ef, "ef_unit": line.ef_unit, "tco2": line.tco2, "net_tco2": line.net_tco2,
        "measured": line.measured,
        "measured_parameters": measured_parameters(
            line, values, session.scalar(select(Material.unit).where(Material.name == line.material))),
        "factors": factors,
        "records": records,
    }
