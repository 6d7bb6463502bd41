"""A CBAM installation as the organisation describes it: production processes, mapping, flows.

Everything the activity records do not hold is here, as data the organisation maintains: which
platform process feeds which CBAM production process (and in what share), the CN codes and
products, the electricity each production process consumes, waste gases passed between processes,
precursors consumed, and purchased precursors with their supplier's embedded emissions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orgcarbon.rules.regimes.definition import Evidence, Regime, RegimeError

__all__ = [
    "EXCLUDED_KINDS",
    "Attribution",
    "CbamInstallation",
    "CbamProcess",
    "CnCode",
    "Heat",
    "PurchasedPrecursor",
    "WasteGasFlow",
    "installation_from_dict",
]

EXCLUDED_KINDS = {
    "electricity": "电力生产（不是 CBAM 生产过程）",
    "boundary": "装置边界外",
    "non_cbam": "非 CBAM 货物",
}
MAX_PROCESSES = 10  # D_Processes of the official template has 10 blocks
MAX_PURCHASED = 20  # E_PurchPrec has 20
_CN = re.compile(r"^\d{8}$")
_SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class CnCode:
    """A CN code the production process's goods are declared under, and the product's name."""

    code: str
    product: str


@dataclass(frozen=True)
class Heat:
    """Measurable heat imported into / exported from a production process (TJ, tCO2/TJ)."""

    imported_tj: float = 0.0
    imported_ef: float = 0.0
    exported_tj: float = 0.0
    exported_ef: float = 0.0


@dataclass(frozen=True)
class CbamProcess:
    """One CBAM production process (P1 …): its good, route, products and installation data."""

    id: str
    name: str
    name_zh: str
    good: str
    route: str
    products: tuple[str, ...]  # materials whose output records give the activity level
    cn: tuple[CnCode, ...]
    electricity_mwh: float
    activity_level_t: float | None  # declared, used only when no record gives the output
    market_t: float | None  # produced for the market (D_Processes (b))
    precursors: tuple[tuple[str, float], ...]  # (production process id, t consumed)
    heat: Heat | None
    electricity_ef: float | None  # overrides the installation's EF for this process


@dataclass(frozen=True)
class Attribution:
    """Where a platform process's emissions go: shares of production processes, or excluded."""

    key: str  # "process" or "site/process" or a process template name
    shares: Mapping[str, float]
    excluded: str  # "" or one of EXCLUDED_KINDS
    reason: str
    evidence: Evidence


@dataclass(frozen=True)
class WasteGasFlow:
    """Waste gas passed from one platform process to another (or out of the installation)."""

    gas: str
    from_process: str
    to_process: str  # "" means out of the installation
    quantity: float
    unit: str
    ncv: float | None


@dataclass(frozen=True)
class PurchasedPrecursor:
    """A precursor bought in, with its embedded emissions as the supplier (or a default) gives them."""

    id: str
    name: str
    good: str
    route: str
    country: str
    material: (
        str  # the activity records of this material give the amounts consumed, if no ``consumed``
    )
    consumed: Mapping[str, float]  # production process id → t
    see_direct: float
    electricity_mwh_per_t: float
    ef_el: float
    source: str  # e.g. 供应商数据 / 缺省值
    justification: str
    evidence: Evidence


@dataclass(frozen=True)
class CbamInstallation:
    """Everything an organisation tells about its CBAM installation."""

    details: Mapping[str, Any]
    processes: tuple[CbamProcess, ...]
    attributions: tuple[Attribution, ...]
    waste_gases: tuple[WasteGasFlow, ...]
    purchased: tuple[PurchasedPrecursor, ...]
    electricity_ef: float | None
    electricity_source: str
    electricity_note: str
    note: str = ""

    def process(self, pid: str) -> CbamProcess:
        """The production process ``pid``."""
        return next(p for p in self.processes if p.id == pid)

    def attribution(
        self, site: str, process: str, template: str | None = None
    ) -> Attribution | None:
        """The mapping of a platform process: by ``site/process``, ``process``, then its template."""
        by_key = {a.key: a for a in self.attributions}
        for key in (f"{site}/{process}", process, template or ""):
            if key in by_key:
                return by_key[key]
        return None


def _number(
    value: Any, where: str, *, optional: bool = False, minimum: float | None = 0.0
) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RegimeError(f"{where} 应为数字")
    if minimum is not None and value < minimum:
        raise RegimeError(f"{where} 不能小于 {minimum:g}")
    return float(value)


def _process(
    data: Mapping[str, Any], goods: Mapping[str, Mapping[str, Any]], where: str
) -> CbamProcess:
    pid = str(data.get("id") or "")
    if not pid:
        raise RegimeError(f"{where}：生产过程缺少 id")
    at = f"{where} 生产过程 {pid}"
    good = str(data.get("good") or "")
    if good not in goods:
        raise RegimeError(f"{at}：货物类别 good 应为 {'、'.join(goods)} 之一")
    route = str(data.get("route") or "")
    routes = [str(r) for r in goods[good].get("routes") or ()]
    if route and route not in routes:
        raise RegimeError(
            f"{at}：生产路线 {route} 不属于 {good}（{'、'.join(routes) or '无路线'}）"
        )
    cn = []
    for item in data.get("cn") or ():
        code = str(item.get("code") or "").replace(" ", "")
        if not _CN.match(code):
            raise RegimeError(f"{at}：CN 编码 {item.get('code')} 应为 8 位数字")
        cn.append(CnCode(code, str(item.get("product") or "")))
    heat = data.get("heat")
    return CbamProcess(
        id=pid,
        name=str(data.get("name") or pid),
        name_zh=str(data.get("name_zh") or data.get("name") or pid),
        good=good,
        route=route,
        products=tuple(str(p) for p in data.get("products") or ()),
        cn=tuple(cn),
        electricity_mwh=_number(data.get("electricity_mwh", 0.0), f"{at} electricity_mwh") or 0.0,
        activity_level_t=_number(
            data.get("activity_level_t"), f"{at} activity_level_t", optional=True
        ),
        market_t=_number(data.get("market_t"), f"{at} market_t", optional=True),
        precursors=tuple(
            (str(p.get("from") or ""), _number(p.get("quantity_t"), f"{at} 前体 quantity_t") or 0.0)
            for p in data.get("precursors") or ()
        ),
        heat=Heat(
            *(
                _number((heat or {}).get(k, 0.0), f"{at} heat.{k}") or 0.0
                for k in ("imported_tj", "imported_ef", "exported_tj", "exported_ef")
            )
        )
        if heat
        else None,
        electricity_ef=_number(data.get("electricity_ef"), f"{at} electricity_ef", optional=True),
    )


def _attribution(data: Mapping[str, Any], ids: set[str], where: str) -> Attribution:
    key = str(data.get("process") or "")
    if not key:
        raise RegimeError(f"{where}：工序映射缺少 process")
    at = f"{where} 工序映射 {key}"
    excluded = str(data.get("excluded") or "")
    shares: dict[str, float] = {}
    if excluded:
        if excluded not in EXCLUDED_KINDS:
            raise RegimeError(f"{at}：excluded 应为 {'、'.join(EXCLUDED_KINDS)} 之一")
    else:
        to = data.get("to")
        if not isinstance(to, Mapping) or not to:
            raise RegimeError(f"{at}：需要 to（生产过程 → 份额）或 excluded")
        for pid, share in to.items():
            if str(pid) not in ids:
                raise RegimeError(f"{at}：未知生产过程 {pid}")
            shares[str(pid)] = _number(share, f"{at} 份额 {pid}") or 0.0
        if abs(sum(shares.values()) - 1.0) > _SHARE_TOLERANCE:
            raise RegimeError(f"{at}：份额之和应为 1（实际 {sum(shares.values()):g}）")
    evidence = data.get("evidence") or {"grade": "U", "basis": "组织设置"}
    return Attribution(
        key=key,
        shares=shares,
        excluded=excluded,
        reason=str(data.get("reason") or (EXCLUDED_KINDS.get(excluded, "") if excluded else "")),
        evidence=Evidence(str(evidence.get("grade") or "U"), str(evidence.get("basis") or "")),
    )


def _purchased(
    data: Mapping[str, Any], ids: set[str], goods: Mapping[str, Any], where: str
) -> PurchasedPrecursor:
    pid = str(data.get("id") or "")
    at = f"{where} 外购前体 {pid or '?'}"
    if not pid:
        raise RegimeError(f"{at}：缺少 id")
    good = str(data.get("good") or "")
    if good not in goods:
        raise RegimeError(f"{at}：货物类别 good 应为 {'、'.join(goods)} 之一")
    consumed = {
        str(k): _number(v, f"{at} consumed.{k}") or 0.0
        for k, v in (data.get("consumed") or {}).items()
    }
    unknown = sorted(set(consumed) - ids)
    if unknown:
        raise RegimeError(f"{at}：未知生产过程 {'、'.join(unknown)}")
    material = str(data.get("material") or "")
    if not consumed and not material:
        raise RegimeError(
            f"{at}：需要 consumed（各生产过程的消耗量）或 material（按活动记录取消耗量）"
        )
    evidence = data.get("evidence") or {
        "grade": "U",
        "basis": str(data.get("source") or "组织设置"),
    }
    return PurchasedPrecursor(
        id=pid,
        name=str(data.get("name") or pid),
        good=good,
        route=str(data.get("route") or ""),
        country=str(data.get("country") or ""),
        material=material,
        consumed=consumed,
        see_direct=_number(data.get("see_direct"), f"{at} see_direct") or 0.0,
        electricity_mwh_per_t=_number(
            data.get("electricity_mwh_per_t", 0.0), f"{at} electricity_mwh_per_t"
        )
        or 0.0,
        ef_el=_number(data.get("ef_el", 0.0), f"{at} ef_el") or 0.0,
        source=str(data.get("source") or ""),
        justification=str(data.get("justification") or ""),
        evidence=Evidence(str(evidence.get("grade") or "U"), str(evidence.get("basis") or "")),
    )


def installation_from_dict(
    data: Mapping[str, Any], regime: Regime, where: str = "CBAM 装置设置"
) -> CbamInstallation:
    """Parse the ``installation`` section of an organisation's CBAM settings."""
    goods = {str(g["key"]): g for g in regime.sections.get("goods") or ()}
    processes = [_process(p, goods, where) for p in data.get("processes") or ()]
    if not processes:
        raise RegimeError(f"{where}：至少需要一个生产过程")
    ids = [p.id for p in processes]
    if len(set(ids)) != len(ids):
        raise RegimeError(f"{where}：生产过程 id 重复")
    if len(ids) > MAX_PROCESSES:
        raise RegimeError(f"{where}：官方模板最多容纳 {MAX_PROCESSES} 个生产过程")
    for p in processes:
        for source, _ in p.precursors:
            if source not in ids or source == p.id:
                raise RegimeError(f"{where} 生产过程 {p.id}：前体来源 {source} 不是另一个生产过程")
    attributions = tuple(_attribution(a, set(ids), where) for a in data.get("process_map") or ())
    flows = []
    for item in data.get("waste_gases") or ():
        gas = str(item.get("gas") or "")
        if gas not in (regime.sections.get("waste_gases") or {}).get("materials", ()):
            raise RegimeError(f"{where}：废气 {gas or '?'} 不在口径的废气清单中")
        flows.append(
            WasteGasFlow(
                gas=gas,
                from_process=str(item.get("from") or ""),
                to_process=str(item.get("to") or ""),
                quantity=_number(item.get("quantity"), f"{where} 废气 {gas} quantity") or 0.0,
                unit=str(item.get("unit") or ""),
                ncv=_number(item.get("ncv"), f"{where} 废气 {gas} ncv", optional=True),
            )
        )
        if not flows[-1].from_process or not flows[-1].unit:
            raise RegimeError(f"{where}：废气 {gas} 需要 from 与 unit")
    purchased = tuple(
        _purchased(p, set(ids), goods, where) for p in data.get("purchased_precursors") or ()
    )
    if len(purchased) > MAX_PURCHASED:
        raise RegimeError(f"{where}：官方模板最多容纳 {MAX_PURCHASED} 个外购前体")
    electricity = data.get("electricity") or {}
    return CbamInstallation(
        details={k: v for k, v in (data.get("details") or {}).items()},
        processes=tuple(processes),
        attributions=attributions,
        waste_gases=tuple(flows),
        purchased=purchased,
        electricity_ef=_number(electricity.get("ef"), f"{where} electricity.ef", optional=True),
        electricity_source=str(electricity.get("source_code") or ""),
        electricity_note=str(electricity.get("note") or ""),
        note=str(data.get("note") or ""),
    )
