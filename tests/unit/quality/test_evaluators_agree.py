"""The vectorised evaluator and the experta evaluator give the same findings where both apply."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgcarbon.rules.quality.aggregate import evaluate_facts
from orgcarbon.rules.quality.facts import build_facts
from orgcarbon.rules.quality.inference import (
    build_engine_class,
    run_inference,
    run_record_rules_on_experta,
)
from orgcarbon.rules.quality.pack import default_pack
from orgcarbon.rules.quality.vectorised import Evaluation, evaluate_records
from tests.unit.quality.conftest import make_frame, make_rule

RECORD_RULES = [
    make_rule(
        id="ncv-range",
        condition="ncv < low or ncv > high",
        params={"low": 5, "high": 50},
        severity="error",
        message="{material} NCV {ncv} 超出 [{low}, {high}]",
    ),
    make_rule(
        id="missing-cc",
        condition="is_null(cc)",
        scope={"materials": ["焦炭"]},
        message="{material} 缺少含碳量",
    ),
    make_rule(
        id="negative",
        condition="if_null(quantity, 0) < 0 and not is_null(of)",
        scope={"processes": ["炼铁", "焦化"]},
        message="{process} 数量 {quantity} 为负",
    ),
    make_rule(
        id="mes-big",
        condition="quantity * if_null(ncv, 1) > 5000",
        scope={"sources": ["MES"]},
        message="{source} 能量 {quantity}",
    ),
    make_rule(id="always", scope={"tags": ["月报"]}, message="月报 {row_id}"),
]

numbers = st.one_of(
    st.none(), st.floats(-100, 100, allow_nan=False), st.sampled_from([0.0, 5.0, 50.0])
)
record = st.fixed_dictionaries(
    {
        "material": st.sampled_from(["焦炭", "烟煤", "天然气"]),
        "process": st.sampled_from(["炼铁", "焦化", "炼钢"]),
        "source": st.sampled_from(["MES", "ERP"]),
        "tags": st.sampled_from(["", "月报", "月报,计量"]),
        "quantity": numbers,
        "ncv": numbers,
        "cc": numbers,
        "of": numbers,
    }
)


def _same_findings(frame: pd.DataFrame) -> tuple[list[Any], list[Any]]:
    vectorised = evaluate_records(frame, RECORD_RULES)
    experta = Evaluation(
        vectorised.frame, hits=run_record_rules_on_experta(vectorised.frame, RECORD_RULES)
    )
    return vectorised.findings(), experta.findings()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record, min_size=1, max_size=12))
def test_single_record_rules_agree_on_random_records(rows: list[dict[str, Any]]) -> None:
    frame = make_frame(*({"row_id": i + 1, **r} for i, r in enumerate(rows)))
    vectorised, experta = _same_findings(frame)
    assert vectorised == experta


def test_single_record_rules_agree_on_a_known_case() -> None:
    frame = make_frame(
        {
            "row_id": 1,
            "material": "焦炭",
            "process": "炼铁",
            "source": "MES",
            "quantity": 200,
            "ncv": 60,
            "of": 0.9,
        },
        {
            "row_id": 2,
            "material": "焦炭",
            "process": "焦化",
            "source": "ERP",
            "quantity": -3,
            "cc": 0.03,
            "of": 0.9,
        },
    )
    vectorised, experta = _same_findings(frame)
    assert vectorised == experta
    assert [(f.rule_id, f.row_ids, f.message) for f in vectorised] == [
        ("mes-big", (1,), "MES 能量 200"),
        ("missing-cc", (1,), "焦炭 缺少含碳量"),
        ("ncv-range", (1,), "焦炭 NCV 60 超出 [5, 50]"),
        ("negative", (2,), "焦化 数量 -3 为负"),
    ]


def _monthly() -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for org, scale in (("甲厂", 1.0), ("乙厂", 3.0)):
        for m, coke in enumerate([400, 420, 900, 410], start=1):
            month = f"2023-{m:02d}"
            rows += [
                {
                    "organization": org,
                    "process": "炼铁",
                    "category": "fuel_combustion",
                    "material": "焦炭",
                    "quantity": coke * scale,
                    "unit": "t",
                    "month": month,
                    "source": "MES",
                },
                {
                    "organization": org,
                    "process": "炼铁",
                    "category": "fuel_combustion",
                    "material": "焦炭",
                    "quantity": coke * scale * (1.2 if m == 2 else 1.0),
                    "unit": "t",
                    "month": month,
                    "source": "ERP",
                },
                {
                    "organization": org,
                    "process": "炼钢",
                    "category": "fixed_carbon_product",
                    "material": "粗钢",
                    "quantity": 1000 * scale,
                    "unit": "t",
                    "month": month,
                    "source": "MES",
                },
                {
                    "organization": org,
                    "process": "全厂",
                    "category": "purchased_electricity",
                    "material": "电力",
                    "quantity": 400_000 * scale,
                    "unit": "kWh",
                    "month": month,
                    "source": "MES",
                },
            ]
    return make_frame(*({"row_id": i + 1, **r} for i, r in enumerate(rows)))


AGGREGATE_RULES = [
    make_rule(
        id="mom",
        level="binding_month",
        condition="prev_quantity > 0 and abs(quantity / prev_quantity - 1) > 0.3",
        message="{material} {month} {quantity} 上月 {prev_quantity}",
    ),
    make_rule(
        id="sources",
        level="binding_month",
        condition="source_spread > 0.05",
        message="{key} 来源不一致",
    ),
    make_rule(
        id="coke",
        level="organization_month",
        condition="焦炭 / 粗钢 > 0.5",
        message="{month} 焦比 {焦炭}/{粗钢}",
    ),
    make_rule(
        id="balance",
        level="process_month",
        scope={"processes": ["炼铁"]},
        condition="abs(焦炭 - prev_焦炭) > 300",
        message="{process} {month} 焦炭变化",
    ),
    make_rule(
        id="share",
        level="binding_month",
        join="organization_month",
        scope={"materials": ["焦炭"]},
        condition="quantity / org_粗钢 > 0.5",
        message="{material} {quantity} / 粗钢 {org_粗钢}",
    ),
]


def test_inference_rules_agree_between_experta_and_pandas() -> None:
    facts = build_facts(_monthly())
    vectorised = evaluate_facts(facts, AGGREGATE_RULES)
    experta = run_inference(facts, AGGREGATE_RULES)
    assert vectorised == experta
    by_rule = {r.id: sorted(f.key for f in experta if f.rule_id == r.id) for r in AGGREGATE_RULES}
    assert by_rule["coke"] == ["乙厂/2023-03", "甲厂/2023-03"]
    assert by_rule["mom"] == [
        f"{o}/炼铁//fuel_combustion/焦炭/{m}"
        for o in ("乙厂", "甲厂")
        for m in ("2023-03", "2023-04")
    ]
    assert len(by_rule["sources"]) == 2 and len(by_rule["share"]) == 2
    assert by_rule["balance"] == [
        "乙厂/炼铁/2023-03",
        "乙厂/炼铁/2023-04",
        "甲厂/炼铁/2023-03",
        "甲厂/炼铁/2023-04",
    ]


def test_engine_class_is_built_at_run_time_from_definitions() -> None:
    engine_class = build_engine_class(default_pack().rules[2:5], "PackEngine")
    assert engine_class.__name__ == "PackEngine"
    assert sorted(n for n in vars(engine_class) if n.startswith("rule_")) == [
        "rule_0",
        "rule_1",
        "rule_2",
    ]
