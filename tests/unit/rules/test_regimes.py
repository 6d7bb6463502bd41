"""Regimes on one small data set: the worked examples of docs/regimes.md, figure by figure.

The same 18 activity records are accounted under GB/T 32151.5, the national carbon market's
steel rules and EU CBAM; every expected value is written as the arithmetic the docs show.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from orgcarbon.rules import (
    AccountingContext,
    RecordRow,
    Records,
    compute,
    default_library,
    default_model,
)
from orgcarbon.rules.regimes import (
    CbamInstallation,
    RegimeError,
    compute_cbam,
    compute_national_ets,
    installation_from_dict,
    reconcile,
    settings_from_dict,
    shipped_regimes,
)
from orgcarbon.rules.regimes.definition import PACK_DIR, regime_from_dict
from orgcarbon.rules.regimes.reconcile import cents

C = 44 / 12
R = RecordRow
ROWS = [
    R("fuel_combustion", "洗精煤", 1000, "t", process="焦化", subprocess="焦炉", month="2025-01", id="1"),
    R("fuel_combustion", "洗精煤", 1000, "t", process="焦化", subprocess="焦炉", month="2025-02", id="2"),
    R("fuel_combustion", "焦油", -10, "t", process="焦化", subprocess="化产回收", month="2025-01", id="3"),
    R("fuel_combustion", "焦炉煤气", -10, "10^4Nm3", process="焦化", subprocess="煤气外供", month="2025-01", id="4"),
    R("fuel_combustion", "焦炭", 500, "t", process="炼铁", subprocess="高炉", month="2025-01", id="5"),
    R("fuel_combustion", "焦炭", 500, "t", process="炼铁", subprocess="高炉", month="2025-02", ncv=28.0, id="6"),
    R("fuel_combustion", "无烟煤", 100, "t", process="烧结", subprocess="烧结机", month="2025-01", id="7"),
    R("process_flux", "石灰石", 200, "t", process="烧结", subprocess="烧结机", month="2025-01", id="8"),
    R("process_flux", "白云石", 50, "t", process="转炉炼钢", subprocess="转炉", month="2025-01", purity=0.9, id="9"),
    R("process_raw_material", "直接还原铁", 20, "t", process="转炉炼钢", subprocess="转炉", month="2025-01", id="10"),
    R("fixed_carbon_product", "粗钢", 1000, "t", process="转炉炼钢", subprocess="转炉", month="2025-01", id="11"),
    R("fixed_carbon_product", "粗钢", 1000, "t", process="转炉炼钢", subprocess="转炉", month="2025-02", id="12"),
    R("fuel_combustion", "烟煤", 50, "t", process="自备电厂", subprocess="锅炉", month="2025-01", id="13"),
    R("purchased_electricity", "电力", 1000, "MWh", process="全厂", month="2025-01", id="14"),
    R("purchased_electricity", "电力", 1000, "MWh", process="全厂", month="2025-02", id="15"),
    R("fuel_combustion", "柴油", 2, "t", process="辅助系统", subprocess="厂内运输", month="2025-02", id="16"),
    R("product_output", "烧结矿", 3000, "t", process="烧结", subprocess="烧结机", month="2025-01", id="17"),
    R("product_output", "生铁", 1800, "t", process="炼铁", subprocess="高炉", month="2025-01", id="18"),
]
CONTEXT = AccountingContext(year=2025, electricity_ef=0.5703, organization="示例钢厂")

# Each record's tCO2 (GB/T 32151.5 table B.1/B.2/B.3 defaults; record 6 has a measured NCV).
COAL = 1000 * 26.344 * 0.0254 * 0.90 * C  # 2 208.15408 per month
TAR_GB = -10 * 33.453 * 0.022 * 0.98 * C  # −26.4457116
COG = -10 * 173.54 * 0.0121 * 0.99 * C  # −76.2239742
COKE_1 = 500 * 28.447 * 0.0295 * 0.93 * C  # 1 430.8129825
COKE_2 = 500 * 28.0 * 0.0295 * 0.93 * C  # 1 408.33 (measured NCV 28.0)
ANTHRACITE = 100 * 20.304 * 0.02749 * 0.94 * C  # 192.37809888
LIMESTONE = 200 * 0.44  # 88
DOLOMITE = 50 * 0.9 * 0.471  # 21.195
DRI = 20 * 0.073  # 1.46
BITUMINOUS = 50 * 19.57 * 0.02618 * 0.93 * C  # 87.3544133
DIESEL = 2 * 42.652 * 0.0202 * 0.98 * C  # 6.19181927
ELECTRICITY = 1000 * 0.5703  # 570.3 per month
CRUDE_GB, CRUDE_MEE = 1000 * 0.0154, 1000 * 0.037  # per month
TAR_MEE = 10 * 2.699  # 26.99

GBT_TOTAL = (2 * COAL + TAR_GB + COG + COKE_1 + COKE_2 + ANTHRACITE + LIMESTONE + DOLOMITE + DRI + BITUMINOUS
             + DIESEL + 2 * ELECTRICITY - 2 * CRUDE_GB)
ETS_TOTAL = (2 * COAL + COG + COKE_1 + COKE_2 + ANTHRACITE + LIMESTONE + DOLOMITE + DRI + BITUMINOUS + DIESEL
             - TAR_MEE - 2 * CRUDE_MEE)

INSTALLATION: dict[str, Any] = {
    "processes": [
        {"id": "P1", "name": "Sintering", "good": "Sintered Ore", "products": ["烧结矿"], "electricity_mwh": 100,
         "cn": [{"code": "26011200", "product": "烧结矿"}]},
        {"id": "P2", "name": "Blast furnace", "good": "Pig iron", "route": "Blast furnace route", "products": ["生铁"],
         "electricity_mwh": 300, "precursors": [{"from": "P1", "quantity_t": 3000}],
         "cn": [{"code": "72011011", "product": "生铁"}]},
        {"id": "P3", "name": "BOF", "good": "Crude steel", "route": "Basic oxygen steelmaking", "products": ["粗钢"],
         "electricity_mwh": 500, "precursors": [{"from": "P2", "quantity_t": 1800}],
         "cn": [{"code": "7207 11 14", "product": "方坯"}]},
    ],
    "process_map": [
        {"process": "烧结", "to": {"P1": 1}}, {"process": "焦化", "to": {"P2": 1}}, {"process": "炼铁", "to": {"P2": 1}},
        {"process": "转炉炼钢", "to": {"P3": 1}}, {"process": "自备电厂", "excluded": "electricity"},
        {"process": "辅助系统", "excluded": "boundary"}, {"process": "全厂", "excluded": "boundary"},
    ],
    "waste_gases": [
        {"gas": "高炉煤气", "from": "炼铁", "to": "自备电厂", "quantity": 100, "unit": "10^4Nm3"},
        {"gas": "高炉煤气", "from": "炼铁", "to": "烧结", "quantity": 20, "unit": "10^4Nm3"},
    ],
    "purchased_precursors": [
        {"id": "PP1", "name": "外购直接还原铁", "good": "Direct reduced iron", "material": "直接还原铁",
         "see_direct": 1.0, "electricity_mwh_per_t": 0.1, "ef_el": 0.6, "source": "供应商数据"},
    ],
    "electricity": {"ef": 0.6, "source_code": "D.4(b)"},
}
EF_NG, CORR = 56.1, 0.667


@pytest.fixture(scope="module")
def regimes() -> dict[str, Any]:
    return shipped_regimes()


@pytest.fixture(scope="module")
def gbt() -> Any:
    return compute(default_model(), Records.from_rows(ROWS), default_library(), CONTEXT)


@pytest.fixture(scope="module")
def ets(regimes: dict[str, Any]) -> Any:
    return compute_national_ets(regimes["national_ets_steel"], ROWS, default_library(), CONTEXT)


@pytest.fixture(scope="module")
def installation(regimes: dict[str, Any]) -> CbamInstallation:
    return installation_from_dict(INSTALLATION, regimes["cbam_steel"])


@pytest.fixture(scope="module")
def cbam(regimes: dict[str, Any], installation: CbamInstallation) -> Any:
    return compute_cbam(regimes["cbam_steel"], installation, ROWS, default_library(), CONTEXT)


def test_regime_modules_import_neither_flask_nor_sqlalchemy() -> None:
    """rules/regimes/ is pure like the rest of rules/ (the platform's packs are read by path)."""
    import pkgutil

    import orgcarbon.rules.regimes as package

    names = ["orgcarbon.rules.regimes", *(f"orgcarbon.rules.regimes.{m.name}" for m in pkgutil.iter_modules(package.__path__))]
    assert "orgcarbon.rules.regimes.cbam" in names and "orgcarbon.rules.regimes.reconcile" in names
    code = (f"import importlib, sys\nfor n in {names!r}: importlib.import_module(n)\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'flask_appbuilder'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_shipped_packs_are_data_with_grades(regimes: dict[str, Any]) -> None:
    """Both packs parse; every rule and constant carries a grade; CBAM constants come from the template (A)."""
    assert set(regimes) == {"national_ets_steel", "cbam_steel"}
    ets, cbam = regimes["national_ets_steel"], regimes["cbam_steel"]
    assert ets.kind == "direct" and cbam.kind == "cbam"
    assert {c.category for c in ets.categories if not c.counted} == {
        "purchased_electricity", "exported_electricity", "purchased_heat", "exported_heat"}
    assert ets.treatment("fixed_carbon_product").counted and not cbam.treatment("fixed_carbon_product").counted
    assert all(c.evidence.grade in "ABCDXU" for r in regimes.values() for c in r.categories)
    assert (cbam.constant("ef_natural_gas").value, cbam.constant("corr_eta").value) == (56.1, 0.667)
    assert cbam.constant("ef_natural_gas").evidence.grade == "A"
    assert ets.factor_set["process"].regimes == ("MEE-ETS", "GB/T 32151.5-2015")
    assert [t.key for t in ets.process_types][-2:] == ["captive_power", "other"]
    assert (PACK_DIR / cbam.template().file).is_file()


def test_pack_errors_name_what_is_wrong() -> None:
    """A pack with an unknown category, a missing grade or a mapping to an unknown type is refused in Chinese."""
    base = json.loads((PACK_DIR / "national_ets_steel.json").read_text(encoding="utf-8"))
    bad = {**base, "categories": [{"category": "fuel", "counted": True, "term": "fuel_combustion",
                                   "evidence": {"grade": "B"}}]}
    with pytest.raises(RegimeError, match="未知类别 fuel"):
        regime_from_dict(bad)
    with pytest.raises(RegimeError, match="证据等级"):
        regime_from_dict({**base, "evidence": {"grade": "Z"}})
    with pytest.raises(RegimeError, match="未定义的工序类型 不存在"):
        regime_from_dict({**base, "process_map": {"焦化": "不存在"}})


def test_gbt_reference_total(gbt: Any) -> None:
    """GB/T 32151.5 of the example: every record as the standard accounts it (the reconciliation's start)."""
    assert gbt.total_tco2 == pytest.approx(GBT_TOTAL, abs=1e-9)
    assert gbt.total_tco2 == pytest.approx(8659.16078815, abs=1e-6)
    assert gbt.indirect_tco2 == pytest.approx(2 * ELECTRICITY, abs=1e-9)


def test_national_ets_enterprise_and_summary(ets: Any) -> None:
    """Direct only; tar as a carbon-bearing product (2.699); crude steel 0.037; summary adds up exactly."""
    assert ets.total_tco2 == pytest.approx(ETS_TOTAL, abs=1e-9)
    assert ets.total_tco2 == pytest.approx(7474.81649975, abs=1e-6)
    assert ets.by_term["fixed_carbon"] == pytest.approx(TAR_MEE + 2 * CRUDE_MEE, abs=1e-9)
    summary = {s.key: s for s in ets.summary}
    assert summary["captive_power"].tco2 == pytest.approx(BITUMINOUS, abs=1e-9)
    assert summary["other"].tco2 == pytest.approx(DIESEL, abs=1e-9)
    assert summary["process"].tco2 == pytest.approx(ETS_TOTAL - BITUMINOUS - DIESEL, abs=1e-9)
    assert summary["enterprise"].tco2 == pytest.approx(
        summary["process"].tco2 + summary["captive_power"].tco2 + summary["other"].tco2, abs=1e-9)
    january = COAL + COG + COKE_1 + ANTHRACITE + LIMESTONE + DOLOMITE + DRI + BITUMINOUS - TAR_MEE - CRUDE_MEE
    assert dict(summary["enterprise"].by_month) == pytest.approx(
        {"2025-01": january, "2025-02": COAL + COKE_2 + DIESEL - CRUDE_MEE}, abs=1e-9)
    types = {t.key: t.tco2 for t in ets.by_type}
    assert types["焦化"] == pytest.approx(2 * COAL + COG - TAR_MEE, abs=1e-9)
    assert types["炼铁"] == pytest.approx(COKE_1 + COKE_2, abs=1e-9)
    assert types["烧结"] == pytest.approx(ANTHRACITE + LIMESTONE, abs=1e-9)
    assert types["转炉炼钢"] == pytest.approx(DOLOMITE + DRI - 2 * CRUDE_MEE, abs=1e-9)
    assert types["球团"] == types["电炉炼钢"] == 0


def test_national_ets_factor_set_fallbacks_and_exclusions(ets: Any) -> None:
    """MEE-ETS first; dolomite (sources disagree) and fuels fall back to GB/T with their grade; indirect excluded."""
    choices = {(c.kind, c.material): c for c in ets.factor_choices}
    assert (choices[("fixed_carbon", "粗钢")].value, choices[("fixed_carbon", "粗钢")].grade) == (0.037, "D")
    assert not choices[("fixed_carbon", "粗钢")].fallback
    assert choices[("fixed_carbon", "焦油")].value == 2.699
    dolomite = choices[("process", "白云石")]
    assert (dolomite.value, dolomite.source_regime, dolomite.fallback, dolomite.grade) == (
        0.471, "GB/T 32151.5-2015", True, "C")
    assert choices[("ncv", "洗精煤")].fallback and choices[("ncv", "洗精煤")].source_regime == "GB/T 32151.5-2015"
    assert any("白云石" in note for note in ets.notes)
    assert [(e.record_id, e.driver) for e in ets.excluded] == [("14", "indirect"), ("15", "indirect")]
    tar = next(line for line in ets.lines if line.record_id == "3")
    assert (tar.action, tar.category, tar.original_category, tar.net_tco2) == (
        "reclassified", "fixed_carbon_product", "fuel_combustion", pytest.approx(-TAR_MEE))


def test_national_ets_monthly_parameters_say_measured_or_default(ets: Any) -> None:
    """Record 6's NCV is the measured 28.0; record 5's the B.1 default 28.447 with grade C."""
    params = {p.record_id: p for p in ets.parameters}
    assert params["6"].values["ncv"]["value"] == 28.0 and params["6"].values["ncv"]["measured"]
    assert params["5"].values["ncv"] == {**params["5"].values["ncv"], "value": 28.447, "measured": False, "grade": "C"}
    assert params["9"].values["purity"]["value"] == 0.9 and params["9"].quantity == 50
    assert params["1"].quantity == 1000 and params["1"].unit == "t" and params["1"].month == "2025-01"


def test_national_ets_process_mapping_by_organisation_setting(regimes: dict[str, Any]) -> None:
    """An organisation maps a process itself: 自备电厂 as 其他 moves its coal out of the captive-power line."""
    result = compute_national_ets(regimes["national_ets_steel"], ROWS, default_library(), CONTEXT,
                                  overrides={"自备电厂": "other"})
    summary = {s.key: s.tco2 for s in result.summary}
    assert summary["captive_power"] == 0 and summary["other"] == pytest.approx(BITUMINOUS + DIESEL, abs=1e-9)
    assert {p.mapped_by for p in result.process_rows if p.process == "自备电厂"} == {"组织设置（自备电厂）"}


def test_cbam_processes_waste_gases_and_see(cbam: Any) -> None:
    """DirEm*, waste-gas corrections (56.1 × 0.667), electricity × 0.6 and SEE through the precursor chain."""
    p1, p2, p3 = cbam.processes
    assert (p1.activity_level_t, p1.activity_basis) == (3000, "产品产量记录")
    assert (p2.activity_level_t, p3.activity_level_t, p3.activity_basis) == (1800, 2000, "固碳产品（粗钢）记录")
    assert p1.dir_em_star == pytest.approx(ANTHRACITE + LIMESTONE, abs=1e-9)
    assert p2.dir_em_star == pytest.approx(2 * COAL + TAR_GB + COKE_1 + COKE_2, abs=1e-9)  # COG is a waste gas
    assert p3.dir_em_star == pytest.approx(DOLOMITE + DRI, abs=1e-9)  # no crude-steel deduction
    cog_tj, bfg_power_tj, bfg_sinter_tj = 10 * 173.54 / 1000, 100 * 33 / 1000, 20 * 33 / 1000
    assert p2.wg_exported_tj == pytest.approx(cog_tj + bfg_power_tj + bfg_sinter_tj, abs=1e-12)
    assert p2.wg_corr_exp == pytest.approx((cog_tj + bfg_power_tj + bfg_sinter_tj) * EF_NG * CORR, abs=1e-9)
    assert p1.wg_corr_imp == pytest.approx(bfg_sinter_tj * EF_NG, abs=1e-9)
    attr = [ANTHRACITE + LIMESTONE + bfg_sinter_tj * EF_NG,
            2 * COAL + TAR_GB + COKE_1 + COKE_2 - (cog_tj + bfg_power_tj + bfg_sinter_tj) * EF_NG * CORR,
            DOLOMITE + DRI]
    assert [p.attributed_direct for p in cbam.processes] == pytest.approx(attr, abs=1e-9)
    assert [p.attributed_indirect for p in cbam.processes] == pytest.approx([60, 180, 300], abs=1e-9)
    see1 = attr[0] / 3000
    see2 = (attr[1] + 3000 * see1) / 1800
    see3 = (attr[2] + 1800 * see2 + 20 * 1.0) / 2000
    assert [p.see_direct for p in cbam.processes] == pytest.approx([see1, see2, see3], rel=1e-12)
    assert see3 == pytest.approx(3.68797503290, abs=1e-9)
    ind1, ind2 = 60 / 3000, (180 + 3000 * 60 / 3000) / 1800
    assert [p.see_indirect for p in cbam.processes] == pytest.approx(
        [ind1, ind2, (300 + 1800 * ind2 + 20 * 0.1 * 0.6) / 2000], rel=1e-12)
    assert cbam.total_tco2 == pytest.approx(sum(attr) + 540, abs=1e-9)
    assert [(r.cn_code, r.see_total) for r in cbam.products][-1] == ("72071114", pytest.approx(see3 + 0.2706))


def test_cbam_exclusions_carry_their_driver(cbam: Any) -> None:
    """Crude steel is not deducted, electricity records are replaced, the power plant and transport are outside."""
    drivers = {e.record_id: e.driver for e in cbam.excluded}
    assert drivers == {"4": "waste_gases", "11": "deductions", "12": "deductions", "13": "boundaries",
                       "14": "indirect", "15": "indirect", "16": "boundaries"}
    assert {c.kind for c in cbam.factor_choices} == {"ncv", "cc", "of", "process"}
    assert [s.name for s in cbam.streams if s.method == "Process emissions"] == ["石灰石", "白云石", "直接还原铁"]
    dolomite = next(s for s in cbam.streams if s.name == "白云石")
    assert (dolomite.ad, dolomite.ef, dolomite.conversion_pct) == (50, 0.471, pytest.approx(90.0))


def test_cbam_refuses_what_it_cannot_use(regimes: dict[str, Any]) -> None:
    """Shares not adding to 1, an unknown good, a precursor cycle: each refused with the reason."""
    cbam = regimes["cbam_steel"]
    bad_share = {**INSTALLATION, "process_map": [{"process": "石灰窑", "to": {"P1": 0.5, "P3": 0.4}}]}
    with pytest.raises(RegimeError, match="份额之和应为 1"):
        installation_from_dict(bad_share, cbam)
    bad_good = {**INSTALLATION, "processes": [{**INSTALLATION["processes"][0], "good": "Coke"}]}
    with pytest.raises(RegimeError, match="货物类别"):
        installation_from_dict(bad_good, cbam)
    cycle = json.loads(json.dumps(INSTALLATION))
    cycle["processes"][0]["precursors"] = [{"from": "P3", "quantity_t": 1}]
    with pytest.raises(RegimeError, match="前体关系成环"):
        compute_cbam(cbam, installation_from_dict(cycle, cbam), ROWS, default_library(), CONTEXT)


def test_unmapped_process_lies_outside_the_installation(regimes: dict[str, Any]) -> None:
    """A platform process the mapping does not name counts nowhere and says so (driver: boundaries)."""
    data = {**INSTALLATION, "process_map": [m for m in INSTALLATION["process_map"] if m["process"] != "辅助系统"]}
    result = compute_cbam(regimes["cbam_steel"], installation_from_dict(data, regimes["cbam_steel"]), ROWS,
                          default_library(), CONTEXT)
    diesel = next(e for e in result.excluded if e.record_id == "16")
    assert diesel.driver == "boundaries" and "未映射" in diesel.reason


def test_reconciliation_drivers_add_up_to_each_difference(gbt: Any, ets: Any, cbam: Any) -> None:
    """GB/T → carbon market → CBAM: every difference is the sum of its drivers, and so are the shown cents."""
    rec = reconcile(gbt, ets, [cbam])
    to_ets = rec.comparison("gbt32151_5", "national_ets_steel")
    drivers = {d.key: d.tco2 for d in to_ets.drivers}
    assert drivers == pytest.approx({"indirect": -2 * ELECTRICITY, "deductions": -TAR_MEE - TAR_GB,
                                     "boundaries": 0, "factors": -2 * (CRUDE_MEE - CRUDE_GB), "waste_gases": 0},
                                    abs=1e-9)
    to_cbam = rec.comparison("gbt32151_5", "cbam_steel")
    cog_tj, exported_tj = 10 * 173.54 / 1000, (10 * 173.54 + 120 * 33) / 1000
    assert {d.key: d.tco2 for d in to_cbam.drivers} == pytest.approx({
        "indirect": 540 - 2 * ELECTRICITY,
        "deductions": 2 * CRUDE_GB,
        "boundaries": -(BITUMINOUS + DIESEL),
        "factors": 0,
        "waste_gases": -COG - exported_tj * EF_NG * CORR + 20 * 33 / 1000 * EF_NG,
    }, abs=1e-9)
    assert cog_tj < exported_tj
    between = rec.comparison("national_ets_steel", "cbam_steel")
    for comparison in (to_ets, to_cbam, between):
        assert comparison.explained == pytest.approx(comparison.difference, abs=1e-9)
        assert sum(d.display_cents for d in comparison.drivers) == comparison.difference_cents
    assert to_ets.difference_cents == cents(ETS_TOTAL) - cents(GBT_TOTAL) == -118434
    assert rec.totals["cbam_steel"] == pytest.approx(cbam.total_tco2)


def test_settings_choose_regimes_and_templates(regimes: dict[str, Any]) -> None:
    """An organisation's settings pick regimes and templates; unknown ones are refused."""
    settings = settings_from_dict({"format": "orgcarbon-regime-settings/1", "regimes": ["gbt32151_5", "cbam_steel"],
                                   "report_templates": {"cbam_steel": "cbam-communication-v2.1.1"},
                                   "national_ets_steel": {"process_map": {"东区/精炼": "电炉炼钢"}}}, regimes)
    assert settings.enabled("cbam_steel") and not settings.enabled("national_ets_steel")
    assert settings.enabled("gbt32151_5")
    assert settings.process_maps["national_ets_steel"] == {"东区/精炼": "电炉炼钢"}
    with pytest.raises(RegimeError, match="未知口径 eu_ets"):
        settings_from_dict({"format": "orgcarbon-regime-settings/1", "regimes": ["eu_ets"]}, regimes)
    with pytest.raises(RegimeError, match="没有报告模板"):
        settings_from_dict({"format": "orgcarbon-regime-settings/1",
                            "report_templates": {"cbam_steel": "v9"}}, regimes)
    with pytest.raises(RegimeError, match="未定义的工序类型"):
        settings_from_dict({"format": "orgcarbon-regime-settings/1",
                            "national_ets_steel": {"process_map": {"精炼": "精炼工序"}}}, regimes)


def test_shipped_demo_settings_are_valid(regimes: dict[str, Any]) -> None:
    """The demo enterprise's shipped settings parse, and its installation has four production processes."""
    files = sorted((PACK_DIR / "organizations").glob("*.json"))
    assert len(files) == 2
    for path in files:
        settings = settings_from_dict(json.loads(path.read_text(encoding="utf-8")), regimes, path.name)
        data = settings.section("cbam_steel").get("installation")
        if data is not None:
            assert [p.id for p in installation_from_dict(data, regimes["cbam_steel"]).processes] == [
                "P1", "P2", "P3", "P4"]
