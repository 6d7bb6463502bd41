"""Intensity per process product: product-output records, the crude-steel rule, calc output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from orgcarbon.rules import AccountingContext, AccountingError, RecordRow, Records, compute
from orgcarbon.rules.calc import run_calc
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.model import AccountingModel
from orgcarbon.rules.package import PackageError, parse_package
from orgcarbon.rules.products import process_intensities

SINTER_T = 4_500_000.0
HOT_METAL_T = 2_800_000.0
PRODUCTS = [
    {"process": "烧结", "subprocess": "1#烧结机", "category": "产品产量", "material": "烧结矿",
     "quantity": SINTER_T, "unit": "t"},
    {"process": "炼铁", "subprocess": "1#高炉", "category": "product_output", "material": "生铁",
     "quantity": HOT_METAL_T * 1000, "unit": "kg"},
]


def _with_products(package: dict[str, Any]) -> dict[str, Any]:
    return {**package, "records": [*package["records"], *PRODUCTS]}


def test_pure_rule_picks_recorded_products_and_crude_steel_only_for_one_steelmaking_process() -> None:
    """Recorded output wins; 粗钢 deducted as fixed carbon counts only where one process makes it."""
    emissions = {("A", "烧结"): (100.0, 90.0), ("A", "转炉炼钢"): (30.0, 20.0), ("A", "炼铁"): (500.0, 480.0),
                 ("B", "转炉炼钢"): (10.0, 10.0), ("B", "电炉炼钢"): (40.0, 5.0), ("A", "焦化"): (70.0, 70.0)}
    outputs = {("A", "烧结", "烧结矿"): 50.0, ("A", "焦化", "焦炭"): 10.0, ("A", "焦化", "焦油"): 1.0}
    found = {(i.site, i.process): i for i in process_intensities(emissions, outputs, {"A": 60.0, "B": 80.0})}
    assert set(found) == {("A", "烧结"), ("A", "转炉炼钢"), ("A", "焦化")}  # 炼铁: no output recorded
    assert found[("A", "烧结")].total_per_t == pytest.approx(2.0)
    assert found[("A", "烧结")].direct_per_t == pytest.approx(1.8)
    assert found[("A", "转炉炼钢")].product == "粗钢" and found[("A", "转炉炼钢")].quantity_t == 60.0
    assert found[("A", "转炉炼钢")].basis == "fixed_carbon_product"
    assert found[("A", "焦化")].product == "焦炭" and found[("A", "焦化")].total_per_t == pytest.approx(7.0)
    # B has both BOF and EAF: its crude steel cannot be split, so neither gets an intensity.
    assert not any(site == "B" for site, _ in found)
    # Two recorded products and none is the process's own: no guess.
    assert process_intensities({("A", "制氧"): (5.0, 5.0)}, {("A", "制氧", "氧气"): 1.0, ("A", "制氧", "氮气"): 2.0},
                               {}) == ()


def test_product_records_emit_nothing_and_give_each_process_its_intensity(
    golden_package: dict[str, Any], library: FactorLibrary, model: AccountingModel
) -> None:
    """Golden case + sinter and hot-metal output: same totals; 烧结/炼铁/炼钢 per t of their product."""
    plain = parse_package(golden_package, library)
    package = parse_package(_with_products(golden_package), library)
    before = compute(model, plain.records(), library, plain.context())
    result = compute(model, package.records(), library, package.context())
    assert result.total_tco2 == pytest.approx(before.total_tco2, abs=1e-6)
    assert result.by_process == pytest.approx(before.by_process)
    assert len(result.lines) == len(before.lines) == 20
    assert [(p.row, p.material, p.quantity_t) for p in result.products] == [
        (21, "烧结矿", SINTER_T), (22, "生铁", HOT_METAL_T)]
    got = {i.process: i for i in result.process_intensity}
    assert set(got) == {"烧结", "炼铁", "炼钢"}
    assert got["烧结"].total_per_t == pytest.approx(before.by_process["烧结"] / SINTER_T, rel=1e-12)
    assert got["炼铁"].total_per_t == pytest.approx(before.by_process["炼铁"] / HOT_METAL_T, rel=1e-12)
    assert got["炼钢"].product == "粗钢" and got["炼钢"].quantity_t == 3_000_000.0
    assert got["炼钢"].total_per_t == pytest.approx(before.by_process["炼钢"] / 3_000_000.0, rel=1e-12)
    # Without an output record, the 50,000 t of pig iron *sold* is not the blast furnace's output.
    assert {i.process for i in before.process_intensity} == {"炼钢"}


def test_product_output_rejected_rows_name_the_reason(golden_package: dict[str, Any], library: FactorLibrary) -> None:
    """A product output in MWh, with a measured NCV, or negative, is refused with its row."""
    bad = [{"process": "烧结", "category": "product_output", "material": "烧结矿", "quantity": 5, "unit": "MWh"},
           {"process": "烧结", "category": "product_output", "material": "烧结矿", "quantity": 5, "unit": "t",
            "ncv": 20},
           {"process": "烧结", "category": "product_output", "material": "烧结矿", "quantity": -5, "unit": "t"}]
    with pytest.raises(PackageError) as refused:
        parse_package({**golden_package, "records": [*golden_package["records"], *bad]}, library)
    reasons = {(i.row, i.field): i.reason for i in refused.value.issues}
    assert "不能换算" in reasons[(21, "unit")]
    assert reasons[(22, "ncv")] == "产品产量记录不带低位发热量"
    assert reasons[(23, "quantity")] == "只有燃料燃烧的净消耗量可以为负数"


def test_engine_refuses_a_product_output_in_a_non_mass_unit(library: FactorLibrary, model: AccountingModel) -> None:
    """Records that bypass the package reader are checked by the engine too; never a silent zero."""
    rows = [RecordRow("fuel_combustion", "柴油", 10, "t", process="辅助"),
            RecordRow("product_output", "烧结矿", 3, "GJ", process="烧结", row=7)]
    with pytest.raises(AccountingError) as refused:
        compute(model, Records.from_rows(rows), library, AccountingContext(year=2024))
    assert [(i.row, i.field, i.reason) for i in refused.value.issues] == [
        (7, "unit", "产品产量的单位应为质量单位（如 t、kg）")]


def test_records_subset_keeps_row_numbers_ids_and_measured_values() -> None:
    """``Records.subset`` keeps lineage and drops labels no kept record uses."""
    rows = [RecordRow("fuel_combustion", "柴油", 1, "t", month="2024-01", ncv=40.0, row=3, id="a"),
            RecordRow("product_output", "烧结矿", 2, "t", month="2024-02", row=5, id="b"),
            RecordRow("fuel_combustion", "焦炭", 3, "t", month="2024-03", row=9, id="c")]
    records = Records.from_rows(rows)
    kept = records.subset(records.category == records.categories.index("fuel_combustion"))
    assert kept.row_numbers().tolist() == [3, 9] and list(kept.ids or []) == ["a", "c"]
    assert kept.months == ("2024-01", "2024-03") and kept.materials == ("柴油", "焦炭")
    assert kept.categories == ("fuel_combustion",) and kept.quantity.tolist() == [1.0, 3.0]
    ncv = kept.param("ncv")
    assert ncv is not None and ncv[0] == 40.0 and np.isnan(ncv[1])


def test_calc_adds_process_intensity_without_changing_documented_keys(
    golden_package: dict[str, Any], tmp_path: Path
) -> None:
    """``calc --json`` keeps its documented keys and adds ``process_intensity``; the table shows it."""
    path = tmp_path / "with-products.json"
    path.write_text(json.dumps(_with_products(golden_package), ensure_ascii=False), encoding="utf-8")
    document = json.loads(run_calc(path, as_json=True).stdout)
    for key in ("standard", "total_tco2", "direct_tco2", "indirect_tco2", "by_category", "by_process", "lines",
                "factors_used", "intensity"):
        assert key in document
    assert document["total_tco2"] == pytest.approx(golden_package["expected"]["total_tco2"], abs=0.05)
    sinter = next(i for i in document["process_intensity"] if i["process"] == "烧结")
    assert sinter["product"] == "烧结矿" and sinter["quantity_t"] == SINTER_T
    assert sinter["total_tco2_per_t"] == pytest.approx(document["by_process"]["烧结"] / SINTER_T)
    assert [p["row"] for p in document["products"]] == [21, 22]
    text = run_calc(path).stdout
    assert "分工序产品排放强度" in text and "烧结矿" in text and "产品产量记录" in text
