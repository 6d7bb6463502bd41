"""The regime figures of an organisation and year: national carbon market, CBAM, reconciliation.

One function per view, each returning the pure result (for exports) and its JSON form (for pages
and the API), so the page, the API and the workbook show the same numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import Organization
from orgcarbon.regimes.loader import (
    Inputs,
    RegimeRefused,
    evidence_for,
    installation_nodes,
    load_inputs,
)
from orgcarbon.regimes.settings import Found, own_settings, settings_for
from orgcarbon.rules import AccountingError
from orgcarbon.rules.regimes import (
    DRIVER_NAMES,
    GBT_KEY,
    CbamInstallation,
    CbamResult,
    EtsResult,
    Regime,
    RegimeError,
    compute_cbam,
    compute_national_ets,
    installation_from_dict,
    reconcile,
    shipped_regimes,
)
from orgcarbon.rules.regimes.reconcile import Reconciliation
from orgcarbon.security.scope import OrgScope


def regimes_of(kind: str) -> list[Regime]:
    """The shipped regimes of ``kind`` (direct | cbam)."""
    return [r for r in shipped_regimes().values() if r.kind == kind]


def _regime(kind: str, found: Found, key: str | None = None) -> Regime:
    candidates = [r for r in regimes_of(kind) if key is None or r.key == key]
    if not candidates:
        raise RegimeRefused([f"没有口径 {key}"])
    chosen = [r for r in candidates if found.settings.enabled(r.key)]
    if not chosen:
        raise RegimeRefused([f"组织未启用口径“{candidates[0].name}”（见口径设置）"])
    return chosen[0]


def _refusing(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a pure computation; its refusals become ``RegimeRefused`` with Chinese reasons."""
    try:
        return fn(*args, **kwargs)
    except AccountingError as exc:
        raise RegimeRefused([str(i) for i in exc.issues]) from exc
    except RegimeError as exc:
        raise RegimeRefused([str(exc)]) from exc


def excluded_groups(excluded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records not counted, grouped by place, material and reason (a year of months is one line)."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in excluded:
        key = (e["site"], e["process"], e["category"], e["material"], e["unit"], e["reason"], e["driver"])
        group = groups.setdefault(key, {**{k: e[k] for k in ("site", "process", "category", "material", "unit",
                                                                "reason", "driver")}, "quantity": 0.0, "records": 0})
        group["quantity"] += e["quantity"]
        group["records"] += 1
    return list(groups.values())


def waste_gas_groups(uses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Waste-gas transfers grouped by gas, route and origin kind (a year of monthly records is one line)."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for w in uses:
        origin = "活动记录" if w["origin"].startswith("活动记录") else w["origin"]
        key = (w["gas"], w["from"], w["to"], w["exporter"], w["importer"], w["unit"], origin)
        group = groups.setdefault(key, {**w, "origin": origin, "quantity": 0.0, "energy_tj": 0.0, "corr_exp": 0.0,
                                        "corr_imp": 0.0, "records": 0})
        for field in ("quantity", "energy_tj", "corr_exp", "corr_imp"):
            group[field] += w[field]
        group["records"] += 1
    return list(groups.values())


def regime_dict(regime: Regime, found: Found) -> dict[str, Any]:
    """What a page says about the regime: its name, standard, grade and the template chosen."""
    template = regime.template(found.settings.report_templates.get(regime.key))
    return {
        "key": regime.key, "name": regime.name, "name_en": regime.name_en, "version": regime.version,
        "standard": regime.standard, "evidence": regime.evidence.as_dict(),
        "categories": [{"category": c.category, "label": c.label, "counted": c.counted, "reason": c.reason,
                        "driver": c.driver, "evidence": c.evidence.as_dict()} for c in regime.categories],
        "reclassify": [{"category": r.category, "to": r.to, "materials": dict(r.materials), "reason": r.reason,
                        "evidence": r.evidence.as_dict()} for r in regime.reclassify],
        "factor_set": {k: {"regimes": list(g.regimes), "note": g.note} for k, g in regime.factor_set.items()},
        "constants": {k: {"name": c.name, "value": c.value, "unit": c.unit, "evidence": c.evidence.as_dict()}
                      for k, c in regime.constants.items()},
        "report_template": ({"key": template.key, "name": template.name, "evidence": template.evidence.as_dict()}
                            if template else None),
    }


def settings_dict(found: Found) -> dict[str, Any]:
    """Where the settings in force came from."""
    return {"origin": found.settings.origin if found.owner else "缺省设置（口径包自带的映射）",
            "owner": found.owner.name if found.owner else None,
            "owner_id": found.owner.id if found.owner else None,
            "editable": found.editable, "note": found.settings.note,
            "regimes": list(found.settings.regimes) if found.settings.regimes is not None else None}


# -- national carbon market ------------------------------------------------------------------


def national_ets(session: Session, instance: str | os.PathLike[str], org_id: int, year: int,
                 key: str | None = None) -> tuple[EtsResult, Inputs, dict[str, Any]]:
    """The national carbon market figures of ``org_id``'s subtree for ``year``."""
    found = settings_for(session, instance, org_id)
    regime = _regime("direct", found, key)
    inputs = load_inputs(session, org_id, year)
    result = _refusing(compute_national_ets, regime, inputs.records, inputs.library, inputs.context,
                       found.settings.process_maps.get(regime.key, {}), inputs.templates)
    measured = [int(p.record_id) for p in result.parameters
                if p.record_id and any(v.get("measured") for v in p.values.values())]
    data = ets_dict(result, inputs, found, evidence_for(session, measured))
    data["excluded_groups"] = excluded_groups(data["excluded"])
    return result, inputs, data


def ets_dict(result: EtsResult, inputs: Inputs, found: Found, evidence: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The national carbon market figures as JSON."""
    regime = result.regime
    levels = {t.key: t.level for t in regime.process_types}
    return {
        "regime": regime_dict(regime, found),
        "settings": settings_dict(found),
        "organization": {"id": inputs.org.id, "name": inputs.org.name},
        "year": result.year,
        "months": list(result.months),
        "total_tco2": result.total_tco2,
        "by_term": dict(result.by_term),
        "crude_steel_t": result.crude_steel_t,
        "summary": [{"key": s.key, "name": s.name, "tco2": s.tco2, "by_month": dict(s.by_month)}
                    for s in result.summary],
        "summary_evidence": regime.summary_evidence.as_dict() if regime.summary_evidence else None,
        "process_map_evidence": regime.process_map_evidence.as_dict() if regime.process_map_evidence else None,
        "by_type": [{"key": s.key, "name": s.name, "level": levels.get(s.key, "other"), "tco2": s.tco2,
                     "by_month": dict(s.by_month)} for s in result.by_type],
        "processes": [{
            "process_type": p.process_type, "process_type_name": p.process_type_name, "level": p.level,
            "site": p.site, "process": p.process, "subprocess": p.subprocess, "mapped_by": p.mapped_by,
            "tco2": p.tco2, "by_month": dict(p.by_month),
            "products": [{"material": m, "t": t} for m, t in p.products],
        } for p in result.process_rows],
        "parameters": [{
            "record_id": int(p.record_id) if p.record_id else None, "month": p.month, "site": p.site,
            "process": p.process, "subprocess": p.subprocess, "material": p.material, "category": p.category,
            "quantity": p.quantity, "unit": p.unit, "values": {k: dict(v) for k, v in p.values.items()},
            "ef": p.ef, "ef_unit": p.ef_unit, "tco2": p.tco2,
            "evidence": evidence.get(int(p.record_id)) if p.record_id else None,
        } for p in result.parameters],
        "excluded": [{"record_id": e.record_id, "site": e.site, "process": e.process, "month": e.month,
                      "category": e.category, "material": e.material, "quantity": e.quantity, "unit": e.unit,
                      "reason": e.reason, "driver": e.driver} for e in result.excluded],
        "excluded_groups": [],
        "reclassified": [{"record_id": line.record_id, "month": line.month, "material": line.material,
                          "from": line.original_category, "to": line.category, "tco2": line.tco2,
                          "reason": line.reason} for line in result.lines if line.action == "reclassified"],
        "factor_choices": [c.as_dict() for c in result.factor_choices],
        "notes": list(result.notes),
        "gbt": {"total_tco2": inputs.gbt.total_tco2, "run_id": inputs.run.id if inputs.run else None},
    }


# -- CBAM ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installation:
    """A node whose settings describe a CBAM installation, with the regime and the parsed data."""

    node: Organization
    regime: Regime
    installation: CbamInstallation
    found: Found


def _installation(node: Organization, found: Found | None) -> Installation | None:
    if found is None:
        return None
    for regime in regimes_of("cbam"):
        data = found.settings.section(regime.key).get("installation")
        if data is not None and found.settings.enabled(regime.key):
            parsed = _refusing(installation_from_dict, data, regime, f"{node.name} 的 CBAM 装置设置")
            return Installation(node, regime, parsed, found)
    return None


def installations(session: Session, instance: str | os.PathLike[str], org_id: int, scope: OrgScope,
                  upward: bool = True) -> list[Installation]:
    """CBAM installations at or below ``org_id`` the caller may read; else (``upward``) the one it lies in."""
    found = [i for node in installation_nodes(session, org_id) if scope.can_read(node.id)
             if (i := _installation(node, own_settings(instance, node))) is not None]
    if found or not upward:
        return found
    inst = enclosing_installation(session, instance, org_id)
    return [inst] if inst is not None and scope.can_read(inst.node.id) else []


def enclosing_installation(session: Session, instance: str | os.PathLike[str], org_id: int) -> Installation | None:
    """The CBAM installation an ancestor of ``org_id`` describes (whatever the caller's scope), or None."""
    node = session.get(Organization, org_id)
    while node is not None and node.parent is not None:
        node = node.parent
        inst = _installation(node, own_settings(instance, node))
        if inst is not None:
            return inst
    return None


def cbam(session: Session, instance: str | os.PathLike[str], inst: Installation,
         year: int) -> tuple[CbamResult, Inputs, dict[str, Any]]:
    """The CBAM figures of one installation and year."""
    inputs = load_inputs(session, inst.node.id, year)
    result = _refusing(compute_cbam, inst.regime, inst.installation, inputs.records, inputs.library, inputs.context,
                       inputs.templates)
    data = cbam_dict(result, inputs, inst)
    data["excluded_groups"] = excluded_groups(data["excluded"])
    data["waste_gas_groups"] = waste_gas_groups(data["waste_gases"])
    return result, inputs, data


def _num(value: float | None) -> float | None:
    return None if value is None else float(value)


def cbam_dict(result: CbamResult, inputs: Inputs, inst: Installation) -> dict[str, Any]:
    """The CBAM figures as JSON."""
    return {
        "regime": regime_dict(result.regime, inst.found),
        "settings": settings_dict(inst.found),
        "organization": {"id": inst.node.id, "name": inst.node.name},
        "year": result.year,
        "installation": {"details": dict(result.installation.details), "note": result.installation.note},
        "electricity": {"ef": result.ef_el, "source_code": result.ef_source, "note": result.ef_note,
                        "grade": "U" if result.grid is None else result.grid.factor.grade},
        "processes": [{
            "id": p.process.id, "name": p.process.name, "name_zh": p.process.name_zh, "good": p.process.good,
            "route": p.process.route, "activity_level_t": _num(p.activity_level_t), "activity_basis": p.activity_basis,
            "market_t": _num(p.process.market_t), "dir_em_star": p.dir_em_star,
            "by_platform_process": dict(p.by_platform_process), "wg_imported_tj": p.wg_imported_tj,
            "wg_exported_tj": p.wg_exported_tj, "wg_corr_imp": p.wg_corr_imp, "wg_corr_exp": p.wg_corr_exp,
            "heat_tco2": p.heat_tco2, "attributed_direct": p.attributed_direct,
            "electricity_mwh": p.electricity_mwh, "ef_el": p.ef_el, "ef_source": p.ef_source,
            "attributed_indirect": p.attributed_indirect, "embedded_direct": p.embedded_direct,
            "embedded_indirect": p.embedded_indirect, "see_direct": _num(p.see_direct),
            "see_indirect": _num(p.see_indirect), "see_total": _num(p.see_total),
            "precursors": [{"source": u.source, "name": u.name, "purchased": u.purchased, "quantity_t": u.quantity_t,
                            "see_direct": u.see_direct, "see_indirect": u.see_indirect,
                            "embedded_direct": u.embedded_direct, "embedded_indirect": u.embedded_indirect}
                           for u in p.precursors],
            "consumed_by": dict(p.consumed_by),
        } for p in result.processes],
        "products": [{"process_id": r.process_id, "process_name": r.process_name, "good": r.good, "route": r.route,
                      "cn_code": r.cn_code, "product": r.product, "see_direct": _num(r.see_direct),
                      "see_indirect": _num(r.see_indirect), "see_total": _num(r.see_total),
                      "electricity_mwh_per_t": _num(r.electricity_mwh_per_t)} for r in result.products],
        "waste_gases": [{"gas": w.gas, "origin": w.origin, "from": w.from_process, "to": w.to_process,
                         "exporter": w.exporter, "importer": w.importer, "quantity": w.quantity, "unit": w.unit,
                         "ncv": w.ncv, "ncv_unit": w.ncv_unit, "energy_tj": w.energy_tj, "corr_exp": w.corr_exp,
                         "corr_imp": w.corr_imp} for w in result.waste_gases],
        "purchased": [{"id": p.id, "name": p.name, "good": p.good, "country": p.country, "see_direct": p.see_direct,
                       "electricity_mwh_per_t": p.electricity_mwh_per_t, "ef_el": p.ef_el,
                       "see_indirect": p.electricity_mwh_per_t * p.ef_el, "source": p.source,
                       "evidence": p.evidence.as_dict()} for p in result.installation.purchased],
        "mapping": [{"process": a.key, "shares": dict(a.shares), "excluded": a.excluded, "reason": a.reason,
                     "evidence": a.evidence.as_dict()} for a in result.installation.attributions],
        "streams": [{"method": s.method, "name": s.name, "category": s.category, "ad": s.ad, "ad_unit": s.ad_unit,
                     "ncv": s.ncv, "ncv_unit": s.ncv_unit, "ef": s.ef, "ef_unit": s.ef_unit,
                     "oxidation_pct": s.oxidation_pct, "conversion_pct": s.conversion_pct, "tco2": s.tco2}
                    for s in result.streams],
        "excluded": [{"record_id": e.record_id, "site": e.site, "process": e.process, "month": e.month,
                      "category": e.category, "material": e.material, "quantity": e.quantity, "unit": e.unit,
                      "reason": e.reason, "driver": e.driver} for e in result.excluded],
        "excluded_groups": [],
        "factor_choices": [c.as_dict() for c in result.factor_choices],
        "totals": {"direct": result.total_direct, "indirect": result.total_indirect, "total": result.total_tco2},
        "notes": list(result.notes),
        "gbt": {"total_tco2": inputs.gbt.total_tco2, "run_id": inputs.run.id if inputs.run else None},
    }


# -- reconciliation --------------------------------------------------------------------------


def reconciliation(session: Session, instance: str | os.PathLike[str], org_id: int, year: int,
                   scope: OrgScope) -> tuple[Reconciliation, dict[str, Any]]:
    """GB/T, national carbon market and CBAM of ``org_id`` for ``year``, compared driver by driver."""
    found = settings_for(session, instance, org_id)
    inputs = load_inputs(session, org_id, year)
    notes: list[str] = []
    ets = None
    direct = [r for r in regimes_of("direct") if found.settings.enabled(r.key)]
    if direct:
        ets = _refusing(compute_national_ets, direct[0], inputs.records, inputs.library, inputs.context,
                        found.settings.process_maps.get(direct[0].key, {}), inputs.templates)
    results: list[CbamResult] = []
    below = installations(session, instance, org_id, scope, upward=False)
    for inst in below:
        result, _inputs, _data = cbam(session, instance, inst, year)
        results.append(result)
    if not below:
        around = enclosing_installation(session, instance, org_id)
        if around is None:
            notes.append("所选组织及其下级没有 CBAM 装置设置，CBAM 不参与对账")
        elif scope.can_read(around.node.id):
            notes.append(f"所选组织属于 CBAM 装置“{around.node.name}”，请在装置所在的组织层级对账 CBAM")
        else:
            notes.append("所选组织属于一个 CBAM 装置，该装置超出您的数据范围，CBAM 不参与对账")
    rec = reconcile(inputs.gbt, ets, results)
    return rec, reconciliation_dict(rec, inputs, found, [i.node.name for i in below], notes)


def reconciliation_dict(rec: Reconciliation, inputs: Inputs, found: Found, installations_: list[str],
                        notes: list[str]) -> dict[str, Any]:
    """The reconciliation as JSON: totals, and for each comparison the drivers and their items."""
    return {
        "organization": {"id": inputs.org.id, "name": inputs.org.name},
        "year": inputs.year,
        "settings": settings_dict(found),
        "totals": [{"key": k, "name": rec.names[k], "tco2": v} for k, v in rec.totals.items()],
        "gbt": {"key": GBT_KEY, "run_id": inputs.run.id if inputs.run else None,
                "electricity_ef": inputs.context.electricity_ef},
        "installations": installations_,
        "comparisons": [{
            "source": c.source, "target": c.target, "source_name": rec.names[c.source],
            "target_name": rec.names[c.target], "source_total": c.source_total, "target_total": c.target_total,
            "difference": c.difference, "difference_display": c.difference_cents / 100,
            "explained": c.explained,
            "drivers": [{"key": d.key, "name": d.name, "tco2": d.tco2, "display": d.display,
                         "items": [{"label": label, "tco2": value} for label, value in d.items]}
                        for d in c.drivers],
        } for c in rec.comparisons],
        "driver_names": DRIVER_NAMES,
        "notes": notes,
    }
