"""Mapping as data: vectorised filtering, derived fields, units, sign/scale, tags; bad definitions refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from orgcarbon.connectors import MappingError, Provenance, Record, parse_mapping

NOW = datetime(2025, 5, 1, tzinfo=UTC)


def rec(key: str, **payload: Any) -> Record:
    return Record(key, payload, Provenance("test", "c", "b", NOW, f"row{key}"), ("src",))


ROWS = [
    rec(
        "1",
        plant="一厂",
        mat="焦炭",
        qty="1200",
        unit="KG",
        kind="in",
        heat=Decimal("28.2"),
        t="2025-01-01",
    ),
    rec(
        "2",
        plant="二厂",
        mat="煤",
        qty=Decimal("3.5"),
        unit="TO",
        kind="in",
        heat=25,
        t="2025-01-02T08:00:00Z",
    ),
    rec("3", plant="三厂", mat="煤", qty="abc", unit="TO", kind="in", heat=25, t="2025-01-03"),
    rec("4", plant="四厂", mat="煤", qty="2", unit="PC", kind="in", heat=25, t="2025-01-03"),
    rec("5", plant="五厂", mat="煤", qty="2", unit="t", kind="out", heat=25, t="2025-01-03"),
]
BASE: dict[str, Any] = {
    "fields": {
        "organization": {"field": "plant"},
        "material": {"field": "mat"},
        "quantity": {"field": "qty"},
        "unit": {"field": "unit"},
        "time": {"field": "t"},
    },
    "unit_aliases": {"KG": "kg", "TO": "t"},
    "target_unit": "t",
    "sign": -1,
    "scale": 2,
    "derived": [
        {"name": "energy", "expression": "qty * heat"},
        {"name": "double", "expression": "energy * 2"},
    ],
    "filters": [{"field": "kind", "op": "in", "values": ["in"]}],
    "tags": [{"tag": "原料"}, {"tag": "高热值", "when": {"expression": "heat > 26"}}],
}


def test_batch_is_filtered_converted_tagged_and_rejects_named() -> None:
    """Every row ends accepted, filtered or rejected with a Chinese reason; values are exact."""
    batch = parse_mapping(BASE).apply(ROWS)
    assert (batch.total, batch.accepted, batch.filtered_out) == (5, 2, 1)
    frame = batch.frame
    assert list(frame["quantity"]) == [-2.4, -7.0]  # 1200 kg → 1.2 t, ×2, ×-1
    assert list(frame["unit"]) == ["t", "t"]
    assert list(frame["tags"]) == [("src", "原料", "高热值"), ("src", "原料")]
    assert list(frame["energy"]) == [1200 * 28.2, 3.5 * 25] and list(frame["double"]) == [
        2 * 1200 * 28.2,
        175.0,
    ]
    assert [t.isoformat() for t in frame["time"]] == [
        "2025-01-01T00:00:00+00:00",
        "2025-01-02T08:00:00+00:00",
    ]
    reasons = {r.record_key: r.reason for r in batch.rejected}
    assert reasons["3"] == "数量“abc”不是有效数字" and "未知单位“PC”" in reasons["4"]


def test_constant_values_and_numeric_expression_filter() -> None:
    """Constants fill a target; an expression filter compares numbers (a missing number never matches)."""
    mapping = parse_mapping(
        {
            "fields": {
                "organization": {"value": "集团"},
                "quantity": {"expression": "qty * 1000"},
                "unit": {"value": "kg"},
            },
            "filters": [{"expression": "qty >= 2"}],
        }
    )
    batch = mapping.apply(ROWS)
    assert list(batch.frame["quantity"]) == [1200000.0, 3500.0, 2000.0, 2000.0]
    assert set(batch.frame["organization"]) == {"集团"} and batch.filtered_out == 1


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"fields": {"unit": {"field": "unit"}}}, "fields.quantity", "必须映射数量"),
        ({"filters": [{"field": "kind", "op": "like", "value": "x"}]}, "filters[0].op", "未知运算"),
        ({"filters": [{"expression": "qty >"}]}, "filters[0].expression", "表达式无效"),
        (
            {"derived": [{"name": "qty2", "expression": "__import__('os')"}]},
            "derived[0].expression",
            "表达式无效",
        ),
        ({"derived": [{"name": "quantity", "expression": "1"}]}, "derived[0].name", "已被占用"),
        ({"target_unit": "吨位"}, "target_unit", "未知单位"),
        ({"unit_aliases": {"KG": "斤"}}, "unit_aliases.KG", "未知单位"),
        ({"sign": 2}, "sign", "只能是 1 或 -1"),
        ({"scale": 0}, "scale", "必须为正数"),
        ({"tags": [{"tag": ""}]}, "tags[0].tag", "非空文本"),
        ({"colour": 1}, "colour", "未知配置项"),
    ],
)
def test_bad_definitions_are_refused_naming_the_position(
    change: dict[str, Any], field: str, fragment: str
) -> None:
    """Each mistake names where it is, in Chinese."""
    with pytest.raises(MappingError) as caught:
        parse_mapping({**BASE, **change})
    assert caught.value.field == field and fragment in str(caught.value)


def test_unknown_source_field_is_refused_when_fields_are_known() -> None:
    """With the source's field list (e.g. OData metadata) a typo is caught before any data flows."""
    with pytest.raises(MappingError) as caught:
        parse_mapping(
            {"fields": {"quantity": {"field": "qtty"}, "unit": {"value": "t"}}},
            source_fields=["qty"],
        )
    assert caught.value.field == "fields.quantity.field" and "qtty" in str(caught.value)


def test_constant_unit_that_cannot_convert_is_refused() -> None:
    """MWh into t is a dimension error, found when the mapping is saved."""
    with pytest.raises(MappingError) as caught:
        parse_mapping(
            {"fields": {"quantity": {"field": "q"}, "unit": {"value": "MWh"}}, "target_unit": "t"}
        )
    assert caught.value.field == "fields.unit.value" and "不能换算" in str(caught.value)
