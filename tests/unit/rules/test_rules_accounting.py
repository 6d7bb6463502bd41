"""The engine: measured values, roll-ups, lineage, formulas as data, vectorised == per record."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orgcarbon.rules.accounting import AccountingContext, AccountingError, compute
from orgcarbon.rules.expressions import ExpressionError
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.model import AccountingModel, CategoryRule, Formula
from orgcarbon.rules.records import RecordRow, Records
from orgcarbon.rules.units import default_units

CTX = AccountingContext(year=2023, electricity_ef=0.5, organization="集团")


def _run(model: AccountingModel, library: FactorLibrary, *rows: RecordRow):  # type: ignore[no-untyped-def]
    return compute(model, Records.from_rows(list(rows)), library, CTX)


def test_measured_ncv_wins_over_default_and_is_recorded(
    model: AccountingModel, library: FactorLibrary
) -> None:
    result = _run(model, library, RecordRow("fuel_combustion", "焦炭", 100.0, "t", ncv=30.0))
    line = result.lines.line(0)
    assert line.activity == pytest.approx(3000.0)
    assert line.tco2 == pytest.approx(3000.0 * 0.0295 * 0.93 * 44 / 12)
    assert line.measured == ("ncv",)
    assert {f.id for f in line.factors} == {
        "gbt32151.5-2015/B.1/焦炭/cc",
        "gbt32151.5-2015/B.1/焦炭/of",
    }
    assert "实测值：ncv" in line.factor_source
    assert all("ncv" not in f.id for f in result.factors_used)


def test_measured_ef_per_activity_unit_overrides_fuel_and_flux_defaults(
    model: AccountingModel, library: FactorLibrary
) -> None:
    result = _run(
        model,
        library,
        RecordRow("fuel_combustion", "焦炭", 100.0, "t", ef=3.0),
        RecordRow("process_flux", "石灰石", 100.0, "t", purity=0.9, ef=0.43),
    )
    assert [ln.tco2 for ln in result.lines] == pytest.approx([300.0, 100 * 0.9 * 0.43])


def test_units_are_converted_to_the_materials_unit(
    model: AccountingModel, library: FactorLibrary
) -> None:
    result = _run(
        model,
        library,
        RecordRow("fuel_combustion", "天然气", 30_000_000.0, "Nm3"),
        RecordRow("purchased_electricity", "电力", 2_000_000.0, "kWh"),
    )
    assert result.lines.line(0).tco2 == pytest.approx(3000 * 389.31 * 0.0153 * 0.99 * 44 / 12)
    assert result.lines.line(1).tco2 == pytest.approx(2000 * 0.5)


def test_rollups_by_subprocess_process_site_month_and_year(
    model: AccountingModel, library: FactorLibrary
) -> None:
    rows = [
        RecordRow(
            "fuel_combustion",
            "柴油",
            10.0,
            "t",
            process="炼铁",
            subprocess="1#高炉",
            site="A厂",
            month="2023-01",
        ),
        RecordRow(
            "fuel_combustion",
            "柴油",
            20.0,
            "t",
            process="炼铁",
            subprocess="2#高炉",
            site="A厂",
            month="2023-02",
        ),
        RecordRow(
            "purchased_electricity",
            "电力",
            100.0,
            "MWh",
            process="轧钢",
            site="B厂",
            month="2023-01",
        ),
        RecordRow(
            "fixed_carbon_product", "粗钢", 1000.0, "t", process="炼钢", site="B厂", month="2023-02"
        ),
    ]
    result = _run(model, library, *rows)
    diesel = 42.652 * 0.0202 * 0.98 * 44 / 12
    assert result.subprocesses.totals()[("A厂", "炼铁", "2#高炉")] == pytest.approx(20 * diesel)
    assert result.processes.totals()[("A厂", "炼铁")] == pytest.approx(30 * diesel)
    assert result.sites.totals()[("B厂",)] == pytest.approx(50.0 - 15.4)
    assert result.sites.totals(direct=True)[("B厂",)] == pytest.approx(-15.4)
    assert result.organization.by_period() == pytest.approx(
        {"2023-01": 10 * diesel + 50.0, "2023-02": 20 * diesel - 15.4}
    )
    assert result.organization.by_year().by_period() == pytest.approx({"2023": result.total_tco2})
    assert result.indirect_tco2 == pytest.approx(50.0)
    assert result.direct_tco2 == pytest.approx(30 * diesel - 15.4)
    per_month = result.by_category_per_period()
    assert per_month["fixed_carbon"]["2023-02"] == pytest.approx(15.4)
    assert result.intensity is not None and result.intensity.quantity_t == 1000.0


def test_lineage_of_a_line(model: AccountingModel, library: FactorLibrary) -> None:
    row = RecordRow(
        "process_flux",
        "白云石",
        10.0,
        "t",
        purity=0.5,
        row=7,
        id="rec-42",
        process="炼钢",
        subprocess="1#转炉",
        month="2023-05",
    )
    line = _run(model, library, row).lines.line(0)
    assert (line.row, line.record_id, line.process, line.subprocess, line.month) == (
        7,
        "rec-42",
        "炼钢",
        "1#转炉",
        "2023-05",
    )
    assert (line.formula.name, line.formula.version) == ("gbt32151.5/熔剂", "1")
    assert line.formula.expression == "(quantity * if_null(purity, 1)) * (ef)"
    assert (line.activity, line.activity_unit, line.ef, line.ef_unit) == (5.0, "t", 0.471, "tCO2/t")
    assert [(f.id, f.version, f.source, f.grade) for f in line.factors] == [
        ("gbt32151.5-2015/B.2/白云石/process", "1", "GB/T 32151.5-2015 表B.2", "C")
    ]
    assert line.tco2 == pytest.approx(2.355)


def test_missing_factor_in_compute_is_an_error_with_rows(
    model: AccountingModel, library: FactorLibrary
) -> None:
    with pytest.raises(AccountingError) as info:
        _run(
            model,
            library,
            RecordRow("fuel_combustion", "焦炭", 1.0, "t"),
            RecordRow("fuel_combustion", "石灰石", 1.0, "t", row=2),
        )
    (issue,) = info.value.issues
    assert issue.row == 2 and "缺少低位发热量(ncv)" in issue.reason


def test_unknown_category_material_unit_are_errors_in_compute(
    model: AccountingModel, library: FactorLibrary
) -> None:
    with pytest.raises(AccountingError) as info:
        _run(
            model,
            library,
            RecordRow("magic", "焦炭", 1.0, "t", row=1),
            RecordRow("fuel_combustion", "不明", 1.0, "t", row=2),
            RecordRow("fuel_combustion", "焦炭", 1.0, "MWh", row=3),
        )
    assert [(i.row, i.field) for i in info.value.issues] == [
        (1, "category"),
        (2, "material"),
        (3, "unit"),
    ]


def test_grid_factor_missing_in_compute_is_an_error(
    model: AccountingModel, library: FactorLibrary
) -> None:
    records = Records.from_rows([RecordRow("purchased_electricity", "电力", 1.0, "MWh")])
    with pytest.raises(AccountingError, match="未指定电网区域"):
        compute(model, records, library, AccountingContext(year=2023))


def test_formulas_are_data_a_custom_steam_formula(library: FactorLibrary) -> None:
    steam = Formula(
        "蒸汽热量",
        "3",
        activity="quantity * (enthalpy - 83.74) / 1000",
        factor="ef",
        activity_unit="GJ",
        factor_unit="tCO2/GJ",
    )
    rule = CategoryRule("purchased_heat", "purchased_heat", 1, "indirect", "heat", steam, "热力")
    custom = AccountingModel(
        "蒸汽模型", "1", "GB/T 32151.5-2015", (rule,), extra_variables=("enthalpy",)
    )
    row = RecordRow("purchased_heat", "热力", 100.0, "GJ", extra={"enthalpy": 2800.0})
    result = compute(custom, Records.from_rows([row]), library, CTX)
    assert result.total_tco2 == pytest.approx(100 * (2800 - 83.74) / 1000 * 0.11)
    assert result.lines.line(0).formula.version == "3"


def test_a_model_with_a_bad_formula_fails_when_built() -> None:
    bad = Formula("坏公式", "1", activity="quantity * fcc", factor="ef")
    rule = CategoryRule("process_flux", "process", 1, "direct", "process", bad)
    with pytest.raises(ExpressionError, match='未知变量 "fcc"'):
        AccountingModel("坏模型", "1", "x", (rule,))


_CASES = [
    ("fuel_combustion", "焦炭", "t"),
    ("fuel_combustion", "焦炭", "kg"),
    ("fuel_combustion", "焦炉煤气", "Nm3"),
    ("fuel_combustion", "柴油", "t"),
    ("process_flux", "石灰石", "t"),
    ("process_electrode", "电极", "t"),
    ("process_raw_material", "生铁", "kg"),
    ("purchased_electricity", "电力", "MWh"),
    ("exported_electricity", "电力", "kWh"),
    ("purchased_heat", "热力", "GJ"),
    ("exported_heat", "热力", "MJ"),
    ("fixed_carbon_product", "粗钢", "t"),
    ("fixed_carbon_product", "生铁", "t"),
]
_row = st.builds(
    lambda case, qty, sub, month, ncv, purity: RecordRow(
        case[0],
        case[1],
        qty if case[0] == "fuel_combustion" else abs(qty),
        case[2],
        process=["焦化", "炼铁", "炼钢"][sub % 3],
        subprocess=f"{sub}#",
        site=f"厂{sub % 2}",
        month=f"2023-{month:02d}",
        ncv=ncv if case[0] == "fuel_combustion" else None,
        purity=purity if case[0] == "process_flux" else None,
    ),
    st.sampled_from(_CASES),
    st.floats(min_value=-1e5, max_value=1e6, allow_nan=False),
    st.integers(0, 5),
    st.integers(1, 12),
    st.one_of(st.none(), st.floats(min_value=1.0, max_value=50.0)),
    st.one_of(st.none(), st.floats(min_value=0.5, max_value=1.0)),
)


def _naive(model: AccountingModel, library: FactorLibrary, row: RecordRow) -> float:
    """Straight from the standard, one record at a time, without the engine."""
    rule = model.rule(row.category)
    assert rule is not None
    material = library.materials[row.material]
    q = default_units().convert(row.quantity, row.unit, material.unit)
    if rule.factor_kind == "fuel":
        fuel = library.fuel(row.material)
        return q * (row.ncv or fuel.ncv.value) * fuel.ef
    if rule.factor_kind == "electricity":
        ef = 0.5
    elif rule.factor_kind == "heat":
        ef = 0.11
    else:
        ef = library.select(rule.factor_kind, row.material).value
    return q * (row.purity if row.purity is not None else 1.0) * ef


@settings(max_examples=60, deadline=None, database=None)
@given(rows=st.lists(_row, min_size=1, max_size=40))
def test_properties_of_any_batch(
    model: AccountingModel, library: FactorLibrary, rows: list[RecordRow]
) -> None:
    result = _run(model, library, *rows)
    scale = 1e-9 * max(1.0, float(np.abs(result.lines.tco2).sum()))
    # vectorised lines equal the per-record hand computation
    for i, row in enumerate(rows):
        assert result.lines.tco2[i] == pytest.approx(
            _naive(model, library, row), rel=1e-12, abs=1e-9
        )
    # every level adds up to the same total
    assert math.fsum(result.by_process.values()) == pytest.approx(result.total_tco2, abs=scale)
    for rollup in (result.subprocesses, result.processes, result.sites):
        assert math.fsum(rollup.totals().values()) == pytest.approx(result.total_tco2, abs=scale)
    assert math.fsum(result.organization.by_period().values()) == pytest.approx(
        result.total_tco2, abs=scale
    )
    # deducted terms are positive magnitudes, subtracted in the total
    c = result.by_category
    for term in ("exported_electricity", "exported_heat", "fixed_carbon"):
        assert c[term] >= 0
    assert result.total_tco2 == pytest.approx(
        c["fuel_combustion"]
        + c["process"]
        + c["purchased_electricity"]
        + c["purchased_heat"]
        - c["exported_electricity"]
        - c["exported_heat"]
        - c["fixed_carbon"],
        abs=scale,
    )
    assert result.direct_tco2 == pytest.approx(
        c["fuel_combustion"] + c["process"] - c["fixed_carbon"], abs=scale
    )
    for line in result.lines:
        if line.category in ("exported_electricity", "exported_heat", "fixed_carbon_product"):
            assert line.net_tco2 == -line.tco2 and line.net_tco2 <= 0


def test_large_and_small_formula_groups_give_identical_lines(
    model: AccountingModel, library: FactorLibrary
) -> None:
    """Formula groups above and below the gather threshold are evaluated by different paths."""
    rng = np.random.default_rng(7)
    picks = [*rng.integers(0, 4, 300), *range(4, len(_CASES)), *range(4, len(_CASES))]
    rows = [
        RecordRow(_CASES[k][0], _CASES[k][1], float(q), _CASES[k][2], row=i + 1)
        for i, (k, q) in enumerate(zip(picks, rng.uniform(1, 100, len(picks)), strict=True))
    ]
    result = _run(model, library, *rows)
    expected = [_naive(model, library, r) for r in rows]
    assert result.lines.tco2.tolist() == pytest.approx(expected, rel=1e-12)
