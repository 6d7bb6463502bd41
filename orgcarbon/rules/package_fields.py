"""Field rules of an ``orgcarbon-activity/1`` record: headers, numbers, fractions, months."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.issues import Issue
from orgcarbon.rules.model import CATEGORY_NAMES, category_from_label
from orgcarbon.rules.products import PRODUCT_CATEGORY, PRODUCT_CATEGORY_NAME, is_product_category
from orgcarbon.rules.records import RecordRow
from orgcarbon.rules.units import UnitError, UnitTable

__all__ = ["HEADERS", "parse_number", "parse_record"]

# English key → Chinese column header, as activity-package.md lists them.
HEADERS: dict[str, str] = {
    "process": "工序",
    "subprocess": "子工序",
    "month": "月份",
    "category": "类别",
    "material": "物料",
    "quantity": "数量",
    "unit": "单位",
    "ncv": "低位发热量",
    "cc": "单位热值含碳量",
    "of": "碳氧化率",
    "purity": "纯度",
    "ef": "排放因子",
    "id": "编号",
    "note": "备注",
}
KEY_BY_HEADER = {**{v: k for k, v in HEADERS.items()}, **{k: k for k in HEADERS}}
_FRACTIONS = ("of", "purity")
_NON_NEGATIVE = ("ncv", "cc", "ef")


def parse_number(value: Any) -> float | None:
    """A finite float from a number or numeric text; None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _month(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return f"{value.year:04d}-{value.month:02d}"
    text = _text(value)
    parts = text.split("-")
    digits = len(parts) == 2 and len(parts[0]) == 4 and parts[0].isdigit() and parts[1].isdigit()
    if digits and 1 <= int(parts[1]) <= 12:
        return f"{parts[0]}-{int(parts[1]):02d}"
    return None


def parse_record(
    raw: Any,
    row: int,
    library: FactorLibrary,
    units: UnitTable,
    period: tuple[date, date] | None,
) -> tuple[RecordRow | None, list[Issue]]:
    """Validate one raw record; return the record (None if rejected) and every issue found."""
    if not isinstance(raw, Mapping):
        return None, [Issue(row, "", None, "记录必须是一个对象（键值对）")]
    issues: list[Issue] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = KEY_BY_HEADER.get(str(key).strip())
        if name is None:
            issues.append(
                Issue(row, str(key), None, "未知字段（请使用文档列出的英文键或中文列名）")
            )
        elif not _empty(value):
            values[name] = value

    def bad(field: str, reason: str) -> None:
        issues.append(Issue(row, field, values.get(field), reason))

    for field in ("category", "material", "quantity", "unit"):
        if field not in values:
            issues.append(Issue(row, field, None, f"缺少必填字段（{HEADERS[field]}）"))
    label = _text(values["category"]) if "category" in values else ""
    category = category_from_label(label) if label else None
    if label and category is None and is_product_category(label):
        category = PRODUCT_CATEGORY  # an output quantity, not an emission source
    if "category" in values and category is None:
        known = {**CATEGORY_NAMES, PRODUCT_CATEGORY: PRODUCT_CATEGORY_NAME}
        bad("category", "未知类别，可用：" + "、".join(f"{k}（{v}）" for k, v in known.items()))
    product = category == PRODUCT_CATEGORY
    material_name = _text(values["material"]) if "material" in values else ""
    material = library.material(material_name) if material_name else None
    if material_name and material is None and not product:
        bad("material", "未知物料（因子库中没有此物料）")
    if category and material:
        required = {
            "purchased_electricity": "电力",
            "exported_electricity": "电力",
            "purchased_heat": "热力",
            "exported_heat": "热力",
        }.get(category)
        if required and material.name != required:
            bad("material", f"类别 {category} 的物料应为“{required}”")

    quantity = None
    if "quantity" in values:
        quantity = parse_number(values["quantity"])
        if quantity is None:
            bad("quantity", "数量不是数字")
        elif quantity < 0 and category not in (None, "fuel_combustion"):
            bad("quantity", "只有燃料燃烧的净消耗量可以为负数")

    unit = _text(values["unit"]) if "unit" in values else ""
    if unit:
        try:
            units.get(unit)
            if product:
                units.factor(unit, "t")  # product output is counted in tonnes
            elif material is not None:
                units.factor(unit, material.unit)
        except UnitError as exc:
            bad("unit", str(exc))

    params: dict[str, float | None] = {}
    for field in ("ncv", "cc", "of", "purity", "ef"):
        if field not in values:
            params[field] = None
            continue
        number = parse_number(values[field])
        params[field] = number
        if number is None:
            bad(field, f"{HEADERS[field]}不是数字")
        elif field in _FRACTIONS and not 0 <= number <= 1:
            bad(field, f"{HEADERS[field]}应为 0–1 之间的小数（如 0.93），不是百分数")
        elif field in _NON_NEGATIVE and number < 0:
            bad(field, f"{HEADERS[field]}不能为负数")
    if params["purity"] is not None and category not in (None, "process_flux"):
        bad("purity", "纯度只适用于熔剂（process_flux）")
    if product:
        for field in ("ncv", "cc", "of", "ef"):
            if params[field] is not None:
                bad(field, f"产品产量记录不带{HEADERS[field]}")

    month = ""
    if "month" in values:
        parsed = _month(values["month"])
        if parsed is None:
            bad("month", "月份格式应为 YYYY-MM")
        else:
            month = parsed
            first = date(int(parsed[:4]), int(parsed[5:]), 1)
            if period and not (period[0].replace(day=1) <= first <= period[1]):
                bad("month", f"月份不在核算期 {period[0]} 至 {period[1]} 内")

    if category and material and not issues:
        issues += _factor_issues(row, category, material.name, params, library)
    if issues or category is None or quantity is None:
        return None, issues
    return RecordRow(
        category=category,
        material=material_name,
        quantity=quantity,
        unit=unit,
        process=_text(values.get("process", "全厂")) or "全厂",
        subprocess=_text(values.get("subprocess", "")),
        month=month,
        ncv=params["ncv"],
        cc=params["cc"],
        of=params["of"],
        purity=params["purity"],
        ef=params["ef"],
        row=row,
        id=_text(values["id"]) if "id" in values else None,
    ), []


def _factor_issues(
    row: int,
    category: str,
    material: str,
    params: Mapping[str, float | None],
    library: FactorLibrary,
) -> list[Issue]:
    """A fuel without NCV/CC/OF, or a process/product without EF, in library and record alike."""

    def has(kind: str, param: str) -> bool:
        return params[param] is not None or library.find(kind, material) is not None

    if category == "fuel_combustion":
        missing = [p for p in ("ncv", "cc", "of") if not has(p, p)]
        if params["ef"] is not None:  # a measured EF replaces CC × OF, not the NCV
            missing = [p for p in missing if p == "ncv"]
        if missing:
            names = "、".join(f"{HEADERS[p]}({p})" for p in missing)
            return [Issue(row, "material", material, f"燃料缺少{names}：因子库和记录中都没有")]
    kind = {
        "process_flux": "process",
        "process_electrode": "process",
        "process_raw_material": "process",
        "fixed_carbon_product": "fixed_carbon",
    }.get(category)
    if kind and not has(kind, "ef"):
        what = "固碳产品排放因子" if kind == "fixed_carbon" else "过程排放因子"
        return [Issue(row, "material", material, f"缺少{what}(ef)：因子库和记录中都没有")]
    return []
