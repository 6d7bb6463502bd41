"""``/api/v1/forms/``: due forms, drafts with field errors, the review steps, scope, roles and validation."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from orgcarbon.forms import periods
from orgcarbon.forms.models import Submission
from orgcarbon.metamodel.models import ActivityRecord, UserOrganization
from orgcarbon.platform.extensions import db
from tests.conftest import ADMIN_PASSWORD, api_token, login
from tests.integration.forms.workflow_helpers import org, user, west_form

YEAR, MONTH = 2024, 5


@pytest.fixture()
def form(app: Flask) -> dict[str, Any]:
    """A two-step monthly form of 西区: id, organisation, field codes and valid values by code."""
    with app.app_context():
        made = west_form(db.session)
        db.session.commit()
        quantity = [f for f in made.fields if f.parameter == "quantity"]
        return {"id": made.id, "org": made.organization_id, "gas": quantity[0].code, "gas_id": quantity[0].id,
                "ncv": next(f.code for f in made.fields if f.parameter == "ncv"),
                "values": {f.code: "1,250.5" for f in quantity}}


class Api:
    """A JWT-authenticated caller."""

    def __init__(self, client: FlaskClient, name: str):
        password = ADMIN_PASSWORD if name == "admin" else f"Demo-{name}-1"
        self.client, self.headers = client, {"Authorization": f"Bearer {api_token(client, name, password)}"}

    def get(self, url: str) -> Any:
        return self.client.get(url, headers=self.headers)

    def post(self, url: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(url, json=body or {}, headers=self.headers)

    def put(self, url: str, body: dict[str, Any]) -> Any:
        return self.client.put(url, json=body, headers=self.headers)


def api(app: Flask, name: str) -> Api:
    return Api(app.test_client(), name)


def draft_body(form: dict[str, Any], values: dict[str, Any] | None = None, month: int = MONTH) -> dict[str, Any]:
    return {"form_id": form["id"], "organization_id": form["org"], "year": YEAR, "period": month,
            "values": form["values"] if values is None else values}


def submitted(app: Flask, form: dict[str, Any], name: str = "filler") -> int:
    caller = api(app, name)
    response = caller.put("/api/v1/forms/submissions", draft_body(form))
    assert response.status_code == 200, response.get_json()
    sub_id = response.get_json()["result"]["id"]
    assert caller.post(f"/api/v1/forms/submissions/{sub_id}/submit").status_code == 200
    return int(sub_id)


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)))


def test_due_lists_the_year_with_status(app: Flask, form: dict[str, Any]) -> None:
    caller = api(app, "filler")
    rows = [r for r in caller.get(f"/api/v1/forms/due?year={YEAR}").get_json()["result"] if r["form_id"] == form["id"]]
    assert sorted(r["period"] for r in rows) == list(range(1, 13))
    assert {(r["status"], r["status_label"], r["overdue"]) for r in rows} == {("none", "未填报", True)}
    assert next(r for r in rows if r["period"] == 3)["due_date"] == "2024-04-10"
    caller.put("/api/v1/forms/submissions", draft_body(form))
    rows = caller.get(f"/api/v1/forms/due?year={YEAR}").get_json()["result"]
    assert next(r for r in rows if r["form_id"] == form["id"] and r["period"] == MONTH)["status"] == "draft"


def test_bad_values_answer_422_by_field_and_write_nothing(app: Flask, form: dict[str, Any]) -> None:
    values = {**form["values"], form["gas"]: "十二", form["ncv"]: "75", "no_such_field": "1"}
    response = api(app, "filler").put("/api/v1/forms/submissions", draft_body(form, values))
    assert response.status_code == 422
    errors = {e["field"]: e["reason"] for e in response.get_json()["errors"]}
    assert errors == {form["gas"]: "应为数字，实际为“十二”", form["ncv"]: "不能大于 60（填写了 75）",
                      "no_such_field": "表单中没有此字段"}
    assert count(app, Submission) == 0


def test_draft_submit_review_approve_by_three_people(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    reviewer, approver = api(app, "reviewer"), api(app, "approver")
    reviewed = reviewer.post(f"/api/v1/forms/submissions/{sub_id}/review", {"comment": "已核对"})
    assert reviewed.status_code == 200 and reviewed.get_json()["result"]["waits_for"] == "approve"
    refused = reviewer.post(f"/api/v1/forms/submissions/{sub_id}/approve")
    assert refused.status_code == 422 and refused.get_json()["message"] == ["批准人不能是审核人本人（审核与批准须由不同的人完成）"]
    done = approver.post(f"/api/v1/forms/submissions/{sub_id}/approve").get_json()["result"]
    assert done["status"] == "approved" and done["approved_by"] == "approver" and done["reviewed_by"] == "reviewer"
    assert done["values"] == {code: 1250.5 for code in form["values"]}
    assert done["units"][form["gas"]]
    assert [h["label"] for h in done["history"]] == ["创建", "保存草稿", "提交", "审核通过", "批准"]
    with app.app_context():
        quantities = db.session.execute(select(ActivityRecord.quantity)
                                        .where(ActivityRecord.submission_id == sub_id)).scalars().all()
        assert quantities == [1250.5] * len(form["values"])


def test_reject_needs_a_reason_and_the_reason_reaches_the_draft(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    reviewer = api(app, "reviewer")
    refused = reviewer.post(f"/api/v1/forms/submissions/{sub_id}/reject", {"reason": ""})
    assert refused.status_code == 422 and refused.get_json()["message"] == ["驳回必须填写原因"]
    done = reviewer.post(f"/api/v1/forms/submissions/{sub_id}/reject", {"reason": "缺少发票"}).get_json()["result"]
    assert (done["status"], done["rejection_reason"]) == ("draft", "缺少发票")
    mine = api(app, "filler").get(f"/api/v1/forms/submissions/{sub_id}").get_json()["result"]
    assert mine["rejection_reason"] == "缺少发票" and mine["history"][-1]["comment"] == "缺少发票"


def test_the_submitter_cannot_review_even_with_every_permission(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form, "admin")
    refused = api(app, "admin").post(f"/api/v1/forms/submissions/{sub_id}/review")
    assert refused.status_code == 422 and refused.get_json()["message"] == ["审核人不能是提交人本人"]
    with app.app_context():
        assert db.session.get(Submission, sub_id).status == "submitted"


def test_saving_a_submitted_form_is_refused(app: Flask, form: dict[str, Any]) -> None:
    submitted(app, form)
    response = api(app, "filler").put("/api/v1/forms/submissions", draft_body(form, {form["gas"]: "1"}))
    assert response.status_code == 422
    assert "已提交审核，不能修改" in response.get_json()["message"][0]


def test_roles(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    assert api(app, "filler").post(f"/api/v1/forms/submissions/{sub_id}/approve").status_code == 403
    assert api(app, "reviewer").put("/api/v1/forms/submissions", draft_body(form, month=6)).status_code == 403
    assert api(app, "viewer").get(f"/api/v1/forms/submissions/{sub_id}").status_code == 403
    assert api(app, "reviewer").get(f"/api/v1/forms/submissions/{sub_id}").status_code == 200
    assert app.test_client().get(f"/api/v1/forms/submissions/{sub_id}").status_code == 401


def test_another_organisation_answers_404(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    with app.app_context():
        sm = app.appbuilder.sm
        east = sm.add_user("eastfill", "东", "填报", "ef@example.invalid", sm.find_role("数据填报员"),
                           password="Demo-eastfill-1")
        db.session.add(UserOrganization(user_id=east.id, organization_id=org(db.session, "东区").id))
        db.session.commit()
    caller = api(app, "eastfill")
    assert caller.get(f"/api/v1/forms/submissions/{sub_id}").status_code == 404
    assert caller.post(f"/api/v1/forms/submissions/{sub_id}/comment", {"comment": "x"}).status_code == 404
    assert caller.put("/api/v1/forms/submissions", draft_body(form, month=7)).status_code == 404
    assert caller.post("/api/v1/forms/validate", {"field_id": form["gas_id"], "value": "1"}).status_code == 404
    assert not [r for r in caller.get(f"/api/v1/forms/due?year={YEAR}").get_json()["result"]
                if r["form_id"] == form["id"]]
    assert count(app, Submission) == 1


def test_closed_period_refuses_a_draft(app: Flask, form: dict[str, Any]) -> None:
    with app.app_context():
        periods.close_period(db.session, form["org"], YEAR, MONTH, user(db.session, "reviewer"))
        db.session.commit()
    response = api(app, "filler").put("/api/v1/forms/submissions", draft_body(form))
    assert response.status_code == 422
    assert response.get_json()["message"] == [f"期间 西区 {YEAR}-{MONTH:02d} 已关闭，不能修改；如需修改请先申请重新开放"]
    assert count(app, Submission) == 0


def test_validate_one_field(app: Flask, form: dict[str, Any]) -> None:
    caller = api(app, "filler")

    def check(value: Any) -> dict[str, Any]:
        response = caller.post("/api/v1/forms/validate", {"field_id": form["gas_id"], "value": value})
        assert response.status_code == 200
        return response.get_json()

    assert check("abc") == {"ok": False, "field": form["gas"], "reason": "应为数字，实际为“abc”"}
    assert check("-3")["reason"] == "不能为负数（-3）"
    assert check("1,200") == {"ok": True, "field": form["gas"], "value": 1200.0}
    assert check("")["ok"] is True  # an empty field is fine in a draft; submit checks required fields
    assert caller.post("/api/v1/forms/validate", {"value": "1"}).status_code == 422


def test_revision_and_its_difference(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    api(app, "reviewer").post(f"/api/v1/forms/submissions/{sub_id}/review")
    api(app, "approver").post(f"/api/v1/forms/submissions/{sub_id}/approve")
    filler = api(app, "filler")
    refused = filler.post(f"/api/v1/forms/submissions/{sub_id}/revise", {"reason": ""})
    assert refused.status_code == 422 and refused.get_json()["message"] == ["修改已批准的数据必须填写原因"]
    second = filler.post(f"/api/v1/forms/submissions/{sub_id}/revise", {"reason": "更正"}).get_json()["result"]
    assert (second["version"], second["previous_id"], second["status"]) == (2, sub_id, "draft")
    saved = filler.put("/api/v1/forms/submissions", draft_body(form, {form["gas"]: "1000"})).get_json()["result"]
    assert saved["id"] == second["id"]
    assert [(c["code"], c["before"], c["after"], c["change"]) for c in saved["changes"]] == [
        (form["gas"], 1250.5, 1000.0, -250.5)]


def test_browser_session_must_send_json_to_change_anything(app: Flask, form: dict[str, Any]) -> None:
    """A cross-site form post carries the cookie but cannot send JSON: it changes nothing."""
    sub_id = submitted(app, form)
    client = app.test_client()
    login(client, "reviewer", "Demo-reviewer-1")
    forged = client.post(f"/api/v1/forms/submissions/{sub_id}/reject", data={"reason": "x"})
    assert forged.status_code == 400
    assert client.post(f"/api/v1/forms/submissions/{sub_id}/comment", json={"comment": "好"}).status_code == 200
    with app.app_context():
        assert db.session.get(Submission, sub_id).status == "submitted"
