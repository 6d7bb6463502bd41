"""Render a package's result as the documented JSON document or a readable Chinese table."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from orgcarbon.rules.issues import Issue
from orgcarbon.rules.model import CATEGORY_NAMES, TERM_NAMES, TERMS
from orgcarbon.rules.package import Package
from orgcarbon.rules.products import BASIS_NAMES
from orgcarbon.rules.results import Result, ResultLine

__all__ = ["render_issues", "render_text", "result_document"]


def _line(line: ResultLine) -> dict[str, Any]:
    return {
        "row": line.row,
        "record_id": line.record_id,
        "process": line.process,
        "subprocess": line.subprocess,
        "month": line.month,
        "category": line.category,
        "material": line.material,
        "activity": line.activity,
        "activity_unit": line.activity_unit,
        "ef": line.ef,
        "ef_unit": line.ef_unit,
        "tco2": line.tco2,
        "net_tco2": line.net_tco2,
        "factor_source": line.factor_source,
        "formula": {
            "name": line.formula.name,
            "version": line.formula.version,
            "expression": line.formula.expression,
        },
        "factors": [
            {"id": f.id, "version": f.version, "source": f.source, "grade": f.grade}
            for f in line.factors
        ],
        "measured": list(line.measured),
    }


def result_document(package: Package, result: Result) -> dict[str, Any]:
    """The ``calc --json`` document: the documented keys first, then lineage and context."""
    intensity = result.intensity
    return {
        "standard": result.standard,
        "total_tco2": result.total_tco2,
        "direct_tco2": result.direct_tco2,
        "indirect_tco2": result.indirect_tco2,
        "by_category": dict(result.by_category),
        "by_process": dict(result.by_process),
        "lines": [_line(line) for line in result.lines],
        "factors_used": [
            {
                "name": f.name,
                "value": f.value,
                "unit": f.unit,
                "source": f.source,
                "id": f.id,
                "version": f.version,
                "grade": f.grade,
            }
            for f in result.factors_used
        ],
        "organization": package.organization,
        "period": {"start": package.start.isoformat(), "end": package.end.isoformat()},
        "intensity": None
        if intensity is None
        else {
            "product": intensity.product,
            "quantity_t": intensity.quantity_t,
            "total_tco2_per_t": intensity.total_per_t,
            "direct_tco2_per_t": intensity.direct_per_t,
        },
        "model": {"name": result.model, "version": result.model_version},
        "notes": list(result.notes),
        "process_intensity": [i.as_dict() for i in result.process_intensity],
        "products": [
            {
                "row": p.row,
                "record_id": p.record_id,
                "process": p.process,
                "subprocess": p.subprocess,
                "month": p.month,
                "material": p.material,
                "quantity": p.quantity,
                "unit": p.unit,
                "quantity_t": p.quantity_t,
            }
            for p in result.products
        ],
    }


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(_width(str(r[i])) for r in (headers, *rows)) for i in range(len(headers))]

    def fmt(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - _width(cell))
            out.append(pad + cell if i in right else cell + pad)
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [fmt(headers), rule, *(fmt(r) for r in rows)]


def _num(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def render_text(package: Package, result: Result) -> str:
    """A readable Chinese report: lines, terms, processes, totals and intensity."""
    out = [
        f"组织：{package.organization}",
        f"核算期：{package.start.isoformat()} 至 {package.end.isoformat()}",
        f"核算方法：{result.standard}（模型：{result.model} v{result.model_version}）",
        *result.notes,
        "",
        "排放明细（单位：tCO2）",
    ]
    rows = [
        [
            str(ln.row),
            ln.process,
            ln.subprocess,
            CATEGORY_NAMES.get(ln.category, ln.category),
            ln.material,
            _num(ln.activity, 3),
            ln.activity_unit,
            f"{ln.ef:.8g}",
            ln.ef_unit,
            _num(ln.net_tco2),
            ln.factor_source,
        ]
        for ln in result.lines
    ]
    out += _table(
        [
            "行",
            "工序",
            "子工序",
            "类别",
            "物料",
            "活动数据",
            "单位",
            "排放因子",
            "因子单位",
            "排放量",
            "因子来源",
        ],
        rows,
        {0, 5, 7, 9},
    )
    out += ["", "分项汇总（单位：tCO2；扣减项以正数列出）"]
    out += _table(
        ["核算项", "排放量"], [[TERM_NAMES[t], _num(result.by_category[t])] for t in TERMS], {1}
    )
    out += ["", "分工序净排放（单位：tCO2）"]
    out += _table(["工序", "净排放量"], [[k, _num(v)] for k, v in result.by_process.items()], {1})
    out += [
        "",
        f"直接排放（燃烧 + 过程 − 固碳）：{_num(result.direct_tco2)} tCO2",
        f"间接排放（购入 − 输出的电力和热力）：{_num(result.indirect_tco2)} tCO2",
        f"排放总量：{_num(result.total_tco2)} tCO2",
    ]
    if result.intensity is not None:
        i = result.intensity
        out.append(
            f"排放强度：{i.total_per_t:.4f} tCO2/t {i.product}（直接排放 {i.direct_per_t:.4f}；"
            f"{i.product}产量 {_num(i.quantity_t)} t）"
        )
    if result.process_intensity:
        out += ["", "分工序产品排放强度（单位：tCO2/t 产品）"]
        out += _table(
            ["工序", "产品", "产量 t", "净排放 tCO2", "强度", "直接排放强度", "产量依据"],
            [
                [
                    p.process,
                    p.product,
                    _num(p.quantity_t),
                    _num(p.net_tco2),
                    f"{p.total_per_t:.4f}",
                    f"{p.direct_per_t:.4f}",
                    BASIS_NAMES.get(p.basis, p.basis),
                ]
                for p in result.process_intensity
            ],
            {2, 3, 4, 5},
        )
    return "\n".join(out) + "\n"


def render_issues(issues: Sequence[Issue]) -> str:
    """The rejection message: how many problems, then one line per problem."""
    lines = [f"数据包被拒绝：共 {len(issues)} 处问题，未计算排放总量。"]
    lines += [f"  {issue}" for issue in issues]
    return "\n".join(lines) + "\n"
