"""Each cleaning/validation action changes exactly the values it should, and logs before/after."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from orgcarbon.rules.quality.vectorised import evaluate_records
from tests.unit.quality.conftest import make_frame, make_rule

M1, M2, M3, M4 = "2023-01", "2023-02", "2023-03", "2023-04"


def _series(*values: float | None) -> pd.DataFrame:
    months = [M1, M2, M3, M4, "2023-05", "2023-06", "2023-07"]
    return make_frame(
        *(
            {"row_id": i + 1, "material": "焦炭", "month": months[i], "quantity": v, "unit": "t"}
            for i, v in enumerate(values)
        )
    )


def _clean(
    frame: pd.DataFrame, **rule: object
) -> tuple[list[float], list[tuple[int, str, object, object]]]:
    evaluation = evaluate_records(frame, [make_rule(kind="cleaning", **rule)])
    values = [float(x) for x in evaluation.frame.sort_values("row_id")["quantity"]]
    log = [(a.row_id, a.field, a.before, a.after) for a in evaluation.actions]
    return values, log


def test_flag_reports_rows_and_renders_the_chinese_message() -> None:
    frame = make_frame(
        {"row_id": 7, "material": "焦炭", "quantity": 1, "ncv": 2.8},
        {"row_id": 8, "material": "焦炭", "quantity": 1, "ncv": 28.4},
        {"row_id": 9, "material": "焦炭", "quantity": 1},
    )
    rule = make_rule(
        condition="ncv < low", params={"low": 5}, message="{material} NCV {ncv:.2f} 低于 {low}"
    )
    findings = evaluate_records(frame, [rule]).findings()
    assert [(f.row_ids, f.message) for f in findings] == [((7,), "焦炭 NCV 2.80 低于 5")]


def test_reject_removes_the_rows_and_logs_them() -> None:
    frame = make_frame({"row_id": 1, "quantity": -5}, {"row_id": 2, "quantity": 5})
    evaluation = evaluate_records(frame, [make_rule(action="reject", condition="quantity < 0")])
    assert list(evaluation.frame["row_id"]) == [2]
    assert [(a.row_id, a.field, a.before, a.after) for a in evaluation.actions] == [
        (1, "*", -5.0, None)
    ]


def test_fill_previous_linear_average_constant() -> None:
    frame = _series(10, None, 30, None)
    params = {"field": "quantity"}
    assert _clean(frame, action="fill", params={**params, "method": "previous"})[0][:4] == [
        10,
        10,
        30,
        30,
    ]
    linear, log = _clean(frame, action="fill", params={**params, "method": "linear"})
    assert linear[:3] == [10, 20, 30] and math.isnan(linear[3])  # no extrapolation past the end
    assert log == [(2, "quantity", None, 20.0)]
    assert _clean(frame, action="fill", params={**params, "method": "average"})[0] == [
        10,
        20,
        30,
        20,
    ]
    assert _clean(frame, action="fill", params={**params, "method": "constant", "value": 0})[0] == [
        10,
        0,
        30,
        0,
    ]


def test_fill_does_not_borrow_values_from_another_material() -> None:
    frame = make_frame(
        {"row_id": 1, "material": "烟煤", "month": M1, "quantity": 99},
        {"row_id": 2, "material": "焦炭", "month": M2, "quantity": None},
    )
    values, log = _clean(frame, action="fill", params={"field": "quantity", "method": "previous"})
    assert values[0] == 99 and math.isnan(values[1]) and log == []


def test_correct_and_clamp() -> None:
    frame = _series(10, 250, 30)
    values, log = _clean(
        frame,
        action="correct",
        condition="quantity > 100",
        params={"field": "quantity", "value": "quantity / 10"},
    )
    assert values == [10, 25, 30] and log == [(2, "quantity", 250.0, 25.0)]
    values, _ = _clean(frame, action="clamp", params={"field": "quantity", "low": 15, "high": 100})
    assert values == [15, 100, 30]


def test_convert_unit_changes_value_and_unit_only_where_convertible() -> None:
    frame = make_frame(
        {"row_id": 1, "quantity": 2500, "unit": "kg"},
        {"row_id": 2, "quantity": 3, "unit": "t"},
        {"row_id": 3, "quantity": 7, "unit": "MWh"},
    )
    evaluation = evaluate_records(
        frame, [make_rule(kind="cleaning", action="convert_unit", params={"to": "吨"})]
    )
    assert list(evaluation.frame["quantity"]) == [2.5, 3, 7]
    assert list(evaluation.frame["unit"]) == ["t", "t", "MWh"]
    assert {(a.field, a.before, a.after) for a in evaluation.actions} == {
        ("quantity", 2500.0, 2.5),
        ("unit", "kg", "t"),
    }


def test_exact_and_near_duplicates() -> None:
    frame = make_frame(
        {"row_id": 1, "material": "焦炭", "month": M1, "quantity": 100.0},
        {"row_id": 2, "material": "焦炭", "month": M1, "quantity": 100.0, "note": "重复导入"},
        {"row_id": 3, "material": "焦炭", "month": M1, "quantity": 100.4},
        {"row_id": 4, "material": "焦炭", "month": M2, "quantity": 100.0},
    )
    exact = evaluate_records(
        frame, [make_rule(kind="cleaning", action="deduplicate", params={"mode": "exact"})]
    )
    assert list(exact.frame["row_id"]) == [1, 3, 4]
    near = make_rule(
        kind="cleaning", action="deduplicate", params={"mode": "near", "tolerance": 0.5}
    )
    assert list(evaluate_records(frame, [near]).frame["row_id"]) == [1, 4]


def test_near_duplicates_respect_the_time_window() -> None:
    t = pd.Timestamp("2023-01-01 08:00")
    frame = make_frame(
        {"row_id": 1, "timestamp": t, "quantity": 5.0},
        {"row_id": 2, "timestamp": t + pd.Timedelta(seconds=30), "quantity": 5.0},
        {"row_id": 3, "timestamp": t + pd.Timedelta(hours=2), "quantity": 5.0},
    )
    rule = make_rule(
        kind="cleaning",
        action="deduplicate",
        params={"mode": "near", "keys": ["material"], "window_seconds": 60},
    )
    assert list(evaluate_records(frame, [rule]).frame["row_id"]) == [1, 3]


def test_split_and_merge() -> None:
    frame = make_frame(
        {"row_id": 1, "process": "炼铁", "quantity": 100.0},
        {"row_id": 2, "process": "炼钢", "quantity": 50.0},
    )
    split = make_rule(
        kind="cleaning",
        action="split",
        scope={"processes": ["炼铁"]},
        params={
            "field": "quantity",
            "parts": [
                {"share": 0.6, "set": {"subprocess": "1#高炉"}},
                {"share": 0.4, "set": {"subprocess": "2#高炉"}},
            ],
        },
    )
    out = evaluate_records(frame, [split]).frame
    assert list(zip(out["row_id"], out["subprocess"], out["quantity"], strict=True)) == [
        (1, "1#高炉", 60.0),
        (2, "", 50.0),
        (3, "2#高炉", 40.0),
    ]
    merge = make_rule(
        kind="cleaning",
        action="merge",
        params={"field": "quantity", "keys": ["material"], "how": "sum"},
    )
    merged = evaluate_records(out, [merge]).frame
    assert list(merged["row_id"]) == [1] and list(merged["quantity"]) == [150.0]


def test_mask_keeps_the_ends_visible() -> None:
    frame = make_frame({"row_id": 1, "note": "张三丰13812345678"}, {"row_id": 2, "note": "李四"})
    rule = make_rule(
        kind="cleaning", action="mask", params={"field": "note", "keep_start": 1, "keep_end": 2}
    )
    assert list(evaluate_records(frame, [rule]).frame["note"]) == ["张***********78", "**"]


def test_median_and_hampel_smoothing() -> None:
    frame = _series(10, 11, 500, 12, 13, 12, 11)
    hampel, log = _clean(
        frame,
        action="smooth",
        params={"field": "quantity", "method": "hampel", "window": 5, "n_sigmas": 3},
    )
    assert hampel == [10, 11, 12, 12, 13, 12, 11] and [r for r, *_ in log] == [3]
    median, _ = _clean(
        frame, action="smooth", params={"field": "quantity", "method": "median", "window": 3}
    )
    assert median == [10.5, 11, 12, 13, 12, 12, 11.5]


def test_scope_restricts_rows_by_process_material_source_and_tags() -> None:
    frame = make_frame(
        {"row_id": 1, "process": "炼铁", "source": "MES", "tags": "月报,计量", "quantity": 1},
        {"row_id": 2, "process": "炼铁", "source": "ERP", "tags": "计量", "quantity": 1},
        {"row_id": 3, "process": "炼钢", "source": "MES", "tags": "月报", "quantity": 1},
    )
    rule = make_rule(scope={"processes": ["炼铁"], "sources": ["MES"], "tags": ["计量"]})
    hits = evaluate_records(frame, [rule]).hits[0]
    assert list(hits.row_ids) == [1]
    assert np.array_equal(
        evaluate_records(frame, [make_rule(scope={"tags": ["月报"]})]).hits[0].row_ids, [1, 3]
    )


def test_evaluation_is_deterministic() -> None:
    frame = _series(10, None, 30, 30)
    rules = [
        make_rule(kind="cleaning", action="fill", params={"field": "quantity", "method": "linear"}),
        make_rule(id="big", condition="quantity > 15"),
    ]
    first, second = evaluate_records(frame, rules), evaluate_records(frame, rules)
    assert first.findings() == second.findings() and first.actions == second.actions
