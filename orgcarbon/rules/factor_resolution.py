"""Resolve default factors and unit conversions once per distinct (category, material, unit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from orgcarbon.rules.factors import Factor, FactorLibrary, FactorNotFoundError, GridChoice
from orgcarbon.rules.issues import Issue
from orgcarbon.rules.model import PARAMETERS, AccountingModel
from orgcarbon.rules.records import Records
from orgcarbon.rules.units import UnitError, UnitTable

__all__ = ["AccountingContext", "PairTables", "resolve_pairs"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class AccountingContext:
    """What a computation needs besides model, records and library: period, region, overrides."""

    year: int | None = None
    on: date | None = None  # date the factors must be valid on (default: 1 January of ``year``)
    grid_region: str | None = None
    electricity_ef: float | None = None  # tCO2/MWh; overrides the grid-factor lookup
    heat_ef: float | None = None  # tCO2/GJ; overrides the library's heat factor
    regime: str | None = None  # factor regime; default: the model's
    organization: str = ""
    units: UnitTable | None = None


@dataclass
class PairTables:
    """Per (rule, material) defaults as flat arrays indexed by ``rule * n_materials + material``."""

    defaults: dict[str, FloatArray]
    factors: dict[tuple[int, int], tuple[Factor, ...]]
    units: dict[tuple[int, int], tuple[str, str]]
    conversion: FloatArray  # indexed by ``material * n_units + unit``
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    grid: GridChoice | None = None


def _rows(records: Records, mask: npt.NDArray[np.bool_]) -> list[int]:
    return [int(r) for r in records.row_numbers()[mask]]


def _override(kind: str, material: str, value: float, unit: str, key: str) -> Factor:
    return Factor(
        id=f"context/{key}",
        kind=kind,
        material=material,
        value=value,
        unit=unit,
        regime="数据包指定",
        source=f"数据包 {key}",
        grade="用户指定",
    )


def _electricity(
    library: FactorLibrary, ctx: AccountingContext, tables: PairTables
) -> Factor | None:
    if ctx.electricity_ef is not None:
        return _override("electricity", "电力", ctx.electricity_ef, "tCO2/MWh", "electricity_ef")
    if ctx.year is None:
        tables.issues.append(Issue(None, "period", None, "未给出核算年份，无法选择电网排放因子"))
        return None
    try:
        tables.grid = library.grid_factor(ctx.grid_region, ctx.year)
    except FactorNotFoundError as exc:
        reason = f"{exc}；数据包也未给出 electricity_ef"
        tables.issues.append(Issue(None, "organization.grid_region", ctx.grid_region, reason))
        return None
    tables.notes.append(tables.grid.note)
    return tables.grid.factor


def resolve_pairs(
    model: AccountingModel,
    records: Records,
    library: FactorLibrary,
    ctx: AccountingContext,
    units: UnitTable,
    rule_index: IntArray,
    pair: IntArray,
    mu: IntArray,
) -> PairTables:
    """Look up every default once per distinct pair; report unknowns with their rows.

    ``pair`` is ``rule * n_materials + material`` (``n_rules * n_materials`` for a record of an
    unknown category); ``mu`` is ``material * n_units + unit``.
    """
    n_mat, n_unit = len(records.materials), len(records.units)
    n_pairs = len(model.rules) * n_mat
    valid = rule_index >= 0
    present = np.flatnonzero(np.bincount(pair, minlength=n_pairs + 1)[:n_pairs])
    tables = PairTables(
        defaults={p: np.full(n_pairs, np.nan) for p in PARAMETERS},
        factors={},
        units={},
        conversion=np.full(n_mat * n_unit, np.nan),
    )
    regime = ctx.regime or model.regime
    on = ctx.on or (date(ctx.year, 1, 1) if ctx.year else None)
    kinds = {r.factor_kind for r in (model.rules[int(p) // n_mat] for p in present)}
    grid = _electricity(library, ctx, tables) if "electricity" in kinds else None
    heat: Factor | None = None
    if "heat" in kinds:
        heat = (
            _override("heat", "热力", ctx.heat_ef, "tCO2/GJ", "heat_ef")
            if ctx.heat_ef is not None
            else library.find("heat", "热力", regime=regime, on=on)
        )

    for code in present.tolist():
        r, m = divmod(code, n_mat)
        rule, name = model.rules[r], records.materials[m]
        material = library.material(name)
        if material is None or (rule.material is not None and name != rule.material):
            reason = (
                f"未知物料“{name}”（因子库中没有）"
                if material is None
                else f"类别 {rule.category} 的物料应为“{rule.material}”"
            )
            mask = valid & (rule_index == r) & (records.material == m)
            tables.issues += [Issue(row, "material", name, reason) for row in _rows(records, mask)]
            continue
        found: dict[str, Factor | None]
        if rule.factor_kind == "fuel":
            found = {p: library.find(p, name, regime=regime, on=on) for p in ("ncv", "cc", "of")}
        elif rule.factor_kind == "electricity":
            found = {"ef": grid}
        elif rule.factor_kind == "heat":
            found = {"ef": heat}
        else:
            found = {"ef": library.find(rule.factor_kind, name, regime=regime, on=on)}
        for param, factor in found.items():
            if factor is not None:
                tables.defaults[param][code] = factor.value
        tables.factors[(r, m)] = tuple(f for f in found.values() if f is not None)
        tables.units[(r, m)] = (
            rule.formula.activity_unit or material.unit,
            rule.formula.factor_unit or f"tCO2/{material.unit}",
        )

    # Unit conversion factor per (material, unit) actually used.
    for code in np.flatnonzero(np.bincount(mu, minlength=n_mat * n_unit)).tolist():
        m, u = divmod(code, n_unit)
        material = library.material(records.materials[m])
        if material is None:
            continue  # already reported as an unknown material
        try:
            tables.conversion[code] = units.factor(records.units[u], material.unit)
        except UnitError as exc:
            mask = mu == code
            tables.issues += [
                Issue(row, "unit", records.units[u], f"{exc}（物料“{material.name}”）")
                for row in _rows(records, mask)
            ]
    return tables
