"""Rule definitions: round trip through JSON, and every bad definition refused with a Chinese reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orgcarbon.rules.quality.definition_check import (
    RuleDefinitionError,
    load_rule,
    validate_rule_definition,
)
from orgcarbon.rules.quality.definitions import rule_from_dict, rule_to_dict
from orgcarbon.rules.quality.pack import default_pack, pack_from_dict

GOOD: dict[str, Any] = {
    "id": "ncv",
    "kind": "validation",
    "action": "flag",
    "condition": "ncv < low or ncv > high",
    "params": {"low": 5, "high": 50},
    "severity": "error",
    "message": "{material} 低位发热量 {ncv} 超出 [{low}, {high}]",
    "scope": {"categories": ["fuel_combustion"]},
}


def test_definition_round_trips_through_json() -> None:
    rule = load_rule(GOOD)
    again = rule_from_dict(json.loads(json.dumps(rule_to_dict(rule), ensure_ascii=False)))
    assert again == rule
    assert rule.scope.categories == ("fuel_combustion",)
    assert rule.label == "ncv@1" and rule.quality_dimension == "accuracy"


@pytest.mark.parametrize(
    ("change", "field", "reason", "position"),
    [
        ({"condition": "ncv > (low"}, "condition", "括号未闭合", (1, 7)),
        ({"condition": "nvc > low"}, "condition", '未知变量 "nvc"', (1, 1)),
        ({"condition": "ncv.real > 1"}, "condition", "不允许访问属性（.）", (1, 1)),
        ({"condition": "ncv > low and __import__(1)"}, "condition", "未知函数", (1, 15)),
        ({"condition": "ncv > 'a'"}, "condition", "不允许使用字符串", (1, 7)),
        ({"kind": "cleaning"}, "action", '动作 "flag" 不适用于清洗规则', None),
        ({"action": "fill"}, "action", '动作 "fill" 不适用于校验规则', None),
        ({"kind": "magic"}, "kind", '未知的规则类型 "magic"', None),
        ({"severity": "fatal"}, "severity", '未知的严重程度 "fatal"', None),
        ({"level": "year"}, "level", '未知的层级 "year"', None),
        ({"message": "{material} {nope}"}, "message", '未知的占位符 "{nope}"', (1, 12)),
        ({"message": "{material"}, "message", "花括号不成对", None),
        ({"params": {"low": 5, "high": 50, "x": "y"}}, "params.x", "未知参数", None),
        ({"params": {"low": 5, "high": 50, "ncv": 1}}, "params", "参数名与变量重名：ncv", None),
        ({"level": "organization_month", "action": "reject"}, "action", "只能使用 flag", None),
        ({"join": "process_month"}, "join", "关联更粗的层级", None),
    ],
)
def test_bad_definition_is_refused_with_reason_and_position(
    change: dict[str, Any], field: str, reason: str, position: tuple[int, int] | None
) -> None:
    problems = validate_rule_definition({**GOOD, **change})
    matching = [p for p in problems if p.field == field and reason in p.reason]
    assert matching, [str(p) for p in problems]
    if position is not None:
        assert (matching[0].line, matching[0].column) == position
    assert str(matching[0]).startswith("规则 ncv 的 ")


@pytest.mark.parametrize(
    ("rule", "field", "reason"),
    [
        (
            {"action": "fill", "params": {"field": "ncv", "method": "magic"}},
            "params.method",
            "不可用",
        ),
        (
            {"action": "fill", "params": {"field": "ncv", "method": "constant"}},
            "params.value",
            "缺少必填参数",
        ),
        (
            {"action": "fill", "params": {"field": "zzz", "method": "previous"}},
            "params.field",
            '未知的数值字段 "zzz"',
        ),
        (
            {"action": "clamp", "params": {"field": "of", "low": 1, "high": 0}},
            "params.low",
            "下限 1 大于上限 0",
        ),
        ({"action": "clamp", "params": {"field": "of"}}, "params", "至少需要 low 或 high"),
        ({"action": "convert_unit", "params": {"to": "桶"}}, "params.to", "未知单位“桶”"),
        (
            {"action": "correct", "params": {"field": "of", "value": "of /"}},
            "params.value",
            "语法错误",
        ),
        (
            {
                "action": "split",
                "params": {"field": "quantity", "parts": [{"share": 0.5}, {"share": 0.4}]},
            },
            "params.parts",
            "之和应为 1",
        ),
        (
            {"action": "smooth", "params": {"field": "quantity", "method": "median", "window": 2}},
            "params.window",
            "窗口至少为 3",
        ),
        (
            {"action": "mask", "params": {"field": "quantity"}},
            "params.field",
            '未知的文本字段 "quantity"',
        ),
    ],
)
def test_bad_cleaning_params_are_refused(rule: dict[str, Any], field: str, reason: str) -> None:
    data = {"id": "c", "kind": "cleaning", "message": "已清洗 {field}", **rule}
    problems = validate_rule_definition(data)
    assert any(p.field == field and reason in p.reason for p in problems), [
        str(p) for p in problems
    ]


def test_every_problem_is_collected_not_just_the_first() -> None:
    bad = {**GOOD, "kind": "cleaning", "severity": "fatal", "message": "{zzz}", "version": 0}
    fields = {p.field for p in validate_rule_definition(bad)}
    assert {"action", "severity", "message", "version"} <= fields


def test_load_rule_raises_with_all_problems() -> None:
    with pytest.raises(RuleDefinitionError) as info:
        load_rule({**GOOD, "condition": "nvc > 1", "severity": "fatal"})
    assert len(info.value.problems) == 2
    assert '未知变量 "nvc"' in str(info.value)


def test_pack_refuses_duplicate_ids_and_reports_every_bad_rule() -> None:
    with pytest.raises(RuleDefinitionError) as info:
        pack_from_dict({"rules": [GOOD, GOOD, {**GOOD, "id": "x", "condition": "("}]})
    reasons = [(p.rule_id, p.reason) for p in info.value.problems]
    assert ("ncv", "规则编号重复") in reasons
    assert any(r[0] == "x" for r in reasons)


def test_aggregate_rules_may_use_material_totals_and_joined_variables() -> None:
    assert (
        validate_rule_definition(
            {
                "id": "share",
                "kind": "validation",
                "action": "flag",
                "level": "binding_month",
                "join": "organization_month",
                "condition": "quantity / org_焦炭 > 0.9",
                "message": "{material} 占全厂焦炭 {quantity}/{org_焦炭}",
            }
        )
        == []
    )


def test_default_pack_loads_and_every_rule_has_test_cases() -> None:
    pack = default_pack()
    assert len(pack.rules) == 13
    assert all(len(r.tests) >= 2 for r in pack.rules)
    assert {r.id for r in pack.rules} >= {
        "ncv-solid-range",
        "cc-range",
        "of-range",
        "purity-range",
        "coke-rate",
        "fuel-rate",
        "electricity-rate",
        "month-over-month",
        "completeness-binding-month",
        "dedupe-exact",
    }
