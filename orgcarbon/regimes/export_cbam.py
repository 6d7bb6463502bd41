"""Fill a copy of the official CBAM communication template (v2.1.1) with an installation's figures.

Only the template's input cells (yellow, unlocked) are written; the template's own formulas then
compute the attributed emissions and SEE per product when Excel or LibreOffice opens the file
(``fullCalcOnLoad``). Cell positions follow the template's layout (shared/domain/cbam/README.md):
A_InstData, B_EmInst, C_Emissions&Energy, D_Processes (10 blocks of 65 rows), E_PurchPrec
(20 blocks of 44 rows) and Summary_Products (from row 10).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orgcarbon.regimes.xlsx_cells import CellValue, fill_cells
from orgcarbon.rules.regimes import CbamResult
from orgcarbon.rules.regimes.definition import PACK_DIR, Regime

PROCESS_BLOCK = 65
PURCHASED_BLOCK = 44
# A_InstData rows 19–32 (installation) and 37–53 (verifier), input column I.
INSTALLATION_ROWS = {"name": 19, "name_en": 20, "street": 21, "economic_activity": 22, "post_code": 23,
                     "po_box": 24, "city": 25, "country": 26, "unlocode": 27, "latitude": 28, "longitude": 29,
                     "representative": 30, "email": 31, "telephone": 32}
VERIFIER_ROWS = {"company": 37, "street": 38, "city": 39, "post_code": 40, "country": 41, "name": 45, "email": 46,
                 "telephone": 47, "fax": 48, "accreditation_state": 51, "accreditation_body": 52,
                 "registration_number": 53}
ROUTE_COLUMNS = "IJKLMN"
METHODS = {"Combustion": "Combustion", "Process emissions": "Process emissions"}  # template's own words
DATA_QUALITY_DEFAULTS = "Mostly measurements & national standard factors for e.g. the emission factor"
DATA_QUALITY_MEASURED = "Mostly measurements & analyses"


def template_path(regime: Regime, key: str | None = None) -> Path:
    """The blank template file of the regime's chosen report template."""
    template = regime.template(key)
    if template is None or not template.file:
        raise FileNotFoundError(f"口径“{regime.name}”没有可填写的官方模板")
    return PACK_DIR / template.file


def _installation_sheet(result: CbamResult) -> dict[str, CellValue]:
    year = result.year or dt.date.today().year
    cells: dict[str, CellValue] = {"I9": dt.date(year, 1, 1), "L9": dt.date(year, 12, 31)}
    details: Mapping[str, Any] = result.installation.details
    for key, row in INSTALLATION_ROWS.items():
        if details.get(key) not in (None, ""):
            cells[f"I{row}"] = details[key]
    for key, row in VERIFIER_ROWS.items():
        value = (details.get("verifier") or {}).get(key)
        if value not in (None, ""):
            cells[f"I{row}"] = value
    goods: dict[str, list[str]] = {}
    for p in result.processes:
        routes = goods.setdefault(p.process.good, [])
        if p.process.route and p.process.route not in routes:
            routes.append(p.process.route)
    for pp in result.installation.purchased:
        goods.setdefault(pp.good, [])
    for i, (good, routes) in enumerate(list(goods.items())[:10]):
        cells[f"E{62 + i}"] = good
        for column, route in zip(ROUTE_COLUMNS, routes, strict=False):
            cells[f"{column}{62 + i}"] = route
    for i, p in enumerate(result.processes):
        cells[f"E{83 + i}"] = p.process.good
        cells[f"L{83 + i}"] = p.process.name
    for i, pp in enumerate(result.installation.purchased):
        cells[f"E{102 + i}"] = pp.good
        if pp.country:
            cells[f"F{102 + i}"] = pp.country
        if pp.route:
            cells[f"G{102 + i}"] = pp.route
        cells[f"L{102 + i}"] = pp.name
    return cells


def _process_sheet(result: CbamResult) -> dict[str, CellValue]:
    cells: dict[str, CellValue] = {}
    ids = [p.process.id for p in result.processes]
    for k, p in enumerate(result.processes):
        o = PROCESS_BLOCK * k
        al = p.activity_level_t or 0.0
        market = p.process.market_t or 0.0
        cells[f"L{16 + o}"] = al
        cells[f"L{27 + o}"] = market
        others = [pid for pid in ids if pid != p.process.id]
        for j, other in enumerate(others[:9]):
            cells[f"L{32 + o + j}"] = p.consumed_by.get(other, 0.0)
        cells[f"L{41 + o}"] = max(0.0, al - market - sum(p.consumed_by.values()))
        heat = p.process.heat
        cells[f"K{50 + o}"] = heat is not None
        cells[f"L{50 + o}"] = bool(p.wg_imported_tj or p.wg_exported_tj)
        cells[f"L{54 + o}"] = p.dir_em_star
        if heat is not None:
            cells.update({f"L{57 + o}": heat.imported_tj, f"M{57 + o}": heat.exported_tj,
                          f"L{58 + o}": heat.imported_ef, f"M{58 + o}": heat.exported_ef})
        if p.wg_imported_tj or p.wg_exported_tj:
            # TJ in and out; the template applies CONST_EFNatGas and 0.667 itself (D_Processes!T62).
            cells.update({f"L{61 + o}": p.wg_imported_tj, f"M{61 + o}": p.wg_exported_tj})
        cells[f"L{65 + o}"] = p.electricity_mwh
        cells[f"L{66 + o}"] = p.ef_el
        cells[f"L{67 + o}"] = p.ef_source if p.ef_source.startswith("D.4") else result.ef_source
        cells[f"L{71 + o}"] = 0.0
    return cells


def _purchased_sheet(result: CbamResult) -> dict[str, CellValue]:
    cells: dict[str, CellValue] = {}
    ids = [p.process.id for p in result.processes]
    for m, pp in enumerate(result.installation.purchased):
        o = PURCHASED_BLOCK * m
        consumed = {p.process.id: u.quantity_t for p in result.processes for u in p.precursors
                    if u.purchased and u.source == pp.id}
        cells[f"L{17 + o}"] = sum(consumed.values())
        for j, pid in enumerate(ids):
            cells[f"L{28 + o + j}"] = consumed.get(pid, 0.0)
        cells[f"L{38 + o}"] = 0.0
        source = "Default" if "缺省" in pp.source or "default" in pp.source.lower() else "Measured"
        cells.update({f"L{49 + o}": pp.see_direct, f"M{49 + o}": source,
                      f"L{50 + o}": pp.electricity_mwh_per_t, f"M{50 + o}": source,
                      f"L{51 + o}": pp.ef_el, f"M{51 + o}": "D.4(b)"})
        if pp.justification:
            cells[f"K{54 + o}"] = pp.justification
    return cells


def _streams_sheet(result: CbamResult) -> dict[str, CellValue]:
    cells: dict[str, CellValue] = {}
    for i, s in enumerate(result.streams[:75]):
        row = 17 + i
        cells.update({f"D{row}": METHODS[s.method], f"E{row}": s.name, f"F{row}": s.ad, f"G{row}": s.ad_unit,
                      f"J{row}": s.ef, f"K{row}": s.ef_unit, f"R{row}": 0.0})
        if s.ncv is not None:
            cells[f"H{row}"] = s.ncv
        if s.oxidation_pct is not None:
            cells[f"N{row}"] = s.oxidation_pct
        if s.conversion_pct is not None:
            cells[f"P{row}"] = s.conversion_pct
    return cells


def _energy_sheet(result: CbamResult) -> dict[str, CellValue]:
    measured_only = not result.factor_choices
    return {"M26": result.total_indirect, "H40": DATA_QUALITY_MEASURED if measured_only else DATA_QUALITY_DEFAULTS}


def _products_sheet(result: CbamResult) -> dict[str, CellValue]:
    cells: dict[str, CellValue] = {}
    for i, product in enumerate(result.products[:100]):
        row = 10 + i
        cells.update({f"D{row}": product.process_name, f"F{row}": product.cn_code, f"H{row}": product.product})
    return cells


def cell_values(result: CbamResult) -> dict[str, dict[str, CellValue]]:
    """Every cell the export writes, by sheet."""
    return {
        "A_InstData": _installation_sheet(result),
        "B_EmInst": _streams_sheet(result),
        "C_Emissions&Energy": _energy_sheet(result),
        "D_Processes": _process_sheet(result),
        "E_PurchPrec": _purchased_sheet(result),
        "Summary_Products": _products_sheet(result),
    }


def cbam_workbook(result: CbamResult, template_key: str | None = None) -> bytes:
    """The filled copy of the official template, as bytes."""
    return fill_cells(template_path(result.regime, template_key).read_bytes(), cell_values(result))
