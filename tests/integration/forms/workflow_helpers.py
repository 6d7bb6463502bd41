"""Shared set-up for workflow tests: a monthly form of 西区 built directly in the database."""

from __future__ import annotations

from typing import Any

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.forms.models import FormDefinition, FormField, FormSection
from orgcarbon.metamodel.models import Organization
from orgcarbon.metamodel.versioned import Binding


def user(session: Session, name: str) -> User:
    return session.execute(select(User).where(User.username == name)).scalar_one()


def org(session: Session, name: str) -> Organization:
    return session.execute(select(Organization).where(Organization.name == name)).scalar_one()


def west_form(session: Session, *, review_steps: int = 2, code: str = "test-west", **form_values: Any,
              ) -> FormDefinition:
    """A form of 西区 with a quantity field per fuel/flux binding, NCV for fuels and purity for fluxes."""
    west = org(session, "西区")
    form = FormDefinition(code=code, name="西区月报（测试）", organization_id=west.id, granularity="month",
                          review_steps=review_steps, due_day=10, **form_values)
    section = FormSection(form=form, organization_id=west.id, name="消耗", order=1)
    session.add_all([form, section])
    bindings = session.execute(
        select(Binding).where(Binding.organization_id == west.id, Binding.status == "published",
                              Binding.category.in_(("fuel_combustion", "process_flux", "purchased_electricity"))).order_by(Binding.id)
    ).scalars().all()
    order = 0
    for binding in bindings[:4]:
        order += 1
        form.fields.append(FormField(section=section, organization_id=west.id, code=f"q{binding.id}",
                                     label=f"{binding.subprocess.name}{binding.material.name}消耗量",
                                     binding=binding, parameter="quantity", unit=binding.material.unit,
                                     required=True, order=order))
        if binding.category == "fuel_combustion":
            order += 1
            form.fields.append(FormField(section=section, organization_id=west.id, code=f"ncv{binding.id}",
                                         label=f"{binding.material.name}低位发热量", binding=binding,
                                         parameter="ncv", unit=f"GJ/{binding.material.unit}", required=False, min_value=1, max_value=60,
                                         order=order))
    session.flush()
    return form
