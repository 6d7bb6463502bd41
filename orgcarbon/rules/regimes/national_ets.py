"""The national carbon market's steel accounting: direct emissions at enterprise and process level.

Enterprise level: 燃料燃烧 + 过程 − 含碳产品 over every record of the organisation (indirect
emissions excluded, sold tar and benzene reclassified as carbon-bearing products), with the
regime's factor set. Process level: the same lines grouped by the regime's process types (焦化,
烧结 … 掺烧自产二次能源的化石燃料发电设施, 其他), so the summary table adds up exactly:
企业层级 = 工序层级 + 发电设施 + 其他. Monthly figures and the key parameters of every fuel and
material (measured or default, with the factor's grade) come with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from orgcarbon.rules.accounting import AccountingContext, compute
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.records import RecordRow, Records
from orgcarbon.rules.regimes.definition import Evidence, Regime, RegimeError
from orgcarbon.rules.regimes.factor_set import FactorChoice, fallback_notes, regime_library
from orgcarbon.rules.regimes.settings import process_type_of
from orgcarbon.rules.regimes.treatment import EXCLUDED, Treated, regime_model, treat
from orgcarbon.rules.results import FactorUse, Result
from orgcarbon.rules.units import default_units

__all__ = [
    "EtsLine",
    "EtsResult",
    "ExcludedRecord",
    "ParameterRow",
    "ProcessRow",
    "SummaryRow",
    "compute_national_ets",
    "numbered",
]

PARAMETER_LABELS = {
    "ncv": "低位发热量",
    "cc": "单位热值含碳量",
    "of": "碳氧化率",
    "ef": "排放因子",
    "purity": "纯度",
}


def numbered(rows: Sequence[RecordRow]) -> list[RecordRow]:
    """The rows with their row number set (1-based position where none was given)."""
    return [r if r.row else replace(r, row=i) for i, r in enumerate(rows, start=1)]


@dataclass(frozen=True)
class EtsLine:
    """One accounted record under the regime, with its process type and lineage."""

    key: str
    row: int
    record_id: str | None
    site: str
    process: str
    subprocess: str
    month: str
    category: str
    original_category: str
    material: str
    activity: float
    activity_unit: str
    ef: float
    ef_unit: str
    tco2: float
    net_tco2: float
    process_type: str
    mapped_by: str
    action: str  # kept | reclassified
    reason: str
    factors: tuple[FactorUse, ...]
    measured: tuple[str, ...]


@dataclass(frozen=True)
class ExcludedRecord:
    """A record the regime does not count, and why."""

    key: str
    row: int
    record_id: str | None
    site: str
    process: str
    subprocess: str
    month: str
    category: str
    material: str
    quantity: float
    unit: str
    reason: str
    driver: str
    evidence: Evidence | None


@dataclass(frozen=True)
class SummaryRow:
    """One line of a summary: tCO2 in total and by month."""

    key: str
    name: str
    tco2: float
    by_month: Mapping[str, float]


@dataclass(frozen=True)
class ProcessRow:
    """Emissions and outputs of one production line (sub-process) of one process type."""

    process_type: str
    process_type_name: str
    level: str
    site: str
    process: str
    subprocess: str
    mapped_by: str
    tco2: float
    by_month: Mapping[str, float]
    products: tuple[tuple[str, float], ...]  # (material, t) from product-output records


@dataclass(frozen=True)
class ParameterRow:
    """The key parameters of one accounted line: quantity, NCV/CC/OF/EF/purity and their source."""

    key: str
    record_id: str | None
    month: str
    site: str
    process: str
    subprocess: str
    material: str
    category: str
    quantity: float
    unit: str
    values: Mapping[str, Mapping[str, Any]]  # parameter → value, unit, measured, source, grade
    ef: float
    ef_unit: str
    tco2: float


@dataclass(frozen=True)
class EtsResult:
    """Everything the national carbon market view, API and workbook show."""

    regime: Regime
    year: int | None
    organization: str
    months: tuple[str, ...]
    total_tco2: float
    by_term: Mapping[str, float]
    summary: tuple[SummaryRow, ...]
    by_type: tuple[SummaryRow, ...]
    process_rows: tuple[ProcessRow, ...]
    lines: tuple[EtsLine, ...]
    excluded: tuple[ExcludedRecord, ...]
    parameters: tuple[ParameterRow, ...]
    factor_choices: tuple[FactorChoice, ...]
    notes: tuple[str, ...] = ()
    crude_steel_t: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def contributions(self) -> dict[str, float]:
        """Signed tCO2 of each accounted record, by record key."""
        found: dict[str, float] = {}
        for line in self.lines:
            found[line.key] = found.get(line.key, 0.0) + line.net_tco2
        return found

    def summary_value(self, key: str) -> float:
        """tCO2 of the summary row ``key``."""
        return next(s.tco2 for s in self.summary if s.key == key)


def _month(label: str, year: int | None) -> str:
    return label or (str(year) if year else "全期")


def _add(target: dict[str, float], month: str, value: float) -> None:
    target[month] = target.get(month, 0.0) + value


def _parameters(line: Any, original: RecordRow, unit: str) -> dict[str, dict[str, Any]]:
    """Each parameter of the line: the measured value on the record, else the factor used."""
    values: dict[str, dict[str, Any]] = {}
    factors = {f.name.rsplit("/", 1)[-1]: f for f in line.factors}
    names = ("ncv", "cc", "of") if line.category == "fuel_combustion" else ("ef", "purity")
    units = {"ncv": f"GJ/{unit}", "cc": "tC/GJ", "of": "1", "ef": f"tCO2/{unit}", "purity": "1"}
    for name in names:
        measured = getattr(original, name)
        if name in line.measured and measured is not None:
            values[name] = {
                "label": PARAMETER_LABELS[name],
                "value": float(measured),
                "unit": units[name],
                "measured": True,
                "source": "实测值（活动记录）",
                "grade": "",
                "factor_id": None,
            }
            continue
        factor = factors.get(name) or (
            next((f for k, f in factors.items() if k not in ("ncv", "cc", "of")), None)
            if name == "ef"
            else None
        )
        if factor is not None:
            values[name] = {
                "label": PARAMETER_LABELS[name],
                "value": factor.value,
                "unit": factor.unit,
                "measured": False,
                "source": factor.source,
                "grade": factor.grade,
                "factor_id": factor.id,
            }
        elif name == "purity":
            values[name] = {
                "label": PARAMETER_LABELS[name],
                "value": 1.0,
                "unit": "1",
                "measured": False,
                "source": "缺省（纯度 1）",
                "grade": "",
                "factor_id": None,
            }
    return values


def _excluded(t: Treated, year: int | None) -> ExcludedRecord:
    r = t.original
    return ExcludedRecord(
        t.key,
        r.row,
        r.id,
        r.site,
        r.process,
        r.subprocess,
        _month(r.month, year),
        r.category,
        r.material,
        r.quantity,
        r.unit,
        t.reason,
        t.driver,
        t.evidence,
    )


def compute_national_ets(
    regime: Regime,
    rows: Sequence[RecordRow],
    library: FactorLibrary,
    context: AccountingContext | None = None,
    overrides: Mapping[str, str] | None = None,
    templates: Mapping[str, str] | None = None,
) -> EtsResult:
    """Account ``rows`` under the national carbon market regime; raise ``AccountingError`` on bad rows.

    ``overrides`` is the organisation's process mapping (``site/process`` or ``process`` → type);
    ``templates`` the process template of each platform process name (for the default mapping).
    """
    if regime.kind != "direct":
        raise RegimeError(f"口径“{regime.name}”不是直接排放口径")
    ctx = context or AccountingContext()
    year = ctx.year
    treated = treat(regime, numbered(rows))
    by_row = {t.original.row: t for t in treated}
    accounted = [t.row for t in treated if t.row is not None]
    chosen = regime_library(library, regime.key, regime.factor_set)
    result: Result | None = None
    if accounted:
        result = compute(
            regime_model(regime),
            Records.from_rows(accounted),
            chosen.library,
            replace(ctx, regime=regime.key),
        )
    units = ctx.units or default_units()
    overrides = overrides or {}
    templates = templates or {}
    types = {t.key: t for t in regime.process_types}

    lines: list[EtsLine] = []
    parameters: list[ParameterRow] = []
    used: dict[tuple[str, str], FactorChoice] = {}
    for eline in result.lines if result is not None else ():
        t = by_row[eline.row]
        accounted_row = t.row if t.row is not None else t.original
        ptype, mapped_by = process_type_of(
            regime, overrides, eline.site, eline.process, templates.get(eline.process)
        )
        month = _month(eline.month, year)
        lines.append(
            EtsLine(
                key=t.key,
                row=eline.row,
                record_id=eline.record_id,
                site=eline.site,
                process=eline.process,
                subprocess=eline.subprocess,
                month=month,
                category=eline.category,
                original_category=t.original.category,
                material=eline.material,
                activity=eline.activity,
                activity_unit=eline.activity_unit,
                ef=eline.ef,
                ef_unit=eline.ef_unit,
                tco2=eline.tco2,
                net_tco2=eline.net_tco2,
                process_type=ptype,
                mapped_by=mapped_by,
                action=t.action,
                reason=t.reason,
                factors=eline.factors,
                measured=eline.measured,
            )
        )
        material = library.material(eline.material)
        unit = material.unit if material is not None else accounted_row.unit
        quantity = float(units.convert(accounted_row.quantity, accounted_row.unit, unit))
        parameters.append(
            ParameterRow(
                key=t.key,
                record_id=eline.record_id,
                month=month,
                site=eline.site,
                process=eline.process,
                subprocess=eline.subprocess,
                material=eline.material,
                category=eline.category,
                quantity=quantity,
                unit=unit,
                values=_parameters(eline, accounted_row, unit),
                ef=eline.ef,
                ef_unit=eline.ef_unit,
                tco2=eline.tco2,
            )
        )
        ids = {f.id for f in eline.factors}
        for kind in (
            ("ncv", "cc", "of") if eline.category == "fuel_combustion" else (_kind(eline.category),)
        ):
            choice = chosen.choice(kind, eline.material)
            if choice is not None and choice.factor_id in ids:
                used[(kind, eline.material)] = choice

    months = tuple(
        sorted({line.month for line in lines} | {_month(p.month, year) for p in _products(result)})
    )
    by_type_month: dict[str, dict[str, float]] = {t.key: {} for t in regime.process_types}
    for line in lines:
        _add(by_type_month.setdefault(line.process_type, {}), line.month, line.net_tco2)
    by_type = tuple(
        SummaryRow(
            t.key,
            t.name,
            sum(by_type_month.get(t.key, {}).values()),
            dict(by_type_month.get(t.key, {})),
        )
        for t in regime.process_types
    )
    total = sum(line.net_tco2 for line in lines)
    enterprise: dict[str, float] = {}
    for line in lines:
        _add(enterprise, line.month, line.net_tco2)
    levels: dict[str, dict[str, float]] = {"process": {}, "captive_power": {}, "other": {}}
    for row in by_type:
        level = types[row.key].level
        for month, value in row.by_month.items():
            _add(levels[level], month, value)
    names = dict(regime.summary) or {
        "enterprise": "企业层级排放总量",
        "process": "工序层级排放总量",
        "captive_power": "发电设施排放总量",
        "other": "其他排放总量",
    }
    summary = (
        SummaryRow("enterprise", names.get("enterprise", "企业层级排放总量"), total, enterprise),
        *(
            SummaryRow(level, names.get(level, level), sum(v.values()), v)
            for level, v in levels.items()
        ),
    )

    process_rows = _process_rows(lines, result, regime, overrides, templates, year)
    by_term = {"fuel_combustion": 0.0, "process": 0.0, "fixed_carbon": 0.0}
    if result is not None:
        by_term = {k: result.by_category.get(k, 0.0) for k in by_term}
    notes = fallback_notes(used.values())
    return EtsResult(
        regime=regime,
        year=year,
        organization=ctx.organization,
        months=months,
        total_tco2=total,
        by_term=by_term,
        summary=summary,
        by_type=by_type,
        process_rows=process_rows,
        lines=tuple(lines),
        excluded=tuple(_excluded(t, year) for t in treated if t.action == EXCLUDED),
        parameters=tuple(parameters),
        factor_choices=tuple(used.values()),
        notes=tuple(notes),
        crude_steel_t=result.intensity.quantity_t
        if result is not None and result.intensity
        else None,
    )


def _kind(category: str) -> str:
    return {
        "fixed_carbon_product": "fixed_carbon",
        "process_flux": "process",
        "process_electrode": "process",
        "process_raw_material": "process",
    }.get(category, "")


def _products(result: Result | None) -> tuple[Any, ...]:
    return result.products if result is not None else ()


def _process_rows(
    lines: Sequence[EtsLine],
    result: Result | None,
    regime: Regime,
    overrides: Mapping[str, str],
    templates: Mapping[str, str],
    year: int | None,
) -> tuple[ProcessRow, ...]:
    """One row per (process type, site, process, sub-process), lines and product outputs together."""
    emissions: dict[tuple[str, str, str], dict[str, float]] = {}
    for line in lines:
        _add(
            emissions.setdefault((line.site, line.process, line.subprocess), {}),
            line.month,
            line.net_tco2,
        )
    outputs: dict[tuple[str, str, str], dict[str, float]] = {}
    for p in _products(result):
        found = outputs.setdefault((p.site, p.process, p.subprocess), {})
        found[p.material] = found.get(p.material, 0.0) + p.quantity_t
    types = {t.key: t for t in regime.process_types}
    rows = []
    for site, process, subprocess in dict.fromkeys([*emissions, *outputs]):
        ptype, mapped_by = process_type_of(regime, overrides, site, process, templates.get(process))
        by_month = emissions.get((site, process, subprocess), {})
        kind = types.get(ptype)
        rows.append(
            ProcessRow(
                process_type=ptype,
                process_type_name=kind.name if kind else ptype,
                level=kind.level if kind else "other",
                site=site,
                process=process,
                subprocess=subprocess,
                mapped_by=mapped_by,
                tco2=sum(by_month.values()),
                by_month=dict(by_month),
                products=tuple(sorted(outputs.get((site, process, subprocess), {}).items())),
            )
        )
    order = {t.key: i for i, t in enumerate(regime.process_types)}
    return tuple(
        sorted(
            rows,
            key=lambda r: (order.get(r.process_type, len(order)), r.site, r.process, r.subprocess),
        )
    )
