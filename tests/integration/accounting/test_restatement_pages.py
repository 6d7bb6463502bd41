"""Restatement pages: request, freeze, approve and reject with CSRF; refusals as Chinese flash messages."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.accounting.models import AccountingRun, Restatement
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization, UserOrganization
from orgcarbon.metamodel.versioned import Factor
from orgcarbon.metamodel.versioning import new_version, publish
from orgcarbon.platform.extensions import db
from tests.conftest import login

EF = 0.5703
SECOND_PASSWORD = "Demo-modeller2-1"


def _setup(app: Flask) -> tuple[int, int, int]:
    """东区 accounted; a new 焦炭 NCV published; a second modeller (华钢集团). Returns (run, factor, old factor)."""
    with app.app_context():
        east = db.session.scalar(select(Organization.id).where(Organization.name == "东区"))
        group = db.session.scalar(select(Organization.id).where(Organization.name == "华钢集团"))
        run = AccountOrganisation(db.session, east, 2024, electricity_ef=EF).run()
        coke = db.session.scalar(select(Material.id).where(Material.name == "焦炭"))
        old = db.session.scalar(select(Factor).where(Factor.material_id == coke, Factor.kind == "ncv",
                                                     Factor.status == "published"))
        draft = new_version(old, db.session)
        draft.value = 30.0
        publish(draft, db.session)
        sm = app.appbuilder.sm
        second = sm.add_user("modeller2", "二", "建模", "m2@example.invalid", sm.find_role("建模管理员"),
                             password=SECOND_PASSWORD)
        db.session.add(UserOrganization(user_id=second.id, organization_id=group))
        db.session.commit()
        return run.id, draft.id, old.id


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_modeller_requests_second_user_approves_requester_is_refused(app: Flask) -> None:
    """Request from the list page; the requester's approval is refused with 职责分离; modeller2's applies it."""
    run_id, factor_id, _ = _setup(app)
    modeller = app.test_client()
    login(modeller, "modeller", "Demo-modeller-1")
    second = app.test_client()
    login(second, "modeller2", SECOND_PASSWORD)
    app.config["WTF_CSRF_ENABLED"] = True  # after the logins: the pages check the token themselves
    assert 'href="/results/restatements"' in _page(modeller, "/")  # the 核算结果 menu entry
    listing = _page(modeller, "/results/restatements")
    assert f'name="factor_id" value="{factor_id}"' in listing and f"东区 2024 #{run_id}" in listing

    assert modeller.post("/results/restatements/request", data={"factor_id": factor_id, "policy": "restate"}
                         ).status_code == 400  # no CSRF token
    response = modeller.post("/results/restatements/request", follow_redirects=True,
                             data={"factor_id": factor_id, "policy": "restate", "csrf_token": _token(listing)})
    assert response.status_code == 200
    with app.app_context():
        request = db.session.scalar(select(Restatement).order_by(Restatement.id.desc()))
        assert (request.status, request.requested_by_name, request.factor_id) == ("pending", "modeller", factor_id)
        request_id = request.id
    page = response.get_data(as_text=True)
    assert f"#{request_id}" in page and "炼铁" in page and f"/results/restatement/{request_id}/approve" in page

    refused = modeller.post(f"/results/restatement/{request_id}/approve", follow_redirects=True,
                            data={"csrf_token": _token(page)})
    assert "申请人不能批准自己的重述申请（职责分离：须由另一名用户批准）" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Restatement, request_id).status == "pending"

    page = _page(second, f"/results/restatement/{request_id}")
    applied = second.post(f"/results/restatement/{request_id}/approve", follow_redirects=True,
                          data={"csrf_token": _token(page)})
    assert applied.status_code == 200
    with app.app_context():
        request = db.session.get(Restatement, request_id)
        assert (request.status, request.decided_by_name) == ("applied", "modeller2")
        old = db.session.get(AccountingRun, run_id)
        assert old.status == "superseded" and request.runs[0].new_run_id == old.superseded_by_id
    # Approving again is refused with the reason, shown as a message.
    again = second.post(f"/results/restatement/{request_id}/approve", follow_redirects=True,
                        data={"csrf_token": _token(page)})
    assert f"重述申请 {request_id} 不是待批准状态（restate/applied）" in again.get_data(as_text=True)


def test_freeze_and_reject_from_the_pages(app: Flask) -> None:
    """Freeze records a decision; a request rejected by the second user keeps the runs; viewer may not post."""
    run_id, factor_id, _ = _setup(app)
    modeller = app.test_client()
    login(modeller, "modeller", "Demo-modeller-1")
    response = modeller.post("/results/restatements/request", follow_redirects=True,
                             data={"factor_id": factor_id, "policy": "restate", "note": "新检测报告"})
    with app.app_context():
        request_id = db.session.scalar(select(Restatement.id).order_by(Restatement.id.desc()))
    second = app.test_client()
    login(second, "modeller2", SECOND_PASSWORD)
    second.post(f"/results/restatement/{request_id}/reject", data={"note": "等待核查"}, follow_redirects=True)
    with app.app_context():
        request = db.session.get(Restatement, request_id)
        assert request.status == "rejected" and "等待核查" in request.note
        assert db.session.get(AccountingRun, run_id).status == "done"

    response = modeller.post("/results/restatements/request", follow_redirects=True,
                             data={"factor_id": factor_id, "policy": "freeze"})
    assert response.status_code == 200
    with app.app_context():
        decision = db.session.scalar(select(Restatement).order_by(Restatement.id.desc()))
        assert (decision.policy, decision.status) == ("freeze", "frozen")
    # Nothing is left to decide: a second request is refused with the Chinese reason.
    again = modeller.post("/results/restatements/request", follow_redirects=True,
                          data={"factor_id": 999999, "policy": "restate"})
    assert "因子版本不存在" in again.get_data(as_text=True)

    viewer = app.test_client()
    login(viewer, "viewer", "Demo-viewer-1")
    denied = viewer.post("/results/restatements/request", data={"factor_id": factor_id, "policy": "restate"})
    assert denied.status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(select(Restatement).order_by(Restatement.id.desc())).policy == "freeze"
    assert 'name="policy"' not in _page(viewer, "/results/restatements")  # read only: no buttons


def test_recalculate_button_re_accounts_a_changed_run(app: Flask) -> None:
    """The restatements page lists a run whose data changed; its button re-accounts it (a new run)."""
    run_id, _, _ = _setup(app)
    with app.app_context():
        row = db.session.scalar(select(ActivityRecord).where(ActivityRecord.organization_id == db.session.get(
            AccountingRun, run_id).organization_id).order_by(ActivityRecord.id).limit(1))
        row.quantity += 1.0
        db.session.commit()
    modeller = app.test_client()
    login(modeller, "modeller", "Demo-modeller-1")
    listing = _page(modeller, "/results/restatements")
    assert "活动数据已变化（已有记录被修改）" in listing and "/results/recalc" in listing
    response = modeller.post("/results/recalc", follow_redirects=True)
    assert response.status_code == 200
    with app.app_context():
        old = db.session.get(AccountingRun, run_id)
        assert old.status == "superseded" and old.superseded_by_id is not None
        new = db.session.get(AccountingRun, old.superseded_by_id)
        assert new.created_by_name == "modeller" and new.factor_versions == old.factor_versions
