"""Pure checks of the metamodel: USCC check digit, formula syntax/units/test cases, the pack."""

from __future__ import annotations

from orgcarbon.metamodel.formula_check import check_formula, run_test_cases
from orgcarbon.metamodel.packs.build import default_pack_records
from orgcarbon.metamodel.uscc import uscc_problem
from orgcarbon.rules.units import default_units

FUEL = {"activity": "quantity * ncv", "factor": "cc * of * 44 / 12",
        "variables": "quantity=t, ncv=GJ/t, cc=tC/GJ, of=1", "activity_unit": "GJ",
        "factor_unit": "tCO2/GJ", "result_unit": "tCO2"}


def test_uscc_check_character() -> None:
    assert uscc_problem("911302001055678900") is None
    assert uscc_problem("911302001055678901") == "校验位错误（应为 0）"
    assert "18 位" in (uscc_problem("9113") or "")
    assert "I" in (uscc_problem("91130200105567890I") or "")


def test_formula_with_carbon_to_co2_constant_passes_the_unit_check() -> None:
    assert check_formula(FUEL, default_units()) == {}


def test_unknown_variable_is_named() -> None:
    errors = check_formula({**FUEL, "factor": "cc * oxidation"}, default_units())
    assert "未知变量" in errors["factor"] and "oxidation" in errors["factor"]


def test_unit_mismatch_is_refused() -> None:
    errors = check_formula({**FUEL, "activity": "quantity"}, default_units())
    assert "单位不一致" in errors["activity"]


def test_unknown_unit_in_variables() -> None:
    errors = check_formula({**FUEL, "variables": "quantity=吨吨, ncv=GJ/t, cc=tC/GJ, of=1"}, default_units())
    assert "未知单位" in errors["variables"]


def test_test_cases_compare_with_expected() -> None:
    ok = '[{"inputs": {"quantity": 10, "ncv": 2, "cc": 0.03, "of": 1}, "expected": 2.2}]'
    assert run_test_cases({**FUEL, "test_cases": ok}) == []
    bad = ok.replace("2.2", "3")
    assert run_test_cases({**FUEL, "test_cases": bad})[0].startswith("用例 1：期望 3")


def test_default_pack_holds_tables_grid_heat_and_the_thirteen_processes() -> None:
    records = default_pack_records()
    codes = {r["code"] for r in records if r["type"] == "factor"}
    assert "gbt32151.5-2015/B.1/无烟煤/ncv" in codes and "gbt32151.5-2015/heat/热力/heat" in codes
    assert "mee-nbs/2022/华北/electricity" in codes
    templates = [r["name"] for r in records if r["type"] == "process_template"]
    assert len(templates) == 13 and "自备电厂" in templates
