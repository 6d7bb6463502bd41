"""Intensities of a stored run, read back from its lines (queries only; the rule is ``rules.products``).

Per t crude steel (the run's total and direct emissions over the crude steel deducted as fixed
carbon) and per t of each process's product: the same pure ``process_intensities`` the engine
uses, fed with the run's stored lines — emission lines by organisation node and process, and the
tonnes of its product-output lines and crude-steel lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.metamodel.models import Organization, Process
from orgcarbon.rules.products import CRUDE_STEEL, PRODUCT_CATEGORY, process_intensities

FIXED_CARBON = "fixed_carbon_product"


def _where(run_id: int, readable: Collection[int] | None) -> list[Any]:
    clauses = [ResultLine.run_id == run_id]
    if readable is not None:
        clauses.append(ResultLine.organization_id.in_(sorted(readable)))
    return clauses


def crude_steel_t(session: Session, run_id: int, readable: Collection[int] | None = None) -> dict[int, float]:
    """Tonnes of crude steel deducted as fixed carbon, by organisation node."""
    query = (select(ResultLine.organization_id, func.sum(ResultLine.activity))
             .where(*_where(run_id, readable), ResultLine.category == FIXED_CARBON, ResultLine.material == CRUDE_STEEL)
             .group_by(ResultLine.organization_id))
    return {org: float(v) for org, v in session.execute(query)}


def run_intensity(session: Session, run: AccountingRun) -> dict[str, Any] | None:
    """tCO2 per t crude steel of the whole run (as ``Result.intensity``); None without crude steel."""
    tonnes = sum(crude_steel_t(session, run.id).values())
    if tonnes <= 0 or run.total_tco2 is None:
        return None
    return {"product": CRUDE_STEEL, "quantity_t": tonnes, "total_tco2_per_t": run.total_tco2 / tonnes,
            "direct_tco2_per_t": (run.direct_tco2 or 0.0) / tonnes}


def process_intensity(session: Session, run_id: int, readable: Collection[int] | None = None) -> list[dict[str, Any]]:
    """tCO2 per t of each process's product, for the run's organisation nodes (in ``readable``)."""
    direct = func.sum(case((ResultLine.scope == "direct", ResultLine.net_tco2), else_=0.0))
    emitted = (select(ResultLine.organization_id, Process.name, func.sum(ResultLine.net_tco2), direct)
               .join(Process, ResultLine.process_id == Process.id)
               .where(*_where(run_id, readable), ResultLine.category != PRODUCT_CATEGORY)
               .group_by(ResultLine.organization_id, Process.name)
               .order_by(ResultLine.organization_id, Process.name))
    emissions: dict[tuple[int, str], tuple[float, float]] = {}
    for org, process, net, dir_ in session.execute(emitted):
        emissions[(org, process)] = (float(net), float(dir_))
    made = (select(ResultLine.organization_id, Process.name, ResultLine.material, func.sum(ResultLine.activity))
            .join(Process, ResultLine.process_id == Process.id)
            .where(*_where(run_id, readable), ResultLine.category == PRODUCT_CATEGORY)
            .group_by(ResultLine.organization_id, Process.name, ResultLine.material))
    outputs: dict[tuple[int, str, str], float] = defaultdict(float)
    for org, process, material, tonnes in session.execute(made):
        outputs[(org, process, material)] += float(tonnes)
    found = process_intensities(emissions, outputs, crude_steel_t(session, run_id, readable))
    names = dict(session.execute(select(Organization.id, Organization.name)).all())
    return [{**i.as_dict(), "organization_id": int(i.site), "organization": names.get(int(i.site), i.site),
             "site": names.get(int(i.site), i.site)} for i in found]
