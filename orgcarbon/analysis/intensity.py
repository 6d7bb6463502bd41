"""碳排放强度对比: intensity (tCO2 per t of product) by plant, process, year and month, against benchmarks.

Enterprise, plant, year and month rows divide signed tCO2 by the crude steel of the same lines
(category ``fixed_carbon_product``, material 粗钢), exactly as the rules engine computes the
enterprise intensity. Process rows divide a process's signed tCO2 by the product it reports in
its own fixed-carbon product lines (``process_products``): a stand-in until the accounting engine
stores each process's product output; a process without such lines has no intensity.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_
from sqlalchemy.orm import Session

from orgcarbon.analysis import facts as f
from orgcarbon.analysis import queries as q
from orgcarbon.analysis.benchmarks import Matcher
from orgcarbon.analysis.cache import cached, make_key

YEARS_BACK = 4  # the period comparison shows the same months of up to four earlier years
CHARTS = ("by_plant", "by_process", "by_year", "trend")
_PRODUCT_LINES = and_(q.LINE.c.category == q.INTENSITY_CATEGORY, q.LINE.c.process_id.is_not(None))


def per_tonne(total: float, direct: float, tonnes: float) -> dict[str, Any]:
    """The intensity fields of a row (None when nothing was produced)."""
    return {"quantity_t": tonnes, "total_tco2": total, "direct_tco2": direct,
            "total_per_t": total / tonnes if tonnes > 0 else None,
            "direct_per_t": direct / tonnes if tonnes > 0 else None}


def _row(sums: f.Sums) -> dict[str, Any]:
    return per_tonne(sums.net, sums.direct, sums.crude)


def by_plant(rows: list[f.Fact]) -> list[dict[str, Any]]:
    """Intensity per t crude steel of each organisation node with lines (plants)."""
    out = [{"id": o, "name": n, "product": q.INTENSITY_MATERIAL, **_row(s)}
           for (o, n), s in f.sum_by(rows, lambda r: (r.organization_id, r.organization)).items()]
    return sorted(out, key=lambda r: (r["total_per_t"] is None, r["name"]))


def process_products(session: Session, sel: q.Selection) -> dict[tuple[int, int], tuple[str, float]]:
    """Each process's main product and tonnes, read from its own fixed-carbon product lines.

    A stand-in until the accounting engine stores "intensity per process product": the product
    is the material of the process's ``fixed_carbon_product`` lines with the largest quantity.
    """
    rows = q.grouped(session, sel, q.LINE.c.process_id, q.LINE.c.material, name="product", value=q.LINE.c.activity,
                     where=_PRODUCT_LINES)
    tonnes: dict[tuple[int, int], dict[str, float]] = {}
    for org_id, process_id, material, quantity in rows:
        per = tonnes.setdefault((int(org_id), int(process_id)), {})
        per[material] = per.get(material, 0.0) + float(quantity or 0.0)
    out: dict[tuple[int, int], tuple[str, float]] = {}
    for key, per in tonnes.items():
        material, quantity = max(per.items(), key=lambda item: item[1])
        if quantity > 0:
            out[key] = (material, quantity)
    return out


def by_process(rows: list[f.Fact], products: dict[tuple[int, int], tuple[str, float]]) -> list[dict[str, Any]]:
    """Signed tCO2 of each process per t of its own product (None without product lines)."""
    out = []
    groups = f.sum_by(rows, lambda r: (r.organization_id, r.organization, r.process_id, r.process))
    for (org_id, org_name, process_id, process_name), sums in groups.items():
        if process_id is None:
            continue
        product, tonnes = products.get((org_id, int(process_id)), (None, 0.0))
        out.append({"organization_id": org_id, "organization": org_name, "process_id": process_id,
                    "process": process_name, "product": product, **per_tonne(sums.net, sums.direct, tonnes)})
    return sorted(out, key=lambda r: (r["total_per_t"] is None, r["organization"], r["process"]))


def trend(this_year: dict[str, dict[str, Any]], last_year: dict[str, dict[str, Any]],
          period: q.Period) -> list[dict[str, Any]]:
    """Monthly total and direct intensity, with the same month of last year."""
    rows = []
    for month in period.months:
        now = this_year.get(month, {})
        before = last_year.get(f"{period.year - 1}{month[4:]}", {})
        rows.append({"month": month, "value": now.get("total_per_t"), "direct": now.get("direct_per_t"),
                     "last_year": before.get("total_per_t")})
    return rows


def earlier_years(session: Session, period: q.Period, nodes: frozenset[int]) -> list[q.Selection]:
    """Selections of the same months in the ``YEARS_BACK`` earlier years, those with finished runs."""
    years = range(period.year - YEARS_BACK, period.year)
    selections = [q.select_lines(session, q.Period(y, period.month_from, period.month_to), nodes) for y in years]
    return [s for s in selections if s.slices]


def figures(session: Session, period: q.Period, nodes: frozenset[int]) -> dict[str, Any]:
    """The line-derived figures (cached by the run ids they were computed from)."""
    earlier = earlier_years(session, period, nodes)
    sel = q.select_lines(session, period, nodes)
    key = make_key("intensity", now=sel.key(), earlier=[s.key() for s in earlier])

    def compute() -> dict[str, Any]:
        rows = f.facts(session, sel, "node")
        months = f.yearly(session, earlier)
        monthly = {m: _row(s) for m, s in f.sum_by(rows, lambda r: r.month).items()}
        last_year = {m: _row(s) for m, s in months.items() if m.startswith(f"{period.year - 1}-")}
        by_year = [{"year": s.period.year, "nodes": _covered(s), "product": q.INTENSITY_MATERIAL,
                    **_row(_year_sums(months, s.period.year))} for s in earlier]
        by_year.append({"year": period.year, "nodes": _covered(sel), "product": q.INTENSITY_MATERIAL,
                        **_row(f.total(rows))})
        return {
            "period": {"year": period.year, "month_from": period.month_from, "month_to": period.month_to},
            "run_ids": list(sel.run_ids), "nodes": _covered(sel),
            "enterprise": {"product": q.INTENSITY_MATERIAL, **_row(f.total(rows))},
            "by_plant": by_plant(rows),
            "by_process": by_process(f.facts(session, sel, "process"), process_products(session, sel)),
            "by_year": by_year, "trend": trend(monthly, last_year, period),
        }

    return cached(key, compute)  # type: ignore[no-any-return]


def _year_sums(months: dict[str, f.Sums], year: int) -> f.Sums:
    return f.total(s for m, s in months.items() if m.startswith(f"{year}-"))


def _covered(sel: q.Selection) -> list[int]:
    return sorted({n for _run, nodes in sel.slices for n in nodes})


def comparison(session: Session, period: q.Period, nodes: frozenset[int], matcher: Matcher) -> dict[str, Any]:
    """Intensity figures with the benchmarks that apply to each row and the gap to them."""
    data = figures(session, period, nodes)
    year, product = period.year, q.INTENSITY_MATERIAL
    enterprise_row = data["enterprise"]
    enterprise_row["benchmarks"] = matcher.match(enterprise_row, data["nodes"], year, None, product)
    for row in data["by_plant"]:
        row["benchmarks"] = matcher.match(row, [row["id"]], year, None, product)
    for row in data["by_process"]:
        row["benchmarks"] = matcher.match(row, [row["organization_id"]], year, row["process"], row["product"])
    for row in data["by_year"]:
        row["benchmarks"] = matcher.match(row, row["nodes"], row["year"], None, product)
    data["benchmarks"] = matcher.applicable(data["nodes"], year) if data["nodes"] else []
    return data


def _first(row: dict[str, Any], scope: str) -> float | None:
    return next((b["value"] for b in row.get("benchmarks", ()) if b["scope"] == scope), None)


def chart_table(data: dict[str, Any], chart: str) -> tuple[str, list[str], list[list[Any]]]:
    """(sheet title, headers, rows) of one intensity chart; KeyError for an unknown chart."""
    per_t, direct, bench = _("Intensity (tCO2/t)"), _("Direct intensity (tCO2/t)"), _("Benchmark (tCO2/t)")
    if chart == "by_plant":
        return (_("Intensity by plant"), [_("Organisation"), _("Crude steel (t)"), _("tCO2"), per_t, direct, bench],
                [[r["name"], r["quantity_t"], r["total_tco2"], r["total_per_t"], r["direct_per_t"],
                  _first(r, "total")] for r in data["by_plant"]])
    if chart == "by_process":
        return (_("Intensity by process"),
                [_("Organisation"), _("Process"), _("Product"), _("Product (t)"), _("tCO2"), per_t, direct, bench],
                [[r["organization"], r["process"], r["product"], r["quantity_t"], r["total_tco2"], r["total_per_t"],
                  r["direct_per_t"], _first(r, "total")] for r in data["by_process"]])
    if chart == "by_year":
        return (_("Intensity by year"), [_("Year"), _("Crude steel (t)"), _("tCO2"), per_t, direct, bench],
                [[r["year"], r["quantity_t"], r["total_tco2"], r["total_per_t"], r["direct_per_t"],
                  _first(r, "total")] for r in data["by_year"]])
    if chart == "trend":
        return (_("Intensity by month"), [_("Month"), per_t, direct, _("Last year")],
                [[r["month"], r["value"], r["direct"], r["last_year"]] for r in data["trend"]])
    raise KeyError(chart)
