"""The accounting engine: ``compute(model, records, library)`` as one vectorised pure function."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from orgcarbon.rules.evaluation import evaluate_formulas
from orgcarbon.rules.factor_resolution import AccountingContext, PairTables, resolve_pairs
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.issues import Issue, RejectedError
from orgcarbon.rules.model import TERMS, AccountingModel, category_from_label
from orgcarbon.rules.products import (
    ProcessIntensity,
    ProductLine,
    is_product_category,
    process_intensities,
)
from orgcarbon.rules.records import Records
from orgcarbon.rules.results import FactorUse, Intensity, Result, ResultLines, Rollup
from orgcarbon.rules.rollup import build_rollups
from orgcarbon.rules.units import UnitError, UnitTable, default_units

__all__ = ["AccountingContext", "AccountingError", "compute"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class AccountingError(RejectedError):
    """Records that cannot be accounted (unknown category/material/unit, missing factor)."""


def _rule_index(model: AccountingModel, records: Records, issues: list[Issue]) -> IntArray:
    by_label = np.full(len(records.categories), -1, dtype=np.int64)
    keys = [r.category for r in model.rules]
    for code, label in enumerate(records.categories):
        key = category_from_label(label)
        if key in keys:
            by_label[code] = keys.index(key)
        else:
            rows = records.row_numbers()[records.category == code]
            issues += [Issue(int(r), "category", label, "未知类别") for r in rows]
    return by_label[records.category]


def _periods(records: Records, ctx: AccountingContext) -> tuple[IntArray, tuple[str, ...]]:
    # Records without a month belong to the whole period, labelled by its year.
    whole = str(ctx.year) if ctx.year else "全期"
    labels = [m or whole for m in records.months]
    periods = tuple(sorted(set(labels)))
    remap = np.array([periods.index(label) for label in labels], dtype=np.int64)
    if np.array_equal(remap, np.arange(len(remap))):
        return records.month, periods  # already in calendar order: no per-record remap
    return remap[records.month], periods


def _split_products(
    records: Records, units: UnitTable, issues: list[Issue]
) -> tuple[Records, tuple[ProductLine, ...]]:
    """Set product-output records apart (they emit nothing) and convert their quantities to t."""
    codes = [i for i, label in enumerate(records.categories) if is_product_category(label)]
    if not codes:
        return records, ()  # the common case costs one pass over the category labels
    mask = np.isin(records.category, codes)
    found = records.subset(mask)
    rows = found.row_numbers()
    lines = []
    for i in range(len(found)):
        unit, quantity, row = found.units[found.unit[i]], float(found.quantity[i]), int(rows[i])
        try:
            tonnes = float(units.convert(quantity, unit, "t"))
        except UnitError:
            issues.append(Issue(row, "unit", unit, "产品产量的单位应为质量单位（如 t、kg）"))
            continue
        if quantity < 0:
            issues.append(Issue(row, "quantity", quantity, "产品产量不能为负数"))
            continue
        lines.append(
            ProductLine(
                row=row,
                record_id=found.ids[i] if found.ids is not None else None,
                site=found.sites[found.site[i]],
                process=found.processes[found.process[i]],
                subprocess=found.subprocesses[found.subprocess[i]],
                month=found.months[found.month[i]],
                material=found.materials[found.material[i]],
                quantity=quantity,
                unit=unit,
                quantity_t=tonnes,
            )
        )
    return records.subset(~mask), tuple(lines)


def _process_intensity(
    model: AccountingModel,
    records: Records,
    procs: Rollup,
    quantity: FloatArray,
    rule_index: IntArray,
    products: tuple[ProductLine, ...],
) -> tuple[ProcessIntensity, ...]:
    keys = [r.category for r in model.rules]
    fixed: dict[str, float] = {}
    if model.intensity_material in records.materials and model.intensity_category in keys:
        mask = (rule_index == keys.index(model.intensity_category)) & (
            records.material == records.materials.index(model.intensity_material)
        )
        per_site = np.bincount(
            records.site[mask], weights=quantity[mask], minlength=len(records.sites)
        )
        fixed = {site: float(v) for site, v in zip(records.sites, per_site, strict=True)}
    net, direct = procs.totals(), procs.totals(direct=True)
    emissions = {(k[0], k[1]): (net[k], direct[k]) for k in procs.keys}
    outputs: dict[tuple[str, str, str], float] = {}
    for line in products:
        key = (line.site, line.process, line.material)
        outputs[key] = outputs.get(key, 0.0) + line.quantity_t
    return process_intensities(emissions, outputs, fixed, crude_steel=model.intensity_material)


def _factors_used(
    tables: PairTables, records: Records, pair: IntArray, n_rules: int
) -> tuple[FactorUse, ...]:
    n_mat = len(records.materials)
    # Per pair, how many records fell back to the default of each measured-capable parameter.
    fallbacks = {
        p: np.bincount(pair, weights=np.isnan(col), minlength=n_rules * n_mat)
        for p in ("ncv", "cc", "of", "ef")
        if (col := records.param(p)) is not None
    }
    used: dict[str, FactorUse] = {}
    for (r, m), factors in tables.factors.items():
        for factor in factors:
            param = factor.kind if factor.kind in ("ncv", "cc", "of") else "ef"
            if param in fallbacks and fallbacks[param][r * n_mat + m] == 0:
                continue  # every record of the pair carried its own measured value
            name = factor.kind if factor.kind in ("electricity", "heat") else None
            used.setdefault(factor.id, FactorUse.of(factor, name))
    return tuple(used.values())


def compute(
    model: AccountingModel,
    records: Records,
    library: FactorLibrary,
    context: AccountingContext | None = None,
) -> Result:
    """Account ``records`` under ``model`` with ``library``; raise ``AccountingError`` on bad rows."""
    ctx = context or AccountingContext()
    issues: list[Issue] = []
    records, products = _split_products(records, ctx.units or default_units(), issues)
    rule_index = _rule_index(model, records, issues)
    n_mat, n_unit, n_rules = len(records.materials), len(records.units), len(model.rules)
    pair = rule_index * n_mat
    pair += records.material
    if issues:  # park records of unknown categories on a sentinel pair
        pair = np.where(rule_index >= 0, pair, n_rules * n_mat)
    mu = records.material * n_unit
    mu += records.unit
    tables = resolve_pairs(
        model, records, library, ctx, ctx.units or default_units(), rule_index, pair, mu
    )
    issues += tables.issues
    if issues:
        raise AccountingError(sorted(issues, key=lambda i: (i.row or 0, i.field)))

    used_mu = np.flatnonzero(~np.isnan(tables.conversion))
    quantity = records.quantity
    if np.any(tables.conversion[used_mu] != 1.0):
        quantity = quantity * tables.conversion[mu]
    evaluated = evaluate_formulas(model, records, tables, rule_index, pair, quantity)
    if evaluated.issues:
        raise AccountingError(sorted(evaluated.issues, key=lambda i: (i.row or 0, i.field)))

    rules = model.rules
    keys = [r.category for r in rules]
    sign = np.array([r.sign for r in rules], dtype=np.float64)
    direct_share = np.array([r.scope == "direct" for r in rules], dtype=np.float64)
    period, periods = _periods(records, ctx)
    subs, procs, sites, org, by_rule = build_rollups(
        records,
        period,
        periods,
        evaluated.tco2,
        rule_index,
        sign,
        direct_share,
        ctx.organization,
    )
    term_by_period = np.zeros((len(TERMS), len(periods)))
    for r, rule in enumerate(rules):
        term_by_period[TERMS.index(rule.term)] += by_rule[r]
    by_category = {t: float(v) for t, v in zip(TERMS, term_by_period.sum(axis=1), strict=True)}
    total, direct_total = float(org.net.sum()), float(org.direct.sum())
    by_process: dict[str, float] = {}
    for (_, process), value in procs.totals().items():
        by_process[process] = by_process.get(process, 0.0) + value

    intensity = None
    if model.intensity_material in records.materials and model.intensity_category in keys:
        code = keys.index(model.intensity_category) * n_mat + records.materials.index(
            model.intensity_material
        )
        product = float(np.bincount(pair, weights=quantity, minlength=code + 1)[code])
        if product > 0:
            intensity = Intensity(
                model.intensity_material, product, total / product, direct_total / product
            )

    lines = ResultLines(
        records=records,
        rule_index=rule_index,
        categories=tuple(keys),
        terms=tuple(r.term for r in rules),
        signs=tuple(r.sign for r in rules),
        formulas=tuple(r.formula for r in rules),
        pair_factors=tables.factors,
        pair_units=tables.units,
        activity=evaluated.activity,
        ef=evaluated.ef,
        tco2=evaluated.tco2,
    )
    return Result(
        standard=model.standard,
        model=model.name,
        model_version=model.version,
        total_tco2=total,
        direct_tco2=direct_total,
        indirect_tco2=total - direct_total,
        by_category=by_category,
        by_process=by_process,
        term_periods=periods,
        term_by_period=term_by_period,
        subprocesses=subs,
        processes=procs,
        sites=sites,
        organization=org,
        lines=lines,
        factors_used=_factors_used(tables, records, pair, n_rules),
        notes=tuple(tables.notes),
        intensity=intensity,
        products=products,
        process_intensity=_process_intensity(model, records, procs, quantity, rule_index, products),
    )
