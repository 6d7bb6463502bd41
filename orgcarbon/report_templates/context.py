"""Build the render context of a report from an accounting ``Result``: plain dicts and lists.

Every key is one variable of ``catalogue.CATALOGUE``; ``_BUILDERS`` is checked against it at
import so a variable cannot be added to one and forgotten in the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

import numpy as np

from orgcarbon.report_templates.catalogue import CATALOGUE
from orgcarbon.rules.model import CATEGORY_NAMES, TERM_NAMES, TERMS
from orgcarbon.rules.package import Package
from orgcarbon.rules.results import Result, ResultLine

__all__ = ["ReportInfo", "build_context"]

PARAMETER_NAMES = {
    "ncv": "低位发热量",
    "cc": "单位热值含碳量",
    "of": "碳氧化率",
    "purity": "纯度",
    "ef": "排放因子",
}
_DEDUCTED = {"exported_electricity", "exported_heat", "fixed_carbon"}
_USER_GRADE = "用户指定"  # grade the engine gives a factor passed in the package itself
DEFAULT_DECLARATION = (
    "本单位郑重承诺：本报告所提供的温室气体排放数据及相关信息真实、准确、完整，"
    "核算边界、方法和排放因子符合 GB/T 32151.5 的规定，并对其真实性承担法律责任。"
)


@dataclass(frozen=True)
class ReportInfo:
    """What the result does not know: who reports, for when, and the explanatory texts."""

    org_name: str
    period_start: date
    period_end: date
    org_code: str = ""
    org_nature: str = ""
    org_sector: str = "钢铁生产"
    org_address: str = ""
    legal_representative: str = ""
    contact_person: str = ""
    contact_phone: str = ""
    compile_date: date | None = None
    # material (or "row:<n>") → where its activity data came from, e.g. "ERP 领料台账"
    activity_sources: Mapping[str, str] = field(default_factory=dict)
    explanations: tuple[str, ...] = ()
    declaration_text: str = DEFAULT_DECLARATION

    @classmethod
    def from_package(cls, package: Package, **overrides: Any) -> ReportInfo:
        """Organisation and period from an activity package; anything else from ``overrides``."""
        values: dict[str, Any] = {
            "org_name": package.organization,
            "period_start": package.start,
            "period_end": package.end,
        }
        return cls(**{**values, **overrides})


@dataclass(frozen=True)
class _Input:
    result: Result
    info: ReportInfo
    draft: bool
    generated_at: datetime

    @cached_property
    def lines(self) -> list[ResultLine]:
        # Building a line's lineage costs a few microseconds; several tables need them all.
        return list(self.result.lines)

    @cached_property
    def factors(self) -> list[dict[str, Any]]:
        return _factors(self)


def _by_source(x: _Input) -> list[dict[str, Any]]:
    rows = []
    for term in TERMS:
        value = float(x.result.by_category[term])
        sign = -1 if term in _DEDUCTED else 1
        rows.append(
            {
                "key": term,
                "name": TERM_NAMES[term],
                "tco2": value,
                "sign": sign,
                "net_tco2": sign * value,
            }
        )
    return rows


def _activity(x: _Input) -> list[dict[str, Any]]:
    records = x.result.lines.records
    sources = x.info.activity_sources
    rows = []
    for i, line in enumerate(x.lines):
        source = sources.get(f"row:{line.row}") or sources.get(line.material)
        if not source:
            source = f"活动数据包第 {line.row} 行" + (
                f"（记录 {line.record_id}）" if line.record_id else ""
            )
        rows.append(
            {
                "row": line.row,
                "process": line.process,
                "subprocess": line.subprocess,
                "month": line.month,
                "category": CATEGORY_NAMES.get(line.category, line.category),
                "material": line.material,
                "quantity": float(records.quantity[i]),
                "unit": records.units[int(records.unit[i])],
                "activity": line.activity,
                "activity_unit": line.activity_unit,
                "ef": line.ef,
                "ef_unit": line.ef_unit,
                "tco2": line.net_tco2,
                "source": source,
            }
        )
    return rows


def _factors(x: _Input) -> list[dict[str, Any]]:
    records = x.result.lines.records
    seen: dict[tuple[str, str, float, str], dict[str, Any]] = {}
    for i, line in enumerate(x.lines):
        for f in line.factors:
            kind = f.name.rsplit("/", 1)[-1]
            origin = "指定值" if f.grade == _USER_GRADE else "缺省值"
            key = (line.material, kind, f.value, f.source)
            seen.setdefault(
                key,
                {
                    "material": line.material,
                    "parameter": PARAMETER_NAMES.get(kind, "排放因子"),
                    "value": f.value,
                    "unit": f.unit,
                    "origin": origin,
                    "measured": False,
                    "source": f.source,
                    "grade": f.grade,
                },
            )
        for p in line.measured:
            column = records.param(p)
            value = float(column[i]) if column is not None else float("nan")
            key = (line.material, p, value, "measured")
            seen.setdefault(
                key,
                {
                    "material": line.material,
                    "parameter": PARAMETER_NAMES[p],
                    "value": value,
                    "unit": "1" if p in ("of", "purity") else "",
                    "origin": "实测值",
                    "measured": True,
                    "source": f"实测值（活动数据包第 {line.row} 行）",
                    "grade": "实测",
                },
            )
    return list(seen.values())


def _by_process(x: _Input) -> list[dict[str, Any]]:
    total = x.result.total_tco2
    return [
        {"process": p, "tco2": float(v), "share": float(v) / total if total else 0.0}
        for p, v in x.result.by_process.items()
    ]


def _by_subprocess(x: _Input) -> list[dict[str, Any]]:
    rollup = x.result.subprocesses
    net, direct = rollup.totals(), rollup.totals(direct=True)
    # Keys are (site, process, subprocess); a report is per organisation, so sites are summed.
    merged: dict[tuple[str, str], list[float]] = {}
    for key in rollup.keys:
        acc = merged.setdefault((key[-2], key[-1]), [0.0, 0.0])
        acc[0] += net[key]
        acc[1] += direct[key]
    return [
        {"process": p, "subprocess": s, "tco2": v[0], "direct_tco2": v[1]}
        for (p, s), v in merged.items()
    ]


def _by_month(x: _Input) -> list[dict[str, Any]]:
    org = x.result.organization
    net, direct = org.by_period(), org.by_period(direct=True)
    terms = x.result.by_category_per_period()
    return [
        {
            "period": period,
            "tco2": net[period],
            "direct_tco2": direct[period],
            "e_combustion": terms["fuel_combustion"].get(period, 0.0),
            "e_process": terms["process"].get(period, 0.0),
        }
        for period in org.periods
    ]


def _intensity(attr: str) -> Callable[[_Input], Any]:
    def get(x: _Input) -> Any:
        i = x.result.intensity
        return None if i is None else getattr(i, attr)

    return get


def _info(attr: str) -> Callable[[_Input], Any]:
    return lambda x: getattr(x.info, attr)


def _term(term: str) -> Callable[[_Input], float]:
    return lambda x: float(x.result.by_category[term])


def _explanations(x: _Input) -> list[str]:
    texts = list(x.info.explanations) + list(x.result.notes)
    if any(f["origin"] == "缺省值" for f in x.factors):
        texts.append("未实测的参数采用 GB/T 32151.5 附录 B 缺省值，来源见排放因子表。")
    return texts


_BUILDERS: dict[str, Callable[[_Input], Any]] = {
    **{
        n: _info(n)
        for n in (
            "org_name",
            "org_code",
            "org_nature",
            "org_sector",
            "org_address",
            "legal_representative",
            "contact_person",
            "contact_phone",
            "declaration_text",
        )
    },
    "report_year": lambda x: x.info.period_start.year,
    "period_start": lambda x: x.info.period_start.isoformat(),
    "period_end": lambda x: x.info.period_end.isoformat(),
    "compile_date": lambda x: (x.info.compile_date or x.generated_at.date()).isoformat(),
    "standard": lambda x: x.result.standard,
    "model_name": lambda x: x.result.model,
    "model_version": lambda x: x.result.model_version,
    "draft": lambda x: x.draft,
    "total_tco2": lambda x: float(x.result.total_tco2),
    "total_direct_tco2": lambda x: float(x.result.direct_tco2),
    "indirect_tco2": lambda x: float(x.result.indirect_tco2),
    "e_combustion": _term("fuel_combustion"),
    "e_process": _term("process"),
    "e_purchased_electricity": _term("purchased_electricity"),
    "e_purchased_heat": _term("purchased_heat"),
    "e_exported_electricity": _term("exported_electricity"),
    "e_exported_heat": _term("exported_heat"),
    "r_fixed_carbon": _term("fixed_carbon"),
    "intensity_product": _intensity("product"),
    "product_output_t": _intensity("quantity_t"),
    "intensity_total": _intensity("total_per_t"),
    "intensity_direct": _intensity("direct_per_t"),
    "emissions_by_source": _by_source,
    "activity_data": _activity,
    "factors": lambda x: x.factors,
    "by_process": _by_process,
    "by_subprocess": _by_subprocess,
    "by_month": _by_month,
    "other_explanations": _explanations,
    "declaration_signatory": lambda x: x.info.legal_representative,
    "generated_at": lambda x: x.generated_at.isoformat(timespec="seconds"),
    "chart_by_process": lambda x: None,  # the docx renderer puts the picture here
}

_missing = {v.name for v in CATALOGUE} ^ set(_BUILDERS)
if _missing:  # pragma: no cover - a programming error, caught by the first import in CI
    raise RuntimeError(f"catalogue and context builders differ: {sorted(_missing)}")


def _plain(value: Any) -> Any:
    # NumPy scalars would leak into JSON manifests and openpyxl cells; keep the context plain.
    if isinstance(value, np.generic):
        return value.item()
    return value


def build_context(
    result: Result,
    info: ReportInfo,
    *,
    draft: bool = False,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The render context of one report: every catalogue variable, as plain Python values."""
    x = _Input(result, info, draft, generated_at or datetime.now(UTC))
    return {v.name: _plain(_BUILDERS[v.name](x)) for v in CATALOGUE}
