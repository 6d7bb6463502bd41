"""The hand-checked BF-BOF golden case, through compute() and through the calc command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from orgcarbon.rules.accounting import compute
from orgcarbon.rules.calc import calc, calculate_package
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.model import AccountingModel
from orgcarbon.rules.package import read_package
from orgcarbon.rules.results import Result

GOLDEN_PACKAGE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "domain" / "golden-bfbof-annual.package.json"
)
TOTAL_TOLERANCE = 0.05
LINE_TOLERANCE = 0.01


def _golden_result(library: FactorLibrary, model: AccountingModel) -> Result:
    package = read_package(GOLDEN_PACKAGE, library)
    return compute(model, package.records(), library, package.context())


def _assert_expected(document: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in ("total_tco2", "direct_tco2", "indirect_tco2"):
        assert document[key] == pytest.approx(expected[key], abs=TOTAL_TOLERANCE), key
    assert set(document["by_category"]) == set(expected["by_category"])
    for key, value in expected["by_category"].items():
        assert document["by_category"][key] == pytest.approx(value, abs=TOTAL_TOLERANCE), key
    assert set(document["by_process"]) == set(expected["by_process"])
    for key, value in expected["by_process"].items():
        assert document["by_process"][key] == pytest.approx(value, abs=TOTAL_TOLERANCE), key


def test_compute_matches_every_expected_figure(
    library: FactorLibrary, model: AccountingModel, golden_package: dict[str, Any]
) -> None:
    result = _golden_result(library, model)
    document = {
        "total_tco2": result.total_tco2,
        "direct_tco2": result.direct_tco2,
        "indirect_tco2": result.indirect_tco2,
        "by_category": result.by_category,
        "by_process": result.by_process,
    }
    _assert_expected(document, golden_package["expected"])


def test_compute_matches_hand_calculated_lines(
    library: FactorLibrary, model: AccountingModel, golden_case: dict[str, Any]
) -> None:
    """Each fuel, flux, electrode, raw-material and product line within 0.01 t."""
    lines = {(ln.category, ln.material): ln for ln in _golden_result(library, model).lines}
    expected = golden_case["expected"]
    for fuel in expected["fuel_lines"]:
        line = lines[("fuel_combustion", fuel["fuel"])]
        assert line.activity == pytest.approx(float(fuel["AD_GJ"]), abs=1e-6)
        assert line.ef == pytest.approx(float(fuel["EF_tCO2_per_GJ"]), abs=5e-9)
        assert line.tco2 == pytest.approx(float(fuel["E_tCO2"]), abs=LINE_TOLERANCE)
    for flux in expected["flux_lines"]:
        line = lines[("process_flux", flux["flux"])]
        assert line.tco2 == pytest.approx(float(flux["E_tCO2"]), abs=LINE_TOLERANCE)
    for item in expected["electrode_lines"]:
        assert lines[("process_electrode", item["item"])].tco2 == pytest.approx(
            float(item["E_tCO2"]), abs=LINE_TOLERANCE
        )
    for item in expected["carbon_input_lines"]:
        if float(item["M_t"]) > 0:
            line = lines[("process_raw_material", item["material"])]
            assert line.tco2 == pytest.approx(float(item["E_tCO2"]), abs=LINE_TOLERANCE)
    for item in expected["fixed_carbon_lines"]:
        if float(item["AD_t"]) > 0:
            line = lines[("fixed_carbon_product", item["product"])]
            assert line.tco2 == pytest.approx(float(item["R_tCO2"]), abs=LINE_TOLERANCE)
            assert line.net_tco2 == pytest.approx(-float(item["R_tCO2"]), abs=LINE_TOLERANCE)


def test_golden_subtotals_and_intensity(
    library: FactorLibrary, model: AccountingModel, golden_case: dict[str, Any]
) -> None:
    result = _golden_result(library, model)
    sub = golden_case["expected"]["subtotals_tCO2"]
    assert result.total_tco2 == pytest.approx(float(sub["E_total"]), abs=TOTAL_TOLERANCE)
    assert result.intensity is not None
    assert result.intensity.product == "粗钢"
    assert round(result.intensity.total_per_t, 4) == float(sub["intensity_tCO2_per_t_crude_steel"])


@pytest.mark.parametrize(
    ("grid_ef", "variant"),
    [
        (0.5366, "EF_grid=0.5366 (MEE/NBS 2022 national average)"),
        (0.5306, "EF_grid=0.5306 (MEE/NBS 2023 national average)"),
        (0.6776, "EF_grid=0.6776 (MEE/NBS 2022 North China regional)"),
        (0.6361, "EF_grid=0.6361 (MEE/NBS 2023 North China regional)"),
    ],
)
def test_grid_factor_variants(
    library: FactorLibrary,
    model: AccountingModel,
    golden_case: dict[str, Any],
    grid_ef: float,
    variant: str,
) -> None:
    package = read_package(GOLDEN_PACKAGE, library)
    context = replace(package.context(), electricity_ef=grid_ef)
    result = compute(model, package.records(), library, context)
    expected = golden_case["expected"]["variants"][variant]
    assert result.total_tco2 == pytest.approx(float(expected["E_total"]), abs=TOTAL_TOLERANCE)


def test_no_purity_variant_reproduces_ndrc_formula(
    library: FactorLibrary,
    model: AccountingModel,
    golden_package: dict[str, Any],
    golden_case: dict[str, Any],
    write_package: Any,
) -> None:
    """Without the purity column the flux term is P × EF (NDRC-2013)."""
    for record in golden_package["records"]:
        record.pop("purity", None)
    _, result = calculate_package(write_package(golden_package), library, model)
    expected = golden_case["expected"]["variants"]["no_purity_term_(NDRC2013_formula_DX=1)"]
    assert result.total_tco2 == pytest.approx(float(expected["E_total"]), abs=TOTAL_TOLERANCE)


def test_calc_json_matches_expected(golden_package: dict[str, Any]) -> None:
    outcome = CliRunner().invoke(calc, [str(GOLDEN_PACKAGE), "--json"])
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    _assert_expected(document, golden_package["expected"])
    assert document["standard"] == "GB/T 32151.5-2015"
    assert len(document["lines"]) == len(golden_package["records"])
    first = document["lines"][0]
    assert first["row"] == 1 and first["activity_unit"] == "GJ" and first["ef_unit"] == "tCO2/GJ"
    assert first["factor_source"] == "GB/T 32151.5-2015 表B.1"
    assert (
        first["formula"]["expression"]
        == "(quantity * ncv) * (if_null(ef / ncv, cc * of * 44 / 12))"
    )
    electricity = next(f for f in document["factors_used"] if f["name"] == "electricity")
    assert electricity["value"] == 0.5703 and electricity["unit"] == "tCO2/MWh"


def test_calc_text_shows_expected_totals(golden_package: dict[str, Any]) -> None:
    outcome = CliRunner().invoke(calc, [str(GOLDEN_PACKAGE)])
    assert outcome.exit_code == 0, outcome.output
    text = outcome.stdout
    expected = golden_package["expected"]
    assert f"排放总量：{expected['total_tco2']:,.2f} tCO2" in text
    assert f"直接排放（燃烧 + 过程 − 固碳）：{expected['direct_tco2']:,.2f} tCO2" in text
    assert f"间接排放（购入 − 输出的电力和热力）：{expected['indirect_tco2']:,.2f} tCO2" in text
    for key, value in expected["by_category"].items():
        assert f"{value:,.2f}" in text, key
    for process, value in expected["by_process"].items():
        assert any(
            ln.startswith(process) and ln.endswith(f"{value:,.2f}") for ln in text.splitlines()
        )
    assert "排放强度：1.7211 tCO2/t 粗钢" in text


def test_calc_runs_standalone_as_module() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "orgcarbon.rules.calc", str(GOLDEN_PACKAGE), "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_tco2"] == pytest.approx(5163239.0, abs=0.05)
