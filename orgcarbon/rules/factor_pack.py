"""Turn a factor pack in the shape of factors.json into plain factor and material rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from orgcarbon.rules.factors import GRID_REGIME, NATIONAL, REGIME_GBT, FactorLibrary
from orgcarbon.rules.units import normalize_symbol

__all__ = [
    "DEFAULT_PACK_PATH",
    "REGIME_MEE_ETS",
    "REGIME_NATIONAL_ETS_GRID",
    "default_library",
    "library_records",
    "load_factor_library",
]

# Read by path so that rules/ never imports the metamodel package (and through it, maybe Flask).
DEFAULT_PACK_PATH = (
    Path(__file__).resolve().parent.parent / "metamodel" / "packs" / "gbt_32151_5" / "factors.json"
)
REGIME_MEE_ETS = "MEE-ETS"
REGIME_NATIONAL_ETS_GRID = "全国碳市场"
_GBT = "gbt32151.5-2015"


def _refs(entry: Mapping[str, Any], sources: Mapping[str, str]) -> list[str]:
    return [f"{s}: {sources[s]}" if s in sources else str(s) for s in entry.get("sources") or ()]


def _fuel_rows(gbt: Mapping[str, Any], sources: Mapping[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for fuel in gbt.get("table_B1_fuels", ()):
        name, unit = fuel["name_zh"], normalize_symbol(fuel["activity_unit"])
        common = {
            "material": name,
            "regime": REGIME_GBT,
            "source": "GB/T 32151.5-2015 表B.1",
            "grade": fuel.get("confidence", ""),
            "references": _refs(fuel, sources),
        }
        for kind, value, value_unit in (
            ("ncv", fuel["NCV"], f"GJ/{unit}"),
            ("cc", fuel["CC_tC_per_GJ"], "tC/GJ"),
            ("of", fuel["OF"], "1"),
        ):
            rows.append(
                {
                    "id": f"{_GBT}/B.1/{name}/{kind}",
                    "kind": kind,
                    "value": value,
                    "unit": value_unit,
                    **common,
                }
            )
    return rows


def _table_rows(
    entries: Any, table: str, kind: str, sources: Mapping[str, str]
) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{_GBT}/{table}/{e['name_zh']}/{kind}",
            "kind": kind,
            "material": e["name_zh"],
            "value": e["EF_tCO2_per_t"],
            "unit": "tCO2/t",
            "regime": REGIME_GBT,
            "source": f"GB/T 32151.5-2015 表{table}",
            "grade": e.get("confidence", ""),
            "references": _refs(e, sources),
        }
        for e in entries
    ]


def _grid_rows(electricity: Mapping[str, Any], sources: Mapping[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for year_text, entry in (
        electricity.get("mee_nbs_statistical_factors_kgCO2_per_kWh") or {}
    ).items():
        if not year_text.isdigit() or "national_average" not in entry:
            continue
        regions = {NATIONAL: entry["national_average"], **(entry.get("regional") or {})}
        for region, value in regions.items():
            if value is None:
                continue
            rows.append(
                {
                    "id": f"mee-nbs/{year_text}/{region}/electricity",
                    "kind": "electricity",
                    "material": "电力",
                    "value": value,
                    "unit": "tCO2/MWh",
                    "regime": GRID_REGIME,
                    "region": region,
                    "year": int(year_text),
                    "source": entry.get("notice", ""),
                    "grade": entry.get("confidence", ""),
                    "references": _refs(entry, sources),
                }
            )
    for entry in electricity.get("national_ETS_grid_factor") or ():
        if entry.get("value") is None:
            continue
        rows.append(
            {
                "id": "national-ets/2022/全国/electricity",
                "kind": "electricity",
                "material": "电力",
                "value": entry["value"],
                "unit": entry.get("unit", "tCO2/MWh"),
                "regime": REGIME_NATIONAL_ETS_GRID,
                "region": NATIONAL,
                "year": 2022,
                "source": entry.get("doc", ""),
                "grade": entry.get("confidence", ""),
                "references": _refs(entry, sources),
            }
        )
    return rows


def _mee_rows(mee: Mapping[str, Any], sources: Mapping[str, str]) -> list[dict[str, Any]]:
    if not mee:
        return []
    common = {
        "regime": REGIME_MEE_ETS,
        "grade": mee.get("confidence", "D"),
        "unit": "tCO2/t",
        "source": "MEE 钢铁核算指南（第三方实现所见，未核实）",
        "references": _refs(mee, sources),
    }
    values: list[tuple[str, str, Any]] = []
    values += [
        ("process", k, v) for k, v in (mee.get("carbon_bearing_inputs_tCO2_per_t") or {}).items()
    ]
    values += [("process", k, v) for k, v in (mee.get("flux_tCO2_per_t") or {}).items()]
    values.append(("process", "电极", mee.get("electrode_tCO2_per_t")))
    for key, value in (mee.get("carbon_products_tCO2_per_t") or {}).items():
        values += [("fixed_carbon", name, value) for name in key.split("/")]
    # A list means the sources disagree (白云石 0.471 vs 0.476): leave it out rather than guess.
    return [
        {"id": f"mee-ets/{name}/{kind}", "kind": kind, "material": name, "value": value, **common}
        for kind, name, value in values
        if isinstance(value, int | float)
    ]


def library_records(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (factor rows, material rows) for a document in the shape of factors.json."""
    sources: Mapping[str, str] = (data.get("meta") or {}).get("sources") or {}
    gbt = data.get("gbt_32151_5_2015") or {}
    factors = _fuel_rows(gbt, sources)
    factors += _table_rows(gbt.get("table_B2_process", ()), "B.2", "process", sources)
    factors += _table_rows(gbt.get("table_B3_fixed_carbon", ()), "B.3", "fixed_carbon", sources)
    heat = gbt.get("heat_EF_tCO2_per_GJ") or {}
    if "value" in heat:
        factors.append(
            {
                "id": f"{_GBT}/heat/热力/heat",
                "kind": "heat",
                "material": "热力",
                "value": heat["value"],
                "unit": "tCO2/GJ",
                "regime": REGIME_GBT,
                "source": "GB/T 32151.5-2015 热力推荐值",
                "grade": heat.get("confidence", ""),
                "references": _refs(heat, sources),
            }
        )
    factors += _grid_rows(data.get("electricity") or {}, sources)
    factors += _mee_rows(data.get("mee_ets_steel_observed_defaults_unverified") or {}, sources)

    materials: dict[str, dict[str, Any]] = {}
    for fuel in gbt.get("table_B1_fuels", ()):
        materials[fuel["name_zh"]] = {
            "name": fuel["name_zh"],
            "unit": normalize_symbol(fuel["activity_unit"]),
            "name_en": fuel.get("name_en", ""),
            "state": fuel.get("state", ""),
        }
    for row in factors:
        if row["kind"] in ("process", "fixed_carbon"):
            materials.setdefault(row["material"], {"name": row["material"], "unit": "t"})
    materials["电力"] = {"name": "电力", "unit": "MWh", "name_en": "electricity"}
    materials["热力"] = {"name": "热力", "unit": "GJ", "name_en": "heat"}
    return factors, list(materials.values())


def load_factor_library(path: str | Path | None = None) -> FactorLibrary:
    """Load a factor pack file (default: the shipped GB/T 32151.5 pack) into a library."""
    with open(path or DEFAULT_PACK_PATH, encoding="utf-8") as handle:
        data = json.load(handle)
    factors, materials = library_records(data)
    return FactorLibrary.from_records(factors, materials)


@lru_cache(maxsize=1)
def default_library() -> FactorLibrary:
    """The shipped GB/T 32151.5 library, loaded once per process."""
    return load_factor_library()
