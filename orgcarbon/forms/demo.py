"""Demo forms: one monthly form per plant (厂区) of the demo enterprise, fields generated from its bindings.

So the demo user ``filler`` (西区) has a form to fill as soon as ``orgcarbon demo`` has run.
Idempotent: a plant whose demo form exists is left alone.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.forms.definitions import generate_fields
from orgcarbon.forms.models import FormDefinition
from orgcarbon.metamodel.models import Organization
from orgcarbon.security.scope import subtree_ids

GROUP = "华钢集团"


def demo_form_code(plant: str) -> str:
    """The code of a plant's demo form."""
    return f"demo/{plant}/monthly"


def load_demo_forms(session: Session) -> list[FormDefinition]:
    """Create the missing demo forms (no commit: the caller owns the transaction); returns them."""
    group = session.scalar(select(Organization).where(Organization.name == GROUP, Organization.parent_id.is_(None)))
    if group is None:
        return []
    below = subtree_ids(session, [group.id])
    plants = session.scalars(
        select(Organization).where(Organization.id.in_(sorted(below)), Organization.level == "厂区")
        .order_by(Organization.id)
    ).all()
    existing = set(session.scalars(select(FormDefinition.code)))
    created = []
    for plant in plants:
        if demo_form_code(plant.name) in existing:
            continue
        form = FormDefinition(
            code=demo_form_code(plant.name), name=f"{plant.name}月度碳排放数据填报", organization=plant,
            granularity="month", review_steps=2, due_day=10, evidence_required=False, revision=1, active=True,
            description="演示表单：由绑定生成，每个绑定一个消耗量/产量字段，燃料另有可选的实测 NCV、CC、OF，熔剂另有纯度",
        )
        session.add(form)
        session.flush()
        generate_fields(session, form)
        created.append(form)
    return created
