"""Benchmark: full recomputation of a synthetic group against a naive interpreter and hand NumPy.

20 plants × 60 sub-processes × 40 (category, material) bindings × 12 months ≈ 576,000 records.
Prints a readable summary and, as the last line, one JSON object with the measured figures.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from orgcarbon.rules.accounting import AccountingContext, compute
from orgcarbon.rules.factor_pack import default_library
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.model import default_model
from orgcarbon.rules.records import Records
from orgcarbon.rules.units import default_units

PLANTS, SUBPROCESSES, MONTHS, YEAR = 20, 60, 12, 2023
PROCESSES = ("焦化", "烧结", "炼铁", "炼钢", "轧钢", "自备电厂")
MEASURED_SHARE = 0.1  # share of fuel records carrying a measured NCV
NAIVE_SAMPLE = 40_000  # records timed one by one, then extrapolated
FloatArray = npt.NDArray[np.float64]


def bindings(library: FactorLibrary) -> list[tuple[str, str, str]]:
    """40 (category, material, unit) bindings covering every category of the standard."""
    fuels = [
        f.material for f in library.factors if f.kind == "ncv" and f.regime == "GB/T 32151.5-2015"
    ]
    out = [("fuel_combustion", m, library.materials[m].unit) for m in fuels]
    out += [
        ("fuel_combustion", "天然气", "Nm3"),
        ("fuel_combustion", "柴油", "kg"),
        ("fuel_combustion", "焦炭", "kg"),
    ]
    out += [
        ("process_flux", "石灰石", "t"),
        ("process_flux", "白云石", "t"),
        ("process_electrode", "电极", "t"),
    ]
    out += [
        ("process_raw_material", m, "t")
        for m in ("生铁", "直接还原铁", "镍铁合金", "铬铁合金", "钼铁合金")
    ]
    out += [
        ("purchased_electricity", "电力", "MWh"),
        ("exported_electricity", "电力", "kWh"),
        ("purchased_heat", "热力", "GJ"),
        ("exported_heat", "热力", "GJ"),
    ]
    out += [("fixed_carbon_product", m, "t") for m in ("粗钢", "生铁", "甲醇")]
    assert len(out) == 40, len(out)
    return out


def synthetic(library: FactorLibrary) -> Records:
    """Build the group's records directly in columnar form (as the platform's loader would)."""
    rng = np.random.default_rng(20240601)
    binds = bindings(library)
    n_b = len(binds)
    plant, sub, bind, month = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(PLANTS),
            np.arange(SUBPROCESSES),
            np.arange(n_b),
            np.arange(MONTHS),
            indexing="ij",
        )
    )
    n = plant.size
    categories = tuple(dict.fromkeys(b[0] for b in binds))
    materials = tuple(dict.fromkeys(b[1] for b in binds))
    units = tuple(dict.fromkeys(b[2] for b in binds))
    b_cat = np.array([categories.index(b[0]) for b in binds])
    b_mat = np.array([materials.index(b[1]) for b in binds])
    b_unit = np.array([units.index(b[2]) for b in binds])
    quantity = rng.uniform(1.0, 1000.0, n)
    quantity[(b_cat[bind] == 0) & (rng.random(n) < 0.02)] *= -1  # some exported by-products
    ncv = np.full(n, np.nan)
    fuel = b_cat[bind] == categories.index("fuel_combustion")
    measured = fuel & (rng.random(n) < MEASURED_SHARE)
    defaults = np.array(
        [library.find("ncv", m).value if library.find("ncv", m) else np.nan for m in materials]
    )
    ncv[measured] = defaults[b_mat[bind[measured]]] * rng.uniform(0.95, 1.05, int(measured.sum()))
    purity = np.where(
        b_cat[bind] == categories.index("process_flux"), rng.uniform(0.85, 1.0, n), np.nan
    )
    sub_code = plant * SUBPROCESSES + sub
    return Records(
        category=b_cat[bind],
        material=b_mat[bind],
        unit=b_unit[bind],
        quantity=quantity,
        site=plant.astype(np.int64),
        process=(sub % len(PROCESSES)).astype(np.int64),
        subprocess=sub_code.astype(np.int64),
        month=month.astype(np.int64),
        categories=categories,
        materials=materials,
        units=units,
        sites=tuple(f"厂区{i + 1:02d}" for i in range(PLANTS)),
        processes=PROCESSES,
        subprocesses=tuple(
            f"厂区{p + 1:02d}-{s + 1:02d}#" for p in range(PLANTS) for s in range(SUBPROCESSES)
        ),
        months=tuple(f"{YEAR}-{m + 1:02d}" for m in range(MONTHS)),
        params={"ncv": ncv, "purity": purity},
    )


def naive(records: Records, library: FactorLibrary, ctx: AccountingContext, sample: int) -> float:
    """(a) A straightforward interpreter: per record, look up factors and evaluate the formula."""
    model, units = default_model(), default_units()
    rules = {r.category: r for r in model.rules}
    grid = ctx.electricity_ef or 0.0
    totals: dict[tuple[str, str, str, str], float] = {}
    ncv_col, purity_col = records.params["ncv"], records.params["purity"]
    for i in range(sample):
        category = records.categories[records.category[i]]
        name = records.materials[records.material[i]]
        rule = rules[category]
        material = library.materials[name]
        quantity = units.convert(
            float(records.quantity[i]), records.units[records.unit[i]], material.unit
        )
        env: dict[str, float] = {
            "quantity": quantity,
            "ncv": math.nan,
            "cc": math.nan,
            "of": math.nan,
            "purity": float(purity_col[i]),
            "ef": math.nan,
        }
        if rule.factor_kind == "fuel":
            for p in ("ncv", "cc", "of"):
                env[p] = library.select(p, name).value
            if not math.isnan(ncv_col[i]):
                env["ncv"] = float(ncv_col[i])
        elif rule.factor_kind == "electricity":
            env["ef"] = grid
        else:
            kind = "heat" if rule.factor_kind == "heat" else rule.factor_kind
            env["ef"] = library.select(kind, name).value
        act_expr, fac_expr = rule.formula.compiled()
        value = act_expr.evaluate_scalar(env) * fac_expr.evaluate_scalar(env) * rule.sign
        key = (
            records.sites[records.site[i]],
            records.processes[records.process[i]],
            records.subprocesses[records.subprocess[i]],
            records.months[records.month[i]],
        )
        totals[key] = totals.get(key, 0.0) + value
    return sum(totals.values())


def hand_numpy(records: Records, library: FactorLibrary, ctx: AccountingContext) -> float:
    """(b) The same arithmetic written by hand in NumPy, with lookups prepared per material."""
    model = default_model()
    units = default_units()
    cats = [model.rule(c) for c in records.categories]
    n_c, n_m = len(records.categories), len(records.materials)
    ncv_t, ef_fuel_t, ef_t = (np.full(n_c * n_m, np.nan) for _ in range(3))
    sign_c = np.array([r.sign if r else 0 for r in cats], dtype=np.float64)
    direct_c = np.array([r is not None and r.scope == "direct" for r in cats], dtype=np.float64)
    flux_c = np.array([r is not None and r.category == "process_flux" for r in cats])
    fuel_c = np.array([r is not None and r.factor_kind == "fuel" for r in cats])
    for c, rule in enumerate(cats):
        assert rule is not None
        for m, name in enumerate(records.materials):
            k = c * n_m + m
            if rule.factor_kind == "fuel" and (p := library.find("ncv", name)) is not None:
                ncv_t[k] = p.value
                ef_fuel_t[k] = (
                    library.select("cc", name).value * library.select("of", name).value * 44 / 12
                )
            elif rule.factor_kind == "electricity":
                ef_t[k] = ctx.electricity_ef or np.nan
            elif rule.factor_kind in ("process", "fixed_carbon", "heat"):
                kind = rule.factor_kind
                f = library.find(kind, "热力" if kind == "heat" else name)
                ef_t[k] = f.value if f else np.nan
    conv = np.ones(n_m * len(records.units))
    for m, name in enumerate(records.materials):
        for u, unit in enumerate(records.units):
            try:
                conv[m * len(records.units) + u] = units.factor(unit, library.materials[name].unit)
            except ValueError:
                conv[m * len(records.units) + u] = np.nan
    pair = records.category * n_m + records.material
    q = records.quantity * conv[records.material * len(records.units) + records.unit]
    ncv = records.params["ncv"]
    ncv = np.where(np.isnan(ncv), ncv_t[pair], ncv)
    purity = np.where(np.isnan(records.params["purity"]), 1.0, records.params["purity"])
    fuel = fuel_c[records.category]
    tco2 = np.where(
        fuel,
        q * ncv * ef_fuel_t[pair],
        np.where(flux_c[records.category], q * purity, q) * ef_t[pair],
    )
    net = tco2 * sign_c[records.category]
    direct = net * direct_c[records.category]
    n_sub, n_per = len(records.subprocesses), len(records.months)
    key = (
        (records.site * len(records.processes) + records.process) * n_sub + records.subprocess
    ) * n_per + records.month
    space = len(records.sites) * len(records.processes) * n_sub * n_per
    by_cell = np.bincount(key, weights=net, minlength=space)
    np.bincount(key, weights=direct, minlength=space)
    return float(by_cell.sum())


def best_of(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Shortest wall time of ``repeat`` runs and the last result."""
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    library = default_library()
    records = synthetic(library)
    n = len(records)
    ctx = AccountingContext(year=YEAR, electricity_ef=0.5306, organization="集团")
    model = default_model()
    compute(model, records, library, ctx)  # warm-up: compiles formulas, touches the library

    engine_s, result = best_of(lambda: compute(model, records, library, ctx), 5)
    numpy_s, numpy_total = best_of(lambda: hand_numpy(records, library, ctx), 5)
    sample = min(NAIVE_SAMPLE, n)
    sample_s, _ = best_of(lambda: naive(records, library, ctx, sample), 1)
    naive_s = sample_s * n / sample
    full_naive = naive(records, library, ctx, n) if "--full-naive" in sys.argv else None

    print(
        f"records: {n:,} ({PLANTS} plants × {SUBPROCESSES} sub-processes × 40 materials × "
        f"{MONTHS} months)"
    )
    print(f"engine compute():        {engine_s:8.3f} s   total {result.total_tco2:,.2f} tCO2")
    print(f"hand-written NumPy:      {numpy_s:8.3f} s   total {numpy_total:,.2f} tCO2")
    print(
        f"naive interpreter:       {naive_s:8.3f} s   (timed {sample:,} records one by one in "
        f"{sample_s:.3f} s and extrapolated linearly to {n:,})"
    )
    if full_naive is not None:
        print(f"naive full-run total:    {full_naive:,.2f} tCO2")
    print(
        f"speed-up vs naive: {naive_s / engine_s:,.0f}×; engine / NumPy: {engine_s / numpy_s:.2f}"
    )
    print(
        json.dumps(
            {
                "benchmark": "accounting",
                "records": n,
                "engine_s": round(engine_s, 4),
                "naive_s": round(naive_s, 3),
                "numpy_s": round(numpy_s, 4),
                "speedup_vs_naive": round(naive_s / engine_s, 1),
                "ratio_to_numpy": round(engine_s / numpy_s, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
