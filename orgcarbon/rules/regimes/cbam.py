"""EU CBAM for one installation: attributed emissions per production process and SEE per CN code.

From the same activity records as GB/T, with CBAM's rules (methodology.md §5; the official
communication template v2.1.1 for the waste-gas and electricity formulas):

- direct emissions of each record (calculation-based: fuels and process materials), **no**
  deduction of fixed-carbon products; each platform process's lines go to the production
  process(es) the installation's mapping names, in its shares (a coke plant to pig iron …);
  processes mapped as excluded (electricity production, outside the boundary) go nowhere;
- waste gases: a negative fuel record of BFG/COG/LDG (gas sent out) and every flow the settings
  declare are waste-gas exports; ``WG_corr,exp = TJ × EF_NG × Corr_η`` is deducted from the
  producing process, ``WG_corr,imp = TJ × EF_NG`` added to a consuming production process;
- ``AttrEm_dir = DirEm* + Em_H,imp − Em_H,exp + WG_corr,imp − WG_corr,exp``;
  ``AttrEm_indir = E_el × EF_el``;
- ``SEE = (AttrEm + Σ M_i × SEE_i) / AL`` over precursors (own production processes, recursively,
  and purchased ones with their supplier's SEE), direct and indirect alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from orgcarbon.rules.accounting import AccountingContext, compute
from orgcarbon.rules.factors import FactorLibrary, FactorNotFoundError, GridChoice
from orgcarbon.rules.model import category_from_label
from orgcarbon.rules.products import CRUDE_STEEL
from orgcarbon.rules.records import RecordRow, Records
from orgcarbon.rules.regimes.cbam_settings import (
    EXCLUDED_KINDS,
    Attribution,
    CbamInstallation,
    CbamProcess,
)
from orgcarbon.rules.regimes.definition import Evidence, Regime, RegimeError
from orgcarbon.rules.regimes.factor_set import FactorChoice, fallback_notes, regime_library
from orgcarbon.rules.regimes.national_ets import ExcludedRecord, numbered
from orgcarbon.rules.regimes.treatment import EXCLUDED, KEPT, PRODUCT, Treated, regime_model, treat
from orgcarbon.rules.results import Result
from orgcarbon.rules.units import default_units

__all__ = [
    "CbamLine",
    "CbamResult",
    "PrecursorUse",
    "ProcessResult",
    "ProductRow",
    "SourceStream",
    "WasteGasUse",
    "compute_cbam",
]

TJ_PER_GJ = 1e-3


@dataclass(frozen=True)
class CbamLine:
    """One record's direct emission and the production process share it is attributed to."""

    key: str
    row: int
    record_id: str | None
    site: str
    process: str
    subprocess: str
    month: str
    category: str
    material: str
    quantity: float  # in the material's unit
    unit: str
    activity: float
    activity_unit: str
    ef: float
    ef_unit: str
    tco2: float
    production_process: str
    share: float

    @property
    def attributed(self) -> float:
        """tCO2 of the record attributed to its production process (its share of the line)."""
        return self.tco2 * self.share


@dataclass(frozen=True)
class WasteGasUse:
    """One waste-gas transfer between production processes, with its corrections."""

    gas: str
    origin: str  # 活动记录 … / 设置
    from_process: str
    to_process: str
    exporter: str | None
    importer: str | None
    quantity: float
    unit: str
    ncv: float
    ncv_unit: str
    energy_tj: float
    corr_exp: float
    corr_imp: float


@dataclass(frozen=True)
class PrecursorUse:
    """A precursor consumed by a production process and the embedded emissions it brings."""

    source: str  # production process id or purchased precursor id
    name: str
    purchased: bool
    quantity_t: float
    see_direct: float
    see_indirect: float

    @property
    def embedded_direct(self) -> float:
        """M × SEE (direct)."""
        return self.quantity_t * self.see_direct

    @property
    def embedded_indirect(self) -> float:
        """M × SEE (indirect)."""
        return self.quantity_t * self.see_indirect


@dataclass(frozen=True)
class ProcessResult:
    """Every figure of one production process, from DirEm* to its SEE."""

    process: CbamProcess
    activity_level_t: float | None
    activity_basis: str
    dir_em_star: float
    by_platform_process: Mapping[str, float]
    wg_imported_tj: float
    wg_exported_tj: float
    wg_corr_imp: float
    wg_corr_exp: float
    heat_tco2: float
    attributed_direct: float
    electricity_mwh: float
    ef_el: float
    ef_source: str
    attributed_indirect: float
    precursors: tuple[PrecursorUse, ...]
    embedded_direct: float
    embedded_indirect: float
    see_direct: float | None
    see_indirect: float | None
    consumed_by: Mapping[str, float]  # other production process → t of this process's output

    @property
    def see_total(self) -> float | None:
        """SEE (direct) + SEE (indirect)."""
        if self.see_direct is None or self.see_indirect is None:
            return None
        return self.see_direct + self.see_indirect


@dataclass(frozen=True)
class ProductRow:
    """SEE per CN code: the production process's SEE, under which its goods are declared."""

    process_id: str
    process_name: str
    good: str
    route: str
    cn_code: str
    product: str
    see_direct: float | None
    see_indirect: float | None
    see_total: float | None
    electricity_mwh_per_t: float | None


@dataclass(frozen=True)
class SourceStream:
    """A source stream of the installation (B_EmInst row): AD, NCV, EF, OxF or conversion factor."""

    method: str  # Combustion | Process emissions
    name: str
    category: str
    ad: float
    ad_unit: str
    ncv: float | None
    ncv_unit: str
    ef: float
    ef_unit: str
    oxidation_pct: float | None
    conversion_pct: float | None
    tco2: float


@dataclass(frozen=True)
class CbamResult:
    """The installation's CBAM figures; ``total_tco2`` is the sum the reconciliation compares."""

    regime: Regime
    installation: CbamInstallation
    year: int | None
    organization: str
    processes: tuple[ProcessResult, ...]
    products: tuple[ProductRow, ...]
    lines: tuple[CbamLine, ...]
    waste_gases: tuple[WasteGasUse, ...]
    streams: tuple[SourceStream, ...]
    excluded: tuple[ExcludedRecord, ...]
    factor_choices: tuple[FactorChoice, ...]
    grid: GridChoice | None
    ef_el: float
    ef_source: str
    ef_note: str
    notes: tuple[str, ...]

    @property
    def total_direct(self) -> float:
        """Σ attributed direct emissions of the production processes."""
        return sum(p.attributed_direct for p in self.processes)

    @property
    def total_indirect(self) -> float:
        """Σ attributed indirect emissions of the production processes."""
        return sum(p.attributed_indirect for p in self.processes)

    @property
    def total_tco2(self) -> float:
        """Attributed direct + indirect: each production process once, precursors not added again."""
        return self.total_direct + self.total_indirect

    def contributions(self) -> dict[str, float]:
        """Attributed direct tCO2 of each record (all its shares), by record key."""
        found: dict[str, float] = {}
        for line in self.lines:
            if line.production_process:
                found[line.key] = found.get(line.key, 0.0) + line.attributed
        return found

    def adjustments(self) -> list[tuple[str, str, float]]:
        """(driver, label, tCO2) of what is not a record's line: waste gases, heat, electricity."""
        found: list[tuple[str, str, float]] = []
        for p in self.processes:
            pid = p.process.id
            if p.wg_corr_imp:
                found.append(("waste_gases", f"{pid} 废气输入（天然气当量）", p.wg_corr_imp))
            if p.wg_corr_exp:
                found.append(("waste_gases", f"{pid} 废气输出修正", -p.wg_corr_exp))
            if p.heat_tco2:
                found.append(("waste_gases", f"{pid} 可测热输入 − 输出", p.heat_tco2))
            if p.attributed_indirect:
                found.append(("indirect", f"{pid} 耗电 × 电力排放因子", p.attributed_indirect))
        return found


def _fixed_carbon_rows(rows: Sequence[RecordRow]) -> list[RecordRow]:
    return [
        r for r in rows if (category_from_label(r.category) or r.category) == "fixed_carbon_product"
    ]


def _excluded(
    t: Treated, year: int | None, reason: str, driver: str, evidence: Evidence | None
) -> ExcludedRecord:
    r = t.original
    month = r.month or (str(year) if year else "全期")
    return ExcludedRecord(
        t.key,
        r.row,
        r.id,
        r.site,
        r.process,
        r.subprocess,
        month,
        r.category,
        r.material,
        r.quantity,
        r.unit,
        reason,
        driver,
        evidence,
    )


class _Flows:
    """Waste-gas energy into and out of each production process."""

    def __init__(self, ef_ng: float, corr: float) -> None:
        self.ef_ng, self.corr = ef_ng, corr
        self.imported: dict[str, float] = {}
        self.exported: dict[str, float] = {}
        self.uses: list[WasteGasUse] = []

    def add(
        self,
        gas: str,
        origin: str,
        source: Attribution | None,
        target: Attribution | None,
        labels: tuple[str, str],
        quantity: float,
        unit: str,
        ncv: float,
        ncv_unit: str,
    ) -> list[str]:
        notes = []
        energy = quantity * ncv * TJ_PER_GJ
        sources = (
            list(source.shares.items())
            if source is not None and not source.excluded
            else [(None, 1.0)]
        )
        targets = (
            list(target.shares.items())
            if target is not None and not target.excluded
            else [(None, 1.0)]
        )
        for exporter, s_share in sources:
            for importer, t_share in targets:
                tj = energy * s_share * t_share
                if exporter is not None and exporter == importer:
                    notes.append(
                        f"{gas} {labels[0]} → {labels[1]}：同一生产过程 {exporter} 内部使用，不修正"
                    )
                    continue
                corr_exp = tj * self.ef_ng * self.corr if exporter else 0.0
                corr_imp = tj * self.ef_ng if importer else 0.0
                if exporter:
                    self.exported[exporter] = self.exported.get(exporter, 0.0) + tj
                if importer:
                    self.imported[importer] = self.imported.get(importer, 0.0) + tj
                self.uses.append(
                    WasteGasUse(
                        gas,
                        origin,
                        labels[0],
                        labels[1],
                        exporter,
                        importer,
                        quantity * s_share * t_share,
                        unit,
                        ncv,
                        ncv_unit,
                        tj,
                        corr_exp,
                        corr_imp,
                    )
                )
        return notes


def _electricity(
    regime: Regime, installation: CbamInstallation, library: FactorLibrary, ctx: AccountingContext
) -> tuple[float, str, str, GridChoice | None]:
    if installation.electricity_ef is not None:
        return (
            installation.electricity_ef,
            installation.electricity_source or "D.4(b)",
            installation.electricity_note or "组织设置给出的电力排放因子",
            None,
        )
    spec = regime.sections.get("electricity") or {}
    if ctx.year is None:
        raise RegimeError("CBAM：未给出核算年份，无法选择电力排放因子")
    try:
        grid = library.grid_factor(
            str(spec.get("region") or "全国"), ctx.year, regime=str(spec.get("regime") or "")
        )
    except FactorNotFoundError as exc:
        raise RegimeError(f"CBAM：{exc}；请在装置设置的 electricity.ef 中给出电力排放因子") from exc
    note = f"{spec.get('note', '')}；{grid.note}".strip("；")
    return grid.factor.value, str(spec.get("source_code") or "D.4(b)"), note, grid


def _activity_level(
    process: CbamProcess,
    result: Result | None,
    fixed_rows: Sequence[RecordRow],
    installation: CbamInstallation,
    templates: Mapping[str, str],
    ctx: AccountingContext,
) -> tuple[float | None, str]:
    def mapped(site: str, name: str) -> bool:
        a = installation.attribution(site, name, templates.get(name))
        return a is not None and process.id in a.shares

    outputs = [
        p
        for p in (result.products if result is not None else ())
        if p.material in process.products and mapped(p.site, p.process)
    ]
    if outputs:
        return sum(p.quantity_t for p in outputs), "产品产量记录"
    units = ctx.units or default_units()
    # Only crude steel stands for an output among fixed-carbon records (GB/T deducts all of it; pig
    # iron only for what leaves the boundary): see orgcarbon.rules.products.
    fixed = [
        r
        for r in fixed_rows
        if r.material == CRUDE_STEEL
        and r.material in process.products
        and mapped(r.site, r.process)
    ]
    if fixed:
        return sum(
            float(units.convert(r.quantity, r.unit, "t")) for r in fixed
        ), "固碳产品（粗钢）记录"
    if process.activity_level_t is not None:
        return process.activity_level_t, "装置设置声明"
    return None, "无产量数据"


def compute_cbam(
    regime: Regime,
    installation: CbamInstallation,
    rows: Sequence[RecordRow],
    library: FactorLibrary,
    context: AccountingContext | None = None,
    templates: Mapping[str, str] | None = None,
) -> CbamResult:
    """Account the installation's records under CBAM; raise ``RegimeError``/``AccountingError`` if unfit."""
    if regime.kind != "cbam":
        raise RegimeError(f"口径“{regime.name}”不是 CBAM 口径")
    ctx = context or AccountingContext()
    templates = templates or {}
    year = ctx.year
    units = ctx.units or default_units()
    rows = numbered(rows)
    wg = regime.sections.get("waste_gases") or {}
    wg_materials = set(wg.get("materials") or ())
    wg_evidence = Evidence(
        str((wg.get("evidence") or {}).get("grade", "D")),
        str((wg.get("evidence") or {}).get("basis", "")),
    )
    flows = _Flows(regime.constant("ef_natural_gas").value, regime.constant("corr_eta").value)
    chosen = regime_library(library, regime.key, regime.factor_set)
    notes: list[str] = []

    def ncv_of(gas: str, given: float | None) -> tuple[float, str]:
        material = chosen.library.material(gas)
        unit = material.unit if material is not None else ""
        if given is not None:
            return given, f"GJ/{unit}"
        factor = chosen.library.find("ncv", gas, on=ctx.on)
        if factor is None:
            raise RegimeError(f"CBAM：因子库中没有废气“{gas}”的低位发热量；请在废气设置中给出 ncv")
        return factor.value, factor.unit

    accounted: list[tuple[Treated, Attribution]] = []
    excluded: list[ExcludedRecord] = []
    products: list[RecordRow] = []
    for t in treat(regime, rows):
        r = t.original
        if t.action == PRODUCT:
            products.append(r)
            continue
        if t.action == EXCLUDED:
            excluded.append(_excluded(t, year, t.reason, t.driver, t.evidence))
            continue
        attribution = installation.attribution(r.site, r.process, templates.get(r.process))
        if attribution is None:
            excluded.append(
                _excluded(
                    t,
                    year,
                    f"工序“{r.process}”未映射到 CBAM 生产过程，视为装置边界外",
                    "boundaries",
                    Evidence("U", "组织设置中没有此工序的映射"),
                )
            )
            continue
        if attribution.excluded:
            excluded.append(
                _excluded(
                    t,
                    year,
                    attribution.reason or EXCLUDED_KINDS[attribution.excluded],
                    "boundaries",
                    attribution.evidence,
                )
            )
            continue
        if (
            t.action == KEPT
            and t.row is not None
            and t.row.material in wg_materials
            and t.row.quantity < 0
        ):
            material = chosen.library.material(r.material)
            unit = material.unit if material is not None else r.unit
            quantity = float(units.convert(-r.quantity, r.unit, unit))
            ncv, ncv_unit = ncv_of(r.material, r.ncv)
            notes += flows.add(
                r.material,
                f"活动记录 {t.key}",
                attribution,
                None,
                (r.process, "装置外"),
                quantity,
                unit,
                ncv,
                ncv_unit,
            )
            excluded.append(
                _excluded(
                    t,
                    year,
                    str(wg.get("reason") or "外供废气按 CBAM 废气规则处理"),
                    str(wg.get("driver") or "waste_gases"),
                    wg_evidence,
                )
            )
            continue
        accounted.append((t, attribution))

    for flow in installation.waste_gases:
        material = chosen.library.material(flow.gas)
        if material is None:
            raise RegimeError(f"CBAM：未知废气物料“{flow.gas}”")
        quantity = float(units.convert(flow.quantity, flow.unit, material.unit))
        ncv, ncv_unit = ncv_of(flow.gas, flow.ncv)
        source = installation.attribution("", flow.from_process, templates.get(flow.from_process))
        target = (
            installation.attribution("", flow.to_process, templates.get(flow.to_process))
            if flow.to_process
            else None
        )
        if source is None:
            raise RegimeError(f"CBAM：废气来源工序“{flow.from_process}”没有映射")
        notes += flows.add(
            flow.gas,
            "装置设置",
            source,
            target,
            (flow.from_process, flow.to_process or "装置外"),
            quantity,
            material.unit,
            ncv,
            ncv_unit,
        )

    records = [t.row for t, _ in accounted if t.row is not None] + products
    result = (
        compute(
            regime_model(regime),
            Records.from_rows(records),
            chosen.library,
            replace(ctx, regime=regime.key),
        )
        if records
        else None
    )
    by_row = {t.original.row: (t, a) for t, a in accounted}
    lines: list[CbamLine] = []
    used: dict[tuple[str, str], FactorChoice] = {}
    for eline in result.lines if result is not None else ():
        t, attribution = by_row[eline.row]
        r = t.row if t.row is not None else t.original
        material = library.material(eline.material)
        unit = material.unit if material is not None else r.unit
        quantity = float(units.convert(r.quantity, r.unit, unit))
        for pid, share in attribution.shares.items():
            lines.append(
                CbamLine(
                    key=t.key,
                    row=eline.row,
                    record_id=eline.record_id,
                    site=eline.site,
                    process=eline.process,
                    subprocess=eline.subprocess,
                    month=eline.month or (str(year) if year else ""),
                    category=eline.category,
                    material=eline.material,
                    quantity=quantity,
                    unit=unit,
                    activity=eline.activity,
                    activity_unit=eline.activity_unit,
                    ef=eline.ef,
                    ef_unit=eline.ef_unit,
                    tco2=eline.net_tco2,
                    production_process=pid,
                    share=share,
                )
            )
        ids = {f.id for f in eline.factors}
        kinds = ("ncv", "cc", "of") if eline.category == "fuel_combustion" else ("process",)
        for kind in kinds:
            choice = chosen.choice(kind, eline.material)
            if choice is not None and choice.factor_id in ids:
                used[(kind, eline.material)] = choice

    ef_el, ef_source, ef_note, grid = _electricity(regime, installation, library, ctx)
    fixed_rows = _fixed_carbon_rows(rows)
    partial: dict[str, dict[str, Any]] = {}
    for process in installation.processes:
        pid = process.id
        mine = [line for line in lines if line.production_process == pid]
        by_platform: dict[str, float] = {}
        for line in mine:
            label = f"{line.site}/{line.process}" if line.site else line.process
            by_platform[label] = by_platform.get(label, 0.0) + line.attributed
        dir_em = sum(line.attributed for line in mine)
        imported, exported = flows.imported.get(pid, 0.0), flows.exported.get(pid, 0.0)
        corr_imp, corr_exp = imported * flows.ef_ng, exported * flows.ef_ng * flows.corr
        heat = process.heat
        heat_tco2 = (
            heat.imported_tj * heat.imported_ef - heat.exported_tj * heat.exported_ef
            if heat
            else 0.0
        )
        al, basis = _activity_level(process, result, fixed_rows, installation, templates, ctx)
        ef = process.electricity_ef if process.electricity_ef is not None else ef_el
        partial[pid] = {
            "al": al,
            "basis": basis,
            "dir_em": dir_em,
            "by_platform": by_platform,
            "imp": imported,
            "exp": exported,
            "corr_imp": corr_imp,
            "corr_exp": corr_exp,
            "heat": heat_tco2,
            "attr_dir": dir_em + corr_imp - corr_exp + heat_tco2,
            "ef": ef,
            "ef_source": ef_source if process.electricity_ef is None else "组织设置（该生产过程）",
            "attr_ind": process.electricity_mwh * ef,
        }
        if partial[pid]["attr_dir"] < 0:
            notes.append(
                f"生产过程 {pid} 的归属直接排放为负（{partial[pid]['attr_dir']:,.2f} tCO2）："
                "请检查废气流向与工序映射（GB/T 净消耗量数据把煤气的碳记在焦炭、煤上）"
            )

    purchased_use = _purchased_consumption(installation, rows, templates, units)
    see: dict[str, tuple[float | None, float | None]] = {}
    results: dict[str, ProcessResult] = {}

    def solve(pid: str, path: tuple[str, ...]) -> tuple[float | None, float | None]:
        if pid in see:
            return see[pid]
        if pid in path:
            raise RegimeError(f"CBAM：前体关系成环（{' → '.join((*path, pid))}）")
        process, data = installation.process(pid), partial[pid]
        uses = []
        for source, quantity in process.precursors:
            s_dir, s_ind = solve(source, (*path, pid))
            if s_dir is None or s_ind is None:
                raise RegimeError(
                    f"CBAM：生产过程 {pid} 消耗的前体 {source} 没有产量，无法计算其 SEE"
                )
            uses.append(
                PrecursorUse(
                    source, installation.process(source).name_zh, False, quantity, s_dir, s_ind
                )
            )
        for pp in installation.purchased:
            quantity = purchased_use.get((pp.id, pid), 0.0)
            if quantity:
                uses.append(
                    PrecursorUse(
                        pp.id,
                        pp.name,
                        True,
                        quantity,
                        pp.see_direct,
                        pp.electricity_mwh_per_t * pp.ef_el,
                    )
                )
        embedded_dir = data["attr_dir"] + sum(u.embedded_direct for u in uses)
        embedded_ind = data["attr_ind"] + sum(u.embedded_indirect for u in uses)
        al = data["al"]
        see[pid] = (embedded_dir / al, embedded_ind / al) if al else (None, None)
        consumed_by = {p.id: q for p in installation.processes for s, q in p.precursors if s == pid}
        results[pid] = ProcessResult(
            process=process,
            activity_level_t=al,
            activity_basis=data["basis"],
            dir_em_star=data["dir_em"],
            by_platform_process=data["by_platform"],
            wg_imported_tj=data["imp"],
            wg_exported_tj=data["exp"],
            wg_corr_imp=data["corr_imp"],
            wg_corr_exp=data["corr_exp"],
            heat_tco2=data["heat"],
            attributed_direct=data["attr_dir"],
            electricity_mwh=process.electricity_mwh,
            ef_el=data["ef"],
            ef_source=data["ef_source"],
            attributed_indirect=data["attr_ind"],
            precursors=tuple(uses),
            embedded_direct=embedded_dir,
            embedded_indirect=embedded_ind,
            see_direct=see[pid][0],
            see_indirect=see[pid][1],
            consumed_by=consumed_by,
        )
        return see[pid]

    for process in installation.processes:
        solve(process.id, ())
    ordered = tuple(results[p.id] for p in installation.processes)
    product_rows = tuple(
        ProductRow(
            p.process.id,
            p.process.name,
            p.process.good,
            p.process.route,
            cn.code,
            cn.product,
            p.see_direct,
            p.see_indirect,
            p.see_total,
            _embedded_electricity(p, results, installation, purchased_use),
        )
        for p in ordered
        for cn in p.process.cn
    )
    for p in ordered:
        if p.activity_level_t is None:
            notes.append(
                f"生产过程 {p.process.id} 没有产量（产品产量记录、固碳产品记录或设置声明均无），未计算 SEE"
            )
    return CbamResult(
        regime=regime,
        installation=installation,
        year=year,
        organization=ctx.organization,
        processes=ordered,
        products=product_rows,
        lines=tuple(lines),
        waste_gases=tuple(flows.uses),
        streams=_streams(lines),
        excluded=tuple(excluded),
        factor_choices=tuple(used.values()),
        grid=grid,
        ef_el=ef_el,
        ef_source=ef_source,
        ef_note=ef_note,
        notes=tuple(dict.fromkeys([*fallback_notes(used.values()), *notes])),
    )


def _purchased_consumption(
    installation: CbamInstallation,
    rows: Sequence[RecordRow],
    templates: Mapping[str, str],
    units: Any,
) -> dict[tuple[str, str], float]:
    """t of each purchased precursor consumed by each production process (settings, else records)."""
    found: dict[tuple[str, str], float] = {}
    for pp in installation.purchased:
        if pp.consumed:
            for pid, quantity in pp.consumed.items():
                found[(pp.id, pid)] = quantity
            continue
        for r in rows:
            if (
                r.material != pp.material
                or (category_from_label(r.category) or r.category) != "process_raw_material"
            ):
                continue
            attribution = installation.attribution(r.site, r.process, templates.get(r.process))
            if attribution is None or attribution.excluded:
                continue
            tonnes = float(units.convert(r.quantity, r.unit, "t"))
            for pid, share in attribution.shares.items():
                found[(pp.id, pid)] = found.get((pp.id, pid), 0.0) + tonnes * share
    return found


def _embedded_electricity(
    p: ProcessResult,
    results: Mapping[str, ProcessResult],
    installation: CbamInstallation,
    purchased: Mapping[tuple[str, str], float],
) -> float | None:
    """MWh of electricity embedded per t (own consumption and precursors', recursively)."""
    if not p.activity_level_t:
        return None
    mwh = p.electricity_mwh
    for source, quantity in p.process.precursors:
        upstream = _embedded_electricity(results[source], results, installation, purchased)
        mwh += quantity * (upstream or 0.0)
    for pp in installation.purchased:
        mwh += purchased.get((pp.id, p.process.id), 0.0) * pp.electricity_mwh_per_t
    return mwh / p.activity_level_t


def _streams(lines: Sequence[CbamLine]) -> tuple[SourceStream, ...]:
    """Source streams of the lines inside the boundary, one per (category, material)."""
    groups: dict[tuple[str, str], list[CbamLine]] = {}
    seen: set[tuple[str, str]] = set()
    for line in lines:
        # A record split over several production processes is one source stream: count it once.
        if (line.key, line.material) in seen:
            continue
        seen.add((line.key, line.material))
        groups.setdefault((line.category, line.material), []).append(line)
    streams = []
    for (category, material), group in groups.items():
        ad = sum(line.quantity for line in group)
        activity = sum(line.activity for line in group)
        tco2 = sum(line.tco2 for line in group)
        unit = group[0].unit
        scale = 10.0 if unit == "10^4Nm3" else 1.0  # the template counts gases in 1000 Nm3
        ad_unit = "1000Nm3" if unit == "10^4Nm3" else unit
        if category == "fuel_combustion":
            ncv = activity / ad / scale if ad else None
            streams.append(
                SourceStream(
                    "Combustion",
                    material,
                    category,
                    ad * scale,
                    ad_unit,
                    ncv,
                    f"GJ/{ad_unit}",
                    tco2 / activity * 1000 if activity else 0.0,
                    "tCO2/TJ",
                    100.0,
                    None,
                    tco2,
                )
            )
        else:
            streams.append(
                SourceStream(
                    "Process emissions",
                    material,
                    category,
                    ad,
                    ad_unit,
                    None,
                    "",
                    group[0].ef,
                    f"tCO2/{ad_unit}",
                    None,
                    activity / ad * 100 if ad else None,
                    tco2,
                )
            )
    return tuple(streams)
