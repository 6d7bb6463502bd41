"""The shipped GB/T 32151.5-2015 pack as pack records, built from its data files.

``factors.json`` (also read by ``orgcarbon.rules``) gives tables B.1, B.2, B.3, heat and the grid
factors; ``processes.json`` the standard steel processes; the default formulas come from the
rules' default model, each with a test case computed here so it can be published.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orgcarbon.rules.factor_pack import DEFAULT_PACK_PATH, library_records
from orgcarbon.rules.model import default_model
from orgcarbon.rules.units import DEFAULT_UNITS

PACK_DIR = Path(__file__).resolve().parent / "gbt_32151_5"
STANDARD = "GB/T 32151.5-2015"
CATEGORY_BY_KIND = {"process": "carbon_raw_material", "fixed_carbon": "product"}
FORMULA_VARIABLES = {
    "gbt32151.5/燃料燃烧": ("quantity=t, ncv=GJ/t, cc=tC/GJ, of=1, ef=tCO2/t",
                        {"quantity": 1000, "ncv": 20, "cc": 0.03, "of": 0.9}, 1000 * 20 * 0.03 * 0.9 * 44 / 12),
    "gbt32151.5/熔剂": ("quantity=t, purity=1, ef=tCO2/t", {"quantity": 100, "purity": 0.9, "ef": 0.44}, 39.6),
    "gbt32151.5/数量×因子": ("quantity=t, ef=tCO2/t", {"quantity": 100, "ef": 0.5}, 50.0),
}


def _grade(value: str) -> str:
    return value if value in ("A", "B", "C", "D") else "D"


def _material_category(name: str, kinds: set[str], b2: dict[str, str]) -> str:
    if name == "电力":
        return "electricity"
    if name == "热力":
        return "heat"
    if "ncv" in kinds:
        return "fuel"
    label = b2.get(name, "")
    if "flux" in label:
        return "flux"
    if "electrode" in label or name == "电极":
        return "electrode"
    return next((CATEGORY_BY_KIND[k] for k in ("fixed_carbon", "process") if k in kinds), "other")


def default_pack_records() -> list[dict[str, Any]]:
    """Every record of the shipped pack, in import order."""
    data = json.loads(DEFAULT_PACK_PATH.read_text(encoding="utf-8"))
    factors, materials = library_records(data)
    b2 = {e["name_zh"]: e.get("category", "") for e in data["gbt_32151_5_2015"]["table_B2_process"]}
    kinds: dict[str, set[str]] = {}
    for row in factors:
        kinds.setdefault(row["material"], set()).add(row["kind"])
    records: list[dict[str, Any]] = [
        {"type": "unit", "symbol": u["symbol"], "dimension": u["dimension"], "factor": u["factor"],
         "name_zh": u.get("name_zh", ""), "aliases": ",".join(u.get("aliases", ()))}
        for u in DEFAULT_UNITS
    ]
    states = {"solid": "solid", "liquid": "liquid", "gas": "gas"}
    records += [
        {"type": "material", "name": m["name"], "name_en": m.get("name_en", ""), "unit": m["unit"],
         "state": states.get(m.get("state", ""), "energy" if m["name"] in ("电力", "热力") else None),
         "category": _material_category(m["name"], kinds.get(m["name"], set()), b2)}
        for m in materials
    ]
    for row in factors:
        records.append({
            "type": "factor", "code": row["id"], "version": 1, "kind": row["kind"],
            "material": row["material"], "value": row["value"], "unit": row["unit"],
            "regime": row["regime"], "region": row.get("region"), "year": row.get("year"),
            "valid_from": None, "valid_to": None, "source": row.get("source", ""),
            "clause": "；".join(row.get("references", ()))[:200], "grade": _grade(row.get("grade", "")),
            "measured": False,
        })
    for formula in default_model().formulas:
        variables, inputs, expected = FORMULA_VARIABLES[formula.name]
        records.append({
            "type": "formula", "name": formula.name, "version": int(formula.version),
            "activity": formula.activity, "factor": formula.factor, "variables": variables,
            "activity_unit": formula.activity_unit, "factor_unit": formula.factor_unit,
            "result_unit": "tCO2", "description": formula.description,
            "test_cases": json.dumps([{"inputs": inputs, "expected": expected}], ensure_ascii=False),
        })
    templates = json.loads((PACK_DIR / "processes.json").read_text(encoding="utf-8"))
    records += [
        {"type": "process_template", "name": t["name"], "subprocesses": ",".join(t["subprocesses"]),
         "standard": STANDARD}
        for t in templates
    ]
    return records
