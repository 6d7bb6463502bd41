"""The demo enterprise: an integrated BF-BOF group, its processes, bindings, a model, a year of data.

Quantities are those of the golden case, split evenly over twelve months, so accounting the demo
year reproduces the golden totals. Idempotent: nothing happens if the group already exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import (
    ActivityRecord,
    Material,
    Organization,
    Process,
    SubProcess,
    UserOrganization,
)
from orgcarbon.metamodel.versioned import AccountingModel, Binding, Formula
from orgcarbon.metamodel.versioning import publish

DATA = Path(__file__).resolve().parent / "demo_enterprise.json"
FORMULA_BY_CATEGORY = {"fuel_combustion": "gbt32151.5/燃料燃烧", "process_flux": "gbt32151.5/熔剂"}
SIMPLE_FORMULA = "gbt32151.5/数量×因子"
MODEL_NAME = "华钢集团 GB/T 32151.5 核算模型"


def _org(session: Session, parent: Organization | None, **values: Any) -> Organization:
    org = Organization(parent=parent, **values)
    session.add(org)
    return org


def load_demo_enterprise(session: Session, users: dict[str, Any]) -> bool:
    """Create the demo enterprise; ``users`` maps demo usernames to user rows. False if present."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    if session.scalar(select(Organization).where(Organization.name == data["group"]["name"])):
        return False
    group = _org(session, None, **data["group"])
    company = _org(session, group, **data["company"])
    sites: dict[str, Organization] = {}
    subs: dict[tuple[str, str, str], SubProcess] = {}
    for site_name, site in data["sites"].items():
        sites[site_name] = _org(session, company, name=site_name, level="厂区", grid_region="华北")
        for proc_name, sub_names in site["processes"].items():
            process = Process(organization=sites[site_name], name=proc_name, template=proc_name, status="active")
            session.add(process)
            for sub_name in sub_names:
                sub = SubProcess(main_process=process, organization=sites[site_name], name=sub_name, status="active")
                session.add(sub)
                subs[(site_name, proc_name, sub_name)] = sub
    materials = {m.name: m for m in session.scalars(select(Material))}
    formulas = {f.name: f for f in session.scalars(select(Formula).where(Formula.status == "published"))}
    bindings: dict[tuple[Any, ...], Binding] = {}
    months = [f"{data['year']}-{m:02d}" for m in range(1, 13)]
    for site_name, proc, sub_name, material, category, direction, annual, unit, purity in data["activity"]:
        sub = subs[(site_name, proc, sub_name)]
        key = (site_name, proc, sub_name, material, category)
        if key not in bindings:
            binding = Binding(
                code=f"demo/{site_name}/{proc}/{sub_name}/{material}/{category}", organization=sub.organization,
                subprocess=sub, material=materials[material], direction=direction, category=category,
                formula=formulas[FORMULA_BY_CATEGORY.get(category, SIMPLE_FORMULA)],
            )
            session.add(binding)
            bindings[key] = binding
        for month in months:
            session.add(ActivityRecord(
                organization=sub.organization, subprocess=sub, material=materials[material], category=category,
                month=month, quantity=annual / 12, unit=unit, purity=purity,
            ))
    session.flush()
    for binding in bindings.values():
        publish(binding, session)
    model = AccountingModel(name=MODEL_NAME, organization=group, description="演示企业的全部绑定",
                            bindings=list(bindings.values()))
    session.add(model)
    session.flush()
    publish(model, session)
    by_name = {"华钢集团": group, company.name: company, **sites}
    for username, org_name in data["users"].items():
        if username in users:
            session.add(UserOrganization(user_id=users[username].id, organization=by_name[org_name]))
    from orgcarbon.forms.demo import load_demo_forms  # a monthly form per plant

    load_demo_forms(session)
    from orgcarbon.quality.demo import load_demo_rules  # the default steel rule pack, published

    load_demo_rules(session)
    from orgcarbon.analysis.benchmarks import seed_demo_benchmarks  # benchmark values

    seed_demo_benchmarks(session, group)
    session.commit()
    return True
