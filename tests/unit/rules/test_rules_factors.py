"""Factor library: choice by material/regime/region/date, grid fallback, derived EF, no silent zero."""

from __future__ import annotations

import json
from datetime import date

import pytest

from orgcarbon.rules.factor_pack import DEFAULT_PACK_PATH, REGIME_MEE_ETS, load_factor_library
from orgcarbon.rules.factors import C_TO_CO2, FactorLibrary, FactorNotFoundError


def test_shipped_pack_is_a_verbatim_copy_of_the_reference_file() -> None:
    golden_dir_copy = json.loads(DEFAULT_PACK_PATH.read_text(encoding="utf-8"))
    assert golden_dir_copy["gbt_32151_5_2015"]["standard"].startswith("GB/T 32151.5-2015")
    assert load_factor_library(DEFAULT_PACK_PATH).select("process", "石灰石").value == 0.44


def test_fuel_ef_is_derived_from_cc_and_of(library: FactorLibrary) -> None:
    coke = library.fuel("焦炭")
    assert (coke.ncv.value, coke.cc.value, coke.of.value) == (28.447, 0.0295, 0.93)
    assert coke.ef == pytest.approx(0.0295 * 0.93 * 44 / 12)
    assert C_TO_CO2 == 44 / 12


def test_every_factor_carries_id_version_source_and_grade(library: FactorLibrary) -> None:
    for factor in library.factors:
        assert factor.id and factor.version and factor.source and factor.grade, factor
    assert len({f.id for f in library.factors}) == len(library.factors)
    limestone = library.select("process", "石灰石")
    assert limestone.id == "gbt32151.5-2015/B.2/石灰石/process"
    assert limestone.source == "GB/T 32151.5-2015 表B.2" and limestone.grade == "C"


def test_same_material_differs_by_category_and_regime(library: FactorLibrary) -> None:
    assert library.select("process", "生铁").value == 0.172
    assert library.select("fixed_carbon", "粗钢").value == 0.0154
    assert library.select("fixed_carbon", "粗钢", regime=REGIME_MEE_ETS).value == 0.037


def test_gas_fuels_use_ten_thousand_cubic_metres(library: FactorLibrary) -> None:
    assert library.materials["焦炉煤气"].unit == "10^4Nm3"
    assert library.materials["炼厂干气"].unit == "t"


def test_grid_factor_for_published_year(library: FactorLibrary) -> None:
    choice = library.grid_factor("华北", 2023)
    assert choice.factor.value == 0.6361 and not choice.fell_back
    assert "华北电网 2023 年" in choice.note


def test_grid_factor_falls_back_to_latest_earlier_year_and_says_so(library: FactorLibrary) -> None:
    choice = library.grid_factor("华东", 2025)
    assert (choice.requested_year, choice.used_year, choice.factor.value) == (2025, 2023, 0.55)
    assert choice.fell_back
    assert "2025 年因子尚未发布，沿用最近的 2023 年因子" in choice.note


def test_grid_factor_without_any_earlier_year_or_region_is_an_error(library: FactorLibrary) -> None:
    with pytest.raises(FactorNotFoundError, match="没有华北电网 2021 年及以前的排放因子"):
        library.grid_factor("华北", 2021)
    with pytest.raises(FactorNotFoundError, match="未指定电网区域"):
        library.grid_factor(None, 2023)


def test_missing_factor_raises_a_clear_error_never_zero(library: FactorLibrary) -> None:
    with pytest.raises(FactorNotFoundError) as info:
        library.select("process", "焦炭")
    assert str(info.value) == "因子库中没有物料“焦炭”的过程排放因子（方法：GB/T 32151.5-2015）"
    with pytest.raises(FactorNotFoundError, match="石灰石”的低位发热量"):
        library.fuel("石灰石")
    assert library.find("process", "焦炭") is None


def test_choice_by_region_date_and_version_from_plain_data() -> None:
    rows = [
        {
            "id": "a",
            "kind": "process",
            "material": "X",
            "value": 1.0,
            "unit": "tCO2/t",
            "regime": "R",
            "version": "1",
            "source": "s",
            "grade": "C",
        },
        {
            "id": "b",
            "kind": "process",
            "material": "X",
            "value": 2.0,
            "unit": "tCO2/t",
            "regime": "R",
            "version": "2",
            "source": "s",
            "grade": "C",
        },
        {
            "id": "c",
            "kind": "process",
            "material": "X",
            "value": 3.0,
            "unit": "tCO2/t",
            "regime": "R",
            "region": "华北",
            "source": "s",
            "grade": "B",
        },
        {
            "id": "d",
            "kind": "process",
            "material": "X",
            "value": 4.0,
            "unit": "tCO2/t",
            "regime": "R",
            "valid_from": "2024-01-01",
            "version": "1",
            "source": "s",
            "grade": "A",
        },
        {
            "id": "e",
            "kind": "process",
            "material": "X",
            "value": 5.0,
            "unit": "tCO2/t",
            "regime": "R",
            "valid_to": "2019-12-31",
            "version": "9",
            "source": "s",
            "grade": "A",
        },
    ]
    library = FactorLibrary.from_records(rows, [{"name": "X", "unit": "t"}], default_regime="R")
    assert library.select("process", "X", on=date(2023, 6, 1)).id == "b"  # newest version
    assert library.select("process", "X", on=date(2024, 6, 1)).id == "d"  # latest validity start
    assert library.select("process", "X", on=date(2019, 6, 1)).id == "e"  # only era-valid + v9
    assert library.select("process", "X", region="华北", on=date(2023, 6, 1)).id == "c"
    assert library.select("process", "X", region="华南", on=date(2023, 6, 1)).id == "b"
    with pytest.raises(FactorNotFoundError, match="方法：其他"):
        library.select("process", "X", regime="其他")
