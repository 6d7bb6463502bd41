"""Pure checks of form definitions: each refusal and its Chinese wording, and fields from bindings."""

from __future__ import annotations

from typing import Any

import pytest

from orgcarbon.forms.definitions import (
    BindingFacts,
    check_field,
    check_form,
    check_section,
    fields_from_bindings,
    parameters_for,
)
from orgcarbon.rules.units import default_units

WEST, EAST = 3, 4
GAS = BindingFacts(5, "b/gas", WEST, "西区", "轧钢", "加热炉", "天然气", "10^4Nm3", "fuel_combustion", "in")
DIESEL = BindingFacts(6, "b/diesel", WEST, "西区", "辅助系统", "厂内运输", "柴油", "t", "fuel_combustion", "in")
POWER = BindingFacts(16, "b/power", WEST, "西区", "辅助系统", "机修", "电力", "MWh", "purchased_electricity", "in")
LIME = BindingFacts(10, "b/lime", EAST, "东区", "烧结", "配料", "石灰石", "t", "process_flux", "in")
COKE_GAS = BindingFacts(7, "b/cog", EAST, "东区", "焦化", "煤气净化", "焦炉煤气", "10^4Nm3", "fuel_combustion", "out")
FORM = {"code": "west-monthly", "name": "西区月报", "organization_id": WEST, "granularity": "month",
        "review_steps": 2, "due_day": 10}


def field(binding: BindingFacts | None = GAS, subtree: tuple[int, ...] = (WEST,),
          taken: Any = (), **values: Any) -> dict[str, str]:
    """``check_field`` on a valid quantity field of ``binding`` with ``values`` changed."""
    base = {"code": "q5", "label": "加热炉 天然气 消耗量", "parameter": "quantity", "data_type": "number",
            "unit": "10^4Nm3", "choices": None, "default": None, "min_value": None, "max_value": None,
            "allow_negative": False, "rule": None}
    return check_field(base | values, binding, subtree=subtree, units=default_units(), taken_codes=taken,
                       form_organization="西区")


def test_a_valid_form_section_and_field_pass() -> None:
    assert check_form(FORM) == {}
    assert check_section({"name": "轧钢"}, {"辅助系统"}) == {}
    assert field() == {}
    assert field(unit="Nm3") == {}  # convertible to the material's 10^4Nm3
    assert field(unit=None) == {}  # empty: the material's own unit


@pytest.mark.parametrize(("change", "attribute", "words"), [
    ({"code": " "}, "code", "不能为空"),
    ({"name": None}, "name", "不能为空"),
    ({"organization_id": None}, "organization", "所属的组织"),
    ({"granularity": "week"}, "granularity", "不能是“week”"),
    ({"review_steps": 3}, "review_steps", "只能是 1（提交后直接批准）或 2（审核后批准），不能是“3”"),
    ({"due_day": 31}, "due_day", "1 到 28 之间的整数"),
    ({"due_day": 0}, "due_day", "不能是“0”"),
    ({"due_day": "abc"}, "due_day", "不能是“abc”"),
])
def test_form_refusals_name_the_attribute(change: dict[str, Any], attribute: str, words: str) -> None:
    errors = check_form(FORM | change)
    assert list(errors) == [attribute] and words in errors[attribute]


def test_form_code_used_by_another_form_is_refused() -> None:
    assert check_form(FORM, taken_codes={"west-monthly"}) == {"code": "表单编码“west-monthly”已被另一个表单使用"}


def test_section_name_empty_or_repeated() -> None:
    assert check_section({"name": ""}) == {"name": "不能为空"}
    assert check_section({"name": "轧钢"}, {"轧钢"}) == {"name": "分组“轧钢”在本表单中已存在"}


def test_binding_outside_the_form_subtree_names_binding_and_organisations() -> None:
    assert field(LIME, parameter="quantity", unit="t") == {
        "binding": "绑定“配料 · 石灰石 · 熔剂”属于“东区”，不在表单所属组织“西区”及其下级中"}


def test_numeric_parameter_needs_a_binding_but_a_note_does_not() -> None:
    assert "必须选择一个绑定" in field(None)["binding"]
    assert field(None, parameter="note", data_type="text", unit=None) == {}


@pytest.mark.parametrize(("binding", "parameter", "words"), [
    (POWER, "ncv", "“低位发热量 NCV”只适用于燃料燃烧，绑定“机修 · 电力 · 购入电力”的类别是购入电力"),
    (POWER, "of", "“碳氧化率 OF”只适用于燃料燃烧，绑定“机修 · 电力 · 购入电力”的类别是购入电力"),
    (GAS, "purity", "“纯度”只适用于熔剂，绑定“加热炉 · 天然气 · 燃料燃烧”的类别是燃料燃烧"),
])
def test_parameter_must_suit_the_binding_category(binding: BindingFacts, parameter: str, words: str) -> None:
    assert field(binding, parameter=parameter, unit=None) == {"parameter": words}


def test_parameters_by_category() -> None:
    assert parameters_for("fuel_combustion") == ("quantity", "ncv", "cc", "of", "ef", "note")
    assert parameters_for("process_flux") == ("quantity", "purity", "ef", "note")
    assert parameters_for("purchased_electricity") == ("quantity", "ef", "note")


def test_unit_not_convertible_to_the_material_unit_names_the_material() -> None:
    reason = field(unit="kg")["unit"]
    assert reason.startswith("单位“kg”不能换算为物料“天然气”的单位“10^4Nm3”")
    assert "质量" in reason and "体积" in reason
    assert "未知单位“桶”" in field(unit="桶")["unit"]
    assert field(DIESEL, unit="kg") == {}


def test_measured_parameters_use_the_library_unit() -> None:
    assert field(DIESEL, parameter="ncv", unit="GJ/t") == {}
    assert field(DIESEL, parameter="ncv", unit="MJ/t") == {
        "unit": "“低位发热量 NCV”请按“GJ/t”填报（实测参数不做单位换算），不能用“MJ/t”"}
    assert "不能换算" in field(DIESEL, parameter="ncv", unit="GJ/MWh")["unit"]
    assert field(DIESEL, parameter="cc", unit="tC/GJ") == {}
    assert field(DIESEL, parameter="of", unit="%") == {
        "unit": "“碳氧化率 OF”是 0–1 之间的小数，单位应留空，不能是“%”"}


def test_min_above_max() -> None:
    assert field(min_value=10.0, max_value=5.0) == {"max_value": "最大值 5 小于最小值 10"}


def test_rule_that_does_not_compile_shows_the_position() -> None:
    reason = field(rule="value >")["rule"]
    assert reason.startswith("规则无法解析：第 1 行第") and "列：" in reason
    assert field(rule="value <= 1000 and value >= 0") == {}
    assert "未知变量 \"quantity\"" in field(rule="quantity > 0")["rule"]
    assert field(rule="value * 2")["rule"].startswith("规则应为条件（结果为真或假）")


def test_choice_type_without_choices() -> None:
    assert field(None, parameter="note", data_type="choice", unit=None, choices=" ，") == {
        "choices": "选项类型的字段必须填写可选值（用逗号分隔，例如：实测,估算）"}
    assert field(None, parameter="note", data_type="choice", unit=None, choices="实测，估算", default="估算") == {}
    assert "不在可选值中" in field(None, parameter="note", data_type="choice", unit=None, choices="实测",
                                   default="猜测")["default"]


def test_duplicate_code_names_the_field_that_has_it() -> None:
    assert field(taken={"q5": "加热炉 天然气 消耗量（旧）"}) == {
        "code": "字段编码“q5”在本表单中已被使用（字段“加热炉 天然气 消耗量（旧）”）"}
    assert "不能含空格" in field(code="q 5")["code"]


def test_types_defaults_and_signs() -> None:
    assert field(data_type="text") == {"data_type": "“消耗量/产量”字段的类型必须是数值"}
    assert field(data_type="float")["data_type"].startswith("类型应为数值、文本、日期、选项之一")
    assert field(parameter="heat")["parameter"].startswith("参数应为消耗量/产量、")
    assert field(default="很多") == {"default": "数值字段的默认值应为数字，不能是“很多”"}
    assert field(POWER, unit="MWh", allow_negative=True) == {"allow_negative": "只有燃料燃烧的净消耗量可以为负数"}
    assert field(min_value=-1.0) == {"min_value": "最小值 -1 为负数，但本字段不允许负数"}
    assert field(min_value=-1.0, allow_negative=True) == {}
    assert field(None, parameter="note", data_type="text", unit=None, min_value=1.0)["min_value"] == \
        "只有数值字段可以设置最小值、最大值"


def test_fields_from_bindings_one_quantity_per_binding_plus_optional_parameters() -> None:
    specs = fields_from_bindings([GAS, DIESEL, POWER], form_organization_id=WEST)
    quantities = [s for s in specs if s.parameter == "quantity"]
    assert [s.binding_id for s in quantities] == [5, 6, 16]
    assert [s.label for s in quantities] == ["加热炉 天然气 消耗量", "厂内运输 柴油 消耗量", "机修 电力 消耗量"]
    assert [s.unit for s in quantities] == ["10^4Nm3", "t", "MWh"]
    assert all(s.required for s in quantities)
    measured = [(s.binding_id, s.parameter, s.unit, s.required) for s in specs if s.parameter != "quantity"]
    assert measured == [(5, "ncv", "GJ/10^4Nm3", False), (5, "cc", "tC/GJ", False), (5, "of", None, False),
                        (6, "ncv", "GJ/t", False), (6, "cc", "tC/GJ", False), (6, "of", None, False)]
    assert [s.section for s in specs] == ["轧钢"] * 4 + ["辅助系统"] * 5
    assert [s.order for s in specs] == list(range(10, 100, 10))
    assert len({s.code for s in specs}) == len(specs)


def test_fields_from_bindings_skips_bindings_on_the_form_and_taken_codes() -> None:
    specs = fields_from_bindings([GAS, LIME, COKE_GAS], form_organization_id=WEST, on_form={"b/gas"},
                                 taken_codes={"quantity_10"}, first_order=100, step=1)
    assert [(s.code, s.parameter) for s in specs] == [
        ("quantity_10_2", "quantity"), ("purity_10", "purity"), ("quantity_7", "quantity"), ("ncv_7", "ncv"),
        ("cc_7", "cc"), ("of_7", "of")]
    purity = specs[1]
    assert (purity.min_value, purity.max_value, purity.required) == (0.0, 1.0, False)
    produced = specs[2]
    assert produced.label == "煤气净化 焦炉煤气 产量" and produced.allow_negative and "负数" in (produced.help_text or "")
    assert specs[0].section == "东区 · 烧结"  # a process of a node below the form's is named with its node
    assert [s.order for s in specs] == [100, 101, 102, 103, 104, 105]
