"""Checks of a formula as data: syntax, known variables, units, and its test cases.

Pure Python over ``orgcarbon.rules`` (the one expression parser); returns field → message pairs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from orgcarbon.rules.dimensions import DIMENSIONLESS, Dimension, check_units
from orgcarbon.rules.expressions import ExpressionError, compile_expression
from orgcarbon.rules.units import UnitError, UnitTable

DIMENSIONLESS_UNITS = ("", "1", "-", "%")


def unit_dimension(symbol: str | None, table: UnitTable) -> Dimension:
    """Dimension of ``t``, ``GJ/t``, ``1``...; raise ``UnitError`` for an unknown unit."""
    symbol = (symbol or "").strip()
    if symbol in DIMENSIONLESS_UNITS:
        return DIMENSIONLESS
    numerator, _, denominator = symbol.partition("/")
    result = DIMENSIONLESS if numerator.strip() in DIMENSIONLESS_UNITS else Dimension.of_unit(numerator, table)
    if denominator:
        result = result / Dimension.of_unit(denominator, table)
    return result


def _carbon_as_co2(dim: Dimension) -> Dimension:
    # The expression language has no typed 44/12: a formula turns tC into tCO2 with a plain
    # constant, so for checking a formula carbon mass counts as CO2 mass.
    merged: dict[str, Any] = {}
    for key, value in dim.exponents:
        key = "co2_mass" if key == "carbon_mass" else key
        merged[key] = merged.get(key, 0) + value
    return Dimension.of(merged)


def parse_variables(text: str | None) -> dict[str, str]:
    """``"quantity=t, ncv=GJ/t"`` → ``{"quantity": "t", "ncv": "GJ/t"}``; raise ``ValueError``."""
    result: dict[str, str] = {}
    for part in (text or "").replace("，", ",").replace("；", ",").replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, unit = part.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"“{part.strip()}”应写作 变量名=单位，例如 quantity=t")
        result[name] = unit.strip()
    return result


def parse_test_cases(text: str | None) -> list[dict[str, Any]]:
    """JSON list of ``{"inputs": {...}, "expected": number}``; raise ``ValueError`` (Chinese)."""
    if not (text or "").strip():
        return []
    try:
        cases = json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise ValueError(f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）") from exc
    if not isinstance(cases, list) or not all(
        isinstance(c, dict) and isinstance(c.get("inputs"), dict) and isinstance(c.get("expected"), int | float)
        for c in cases
    ):
        raise ValueError('应为列表，每项形如 {"inputs": {"quantity": 100}, "expected": 44}')
    return cases


def check_formula(values: Mapping[str, Any], table: UnitTable) -> dict[str, str]:
    """Errors by field of a formula given as plain values (activity, factor, variables, units)."""
    errors: dict[str, str] = {}
    try:
        declared = parse_variables(values.get("variables"))
    except ValueError as exc:
        return {"variables": str(exc)}
    dims: dict[str, Dimension] = {}
    for name, unit in declared.items():
        try:
            dims[name] = _carbon_as_co2(unit_dimension(unit, table))
        except UnitError as exc:
            errors["variables"] = f"变量 {name}：{exc}"
    compiled = {}
    for field in ("activity", "factor"):
        try:
            compiled[field] = compile_expression(str(values.get(field) or ""), declared)
        except ExpressionError as exc:
            errors[field] = str(exc)
    expected: dict[str, Dimension] = {}
    for field in ("activity_unit", "factor_unit", "result_unit"):
        if values.get(field):
            try:
                expected[field] = _carbon_as_co2(unit_dimension(values[field], table))
            except UnitError as exc:
                errors[field] = str(exc)
    if errors:
        return errors
    try:
        act = check_units(compiled["activity"], dims, expected.get("activity_unit"))
    except ExpressionError as exc:
        return {"activity": f"单位不一致：{exc.reason}"}
    try:
        fac = check_units(compiled["factor"], dims, expected.get("factor_unit"))
    except ExpressionError as exc:
        return {"factor": f"单位不一致：{exc.reason}"}
    result = expected.get("result_unit")
    if result is not None and act * fac != result:
        return {"result_unit": f"单位不一致：活动数据×因子的单位为“{act * fac}”，结果单位为“{result}”"}
    return {}


def run_test_cases(values: Mapping[str, Any]) -> list[str]:
    """Chinese descriptions of the failing test cases (empty list: all pass)."""
    declared = parse_variables(values.get("variables"))
    activity = compile_expression(str(values["activity"]), declared)
    factor = compile_expression(str(values["factor"]), declared)
    failures = []
    for number, case in enumerate(parse_test_cases(values.get("test_cases")), start=1):
        # Variables a case leaves out are "not given" (NaN), as in an activity record.
        env = {name: math.nan for name in declared} | {k: float(v) for k, v in case["inputs"].items()}
        try:
            got = float(activity.evaluate_scalar(env)) * float(factor.evaluate_scalar(env))
        except ExpressionError as exc:
            failures.append(f"用例 {number}：{exc}")
            continue
        want = float(case["expected"])
        if not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            failures.append(f"用例 {number}：期望 {want}，实际 {got:.10g}")
    return failures
