"""Create the synthetic group's metamodel through the ORM, and its published reading rules.

The same objects the demo enterprise uses (``metamodel/demo.py``): organisations, processes,
sub-processes, bindings (published), one accounting model of the group (published). The reading
rules are a small rule pack (``reading-max-<material>``: reject an hourly reading above the
binding's physical maximum, scope source ``api``) imported with ``import_pack`` like the steel
pack, so cleaning applies them as published data, never as code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import Material, Organization, Process, SubProcess
from orgcarbon.metamodel.versioned import AccountingModel, Binding, Formula
from orgcarbon.metamodel.versioning import publish
from orgcarbon.quality.pack_import import import_pack
from orgcarbon.rules.quality import RulePack, pack_from_dict
from orgcarbon.scale.generator import MATERIALS, GroupSpec, physical_max

FORMULA_BY_CATEGORY = {"fuel_combustion": "gbt32151.5/燃料燃烧", "process_flux": "gbt32151.5/熔剂"}
SIMPLE_FORMULA = "gbt32151.5/数量×因子"


@dataclass(frozen=True)
class GroupLayout:
    """Ids of what ``build_group`` created: the group, its plants (in order), the model."""

    group_id: int
    plant_ids: tuple[int, ...]
    model_id: int


def reading_pack() -> RulePack:
    """The published reading rules: one reject rule per material with its physical maximum."""
    rules: list[dict[str, Any]] = []
    for index, (_, _, material, _, _, unit, _, _) in enumerate(MATERIALS):
        high = physical_max(index)
        rules.append({
            "id": f"reading-max-{index + 1}", "name": f"{material}小时读数超过物理上限", "kind": "validation",
            "action": "reject", "level": "record", "order": 500, "severity": "warning", "dimension": "accuracy",
            "scope": {"materials": [material], "sources": ["api"]}, "condition": "quantity > high",
            "params": {"high": high},
            "message": "第 {row_id} 行：{material} 小时读数 {quantity:.1f} 超过上限 {high:.0f}（" + unit + "），已剔除",
            "tests": [{"name": "尖峰被剔除", "rows": [
                {"row_id": 1, "material": material, "quantity": high * 3, "unit": unit, "source": "api",
                 "month": "2023-01"},
                {"row_id": 2, "material": material, "quantity": high / 3, "unit": unit, "source": "api",
                 "month": "2023-01"}], "expect_findings": [1], "expect_row_count": 1}],
        })
    return pack_from_dict({"name": "scale-readings", "version": 1, "rules": rules})


def _organizations(session: Session, spec: GroupSpec) -> tuple[Organization, list[Organization]]:
    group = Organization(name=spec.name, level="集团")
    session.add(group)
    plants = [Organization(parent=group, name=spec.plant_name(p), level="厂区", grid_region="华北")
              for p in range(spec.plants)]
    session.add_all(plants)
    return group, plants


def build_group(session: Session, spec: GroupSpec) -> GroupLayout:
    """Create the group, plants, sub-processes, bindings and model; flushes, the caller commits."""
    if session.scalar(select(Organization.id).where(Organization.name == spec.name)) is not None:
        raise ValueError(f"组织“{spec.name}”已存在")
    group, plants = _organizations(session, spec)
    materials = {m.name: m for m in session.scalars(select(Material))}
    formulas = {f.name: f for f in session.scalars(select(Formula).where(Formula.status == "published"))}
    bindings: list[Binding] = []
    for plant in plants:
        processes: dict[str, Process] = {}
        for proc, sub_name, material, category, direction, *_ in MATERIALS[:spec.bindings_per_plant]:
            if proc not in processes:
                processes[proc] = Process(organization=plant, name=proc, template=proc, status="active")
                session.add(processes[proc])
            sub = SubProcess(main_process=processes[proc], organization=plant, name=sub_name, status="active")
            session.add(sub)
            bindings.append(Binding(
                code=f"scale/{plant.name}/{sub_name}/{material}/{category}", organization=plant, subprocess=sub,
                material=materials[material], direction=direction, category=category,
                formula=formulas[FORMULA_BY_CATEGORY.get(category, SIMPLE_FORMULA)]))
    session.add_all(bindings)
    session.flush()
    for binding in bindings:
        publish(binding, session)
    model = AccountingModel(name=f"{spec.name} 核算模型", organization=group, description="合成集团的全部绑定",
                            bindings=bindings)
    session.add(model)
    session.flush()
    publish(model, session)
    import_pack(session, reading_pack())
    return GroupLayout(group.id, tuple(p.id for p in plants), model.id)


def find_group(session: Session, spec: GroupSpec) -> GroupLayout:
    """The layout of a group ``build_group`` made earlier (by name)."""
    group = session.scalar(select(Organization).where(Organization.name == spec.name))
    if group is None:
        raise LookupError(f"未找到组织“{spec.name}”")
    plants = {o.name: o.id for o in session.scalars(select(Organization).where(Organization.parent_id == group.id))}
    model = session.scalar(select(AccountingModel.id).where(AccountingModel.name == f"{spec.name} 核算模型",
                                                            AccountingModel.status == "published"))
    return GroupLayout(group.id, tuple(plants[spec.plant_name(p)] for p in range(spec.plants)), int(model or 0))
