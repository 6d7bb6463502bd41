"""Rows of the own organisation may not point at another subtree's objects, nor move the tree.

The scope matrix covers ids in URLs and organisation fields; these are the references it found
holes in: a plant moved under its sibling (which would hand the plant to the sibling's users), a
model linking the sibling's bindings, an accounting run with the sibling's model.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from orgcarbon.accounting.models import AccountingRun
from orgcarbon.metamodel.models import Organization
from orgcarbon.metamodel.versioned import AccountingModel, Binding
from orgcarbon.metamodel.versioning import publish
from orgcarbon.platform.extensions import db
from orgcarbon.security.audit import acting_as
from orgcarbon.security.scope import org_scope
from tests.conftest import login
from tests.integration.metamodel.helpers import PASSWORDS, Api

WEST_MODELLER = ("westmod2", "Demo-westmod-1")


def _west_modeller(app: Flask) -> None:
    from orgcarbon.metamodel.models import UserOrganization

    with app.app_context(), acting_as("test"):
        sm = app.appbuilder.sm
        user = sm.add_user(WEST_MODELLER[0], "西", "建模", "wm@example.invalid", sm.find_role("建模管理员"),
                           password=WEST_MODELLER[1])
        db.session.add(UserOrganization(user_id=user.id, organization_id=_org("西区")))
        db.session.commit()
    PASSWORDS[WEST_MODELLER[0]] = WEST_MODELLER[1]


def _org(name: str) -> int:
    return int(db.session.scalar(select(Organization.id).where(Organization.name == name)))


def test_a_plant_cannot_be_moved_under_its_sibling(app: Flask) -> None:
    """Before the fix the validator's query flushed the new parent and the scope check saw no move."""
    _west_modeller(app)
    with app.app_context():
        west, east, company = _org("西区"), _org("东区"), _org("华钢钢铁股份有限公司")
    api = Api(app, WEST_MODELLER[0])
    refused = api.put(f"organization/{west}", {"parent": east})
    assert refused.status_code == 403 and "数据范围" in refused.get_json()["message"]
    assert api.put(f"organization/{west}", {"parent": company, "address": "西区新地址"}).status_code == 200
    client = app.test_client()
    login(client, *WEST_MODELLER)
    page = client.post(f"/organizationview/edit/{west}", data={"name": "西区", "level": "厂区", "parent": str(east)})
    assert page.status_code == 200  # the form again: 东区 is not among the parents offered
    with app.app_context():
        assert db.session.get(Organization, west).parent_id == company
        viewer = app.appbuilder.sm.find_user(username="viewer")  # belongs to 东区
        assert west not in (org_scope(viewer, db.session).readable or ())


def test_a_model_cannot_link_another_plants_bindings(app: Flask) -> None:
    _west_modeller(app)
    with app.app_context(), acting_as("test"):
        west, east = _org("西区"), _org("东区")
        model = AccountingModel(name="西区模型", standard="GB/T 32151.5", regime="gbt", organization_id=west)
        db.session.add(model)
        db.session.commit()
        model_id = model.id
        east_binding = db.session.scalar(select(Binding.id).where(Binding.organization_id == east))
        west_binding = db.session.scalar(select(Binding.id).where(Binding.organization_id == west))
    api = Api(app, WEST_MODELLER[0])
    refused = api.put(f"accounting_model/{model_id}", {"bindings": [east_binding]})
    assert refused.status_code == 403 and "东区" not in str(refused.get_json())
    assert api.put(f"accounting_model/{model_id}", {"bindings": [west_binding]}).status_code == 200
    # The page refuses the other plant's binding instead of silently saving the model without it.
    client = app.test_client()
    login(client, *WEST_MODELLER)
    page = client.post(f"/accountingmodelview/edit/{model_id}", data={
        "name": "西区模型", "standard": "GB/T 32151.5", "regime": "gbt", "organization": str(west),
        "bindings": [str(east_binding)]})
    assert page.status_code == 200
    with app.app_context():
        assert [b.id for b in db.session.get(AccountingModel, model_id).bindings] == [west_binding]
    # The model's own organisation bounds its bindings, whoever edits it.
    admin = Api(app)
    outside = admin.put(f"accounting_model/{model_id}", {"bindings": [west_binding, east_binding]})
    assert outside.status_code == 422 and "绑定不属于组织“西区”及其下级" in str(outside.get_json())


def test_an_accounting_run_cannot_use_another_plants_model(app: Flask) -> None:
    _west_modeller(app)
    with app.app_context(), acting_as("test"):
        west, east = _org("西区"), _org("东区")
        bindings = db.session.scalars(select(Binding).where(Binding.organization_id == east,
                                                            Binding.status == "published")).all()
        model = AccountingModel(name="东区自有模型", standard="GB/T 32151.5", regime="gbt", organization_id=east,
                                bindings=list(bindings))
        db.session.add(model)
        db.session.flush()
        publish(model, db.session)
        db.session.commit()
        east_model = model.id
        group_model = db.session.scalar(select(AccountingModel.id).where(AccountingModel.organization_id == _org("华钢集团"),
                                                                         AccountingModel.status == "published"))
        runs = db.session.scalar(select(func.count()).select_from(AccountingRun))
    api = Api(app, WEST_MODELLER[0])
    body = {"organization_id": west, "year": 2024, "electricity_ef": 0.5703}
    refused = api.post("results/runs", {**body, "model_id": east_model})
    assert refused.status_code == 422 and "东区" not in str(refused.get_json())
    assert api.post("results/runs", {**body, "model_id": 10**12}).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccountingRun)) == runs
    made = api.post("results/runs", {**body, "model_id": group_model})  # the group's model: an ancestor's
    assert made.status_code == 201, made.get_json()
