"""Units as data: defaults, aliases, conversions, refusals across dimensions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orgcarbon.rules.units import DEFAULT_UNITS, UnitError, UnitTable, convert, default_units


@pytest.mark.parametrize(
    ("value", "src", "dst", "expected"),
    [
        (1500.0, "kg", "t", 1.5),
        (25_000.0, "Nm3", "10^4Nm3", 2.5),
        (3.0, "万Nm3", "Nm3", 30_000.0),
        (3.0, "10000Nm3", "10^4Nm3", 3.0),
        (3.0, "10^4 Nm3", "万Nm3", 3.0),
        (2500.0, "kWh", "MWh", 2.5),
        (1.0, "TJ", "GJ", 1000.0),
        (4000.0, "MJ", "GJ", 4.0),
        (2.0, "tCO2", "tCO2", 2.0),
    ],
)
def test_default_conversions(value: float, src: str, dst: str, expected: float) -> None:
    assert convert(value, src, dst) == pytest.approx(expected)


def test_arrays_convert_in_one_call_without_touching_the_input() -> None:
    values = np.array([1000.0, 2500.0])
    result = convert(values, "kg", "t")
    assert result.tolist() == [1.0, 2.5]
    assert values.tolist() == [1000.0, 2500.0]


@pytest.mark.parametrize(
    ("src", "dst", "message"),
    [
        ("t", "GJ", "单位“t”（质量）不能换算为“GJ”（能量）"),
        ("MWh", "GJ", "单位“MWh”（电能）不能换算为“GJ”（能量）"),
        ("tC", "tCO2", "单位“tC”（碳质量）不能换算为“tCO2”（二氧化碳质量）"),
        ("Nm3", "t", "单位“Nm3”（体积）不能换算为“t”（质量）"),
    ],
)
def test_cross_dimension_conversion_is_refused_in_chinese(src: str, dst: str, message: str) -> None:
    with pytest.raises(UnitError) as info:
        convert(1.0, src, dst)
    assert str(info.value) == message


def test_unknown_unit_names_the_known_ones() -> None:
    with pytest.raises(UnitError, match="未知单位“桶”"):
        default_units().get("桶")


def test_table_is_built_from_plain_data_and_extensible() -> None:
    rows = [
        *DEFAULT_UNITS,
        {"symbol": "Mt", "dimension": "mass", "factor": 1e6, "name_zh": "百万吨"},
    ]
    table = UnitTable.from_records(rows)
    assert table.convert(2.0, "Mt", "t") == 2_000_000.0
    assert "Mt" in table.symbols and "万Nm3" in table
    assert table.canonical("万Nm3") == "10^4Nm3"


def test_duplicate_or_non_positive_units_are_refused() -> None:
    with pytest.raises(UnitError, match="重复定义"):
        UnitTable.from_records(
            [
                {"symbol": "t", "dimension": "mass", "factor": 1},
                {"symbol": "吨", "dimension": "mass", "factor": 1, "aliases": ["t"]},
            ]
        )
    with pytest.raises(UnitError, match="必须为正数"):
        UnitTable.from_records([{"symbol": "t", "dimension": "mass", "factor": 0}])


_SAME_DIMENSION = [("t", "kg"), ("Nm3", "10^4Nm3"), ("MWh", "kWh"), ("GJ", "MJ"), ("TJ", "MJ")]


@settings(database=None)  # keep no example database in the repository
@given(
    value=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    pair=st.sampled_from(_SAME_DIMENSION),
)
def test_conversions_round_trip(value: float, pair: tuple[str, str]) -> None:
    there = convert(value, pair[0], pair[1])
    assert convert(there, pair[1], pair[0]) == pytest.approx(value, rel=1e-12, abs=1e-9)
