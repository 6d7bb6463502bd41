"""数据填报 pages: 我的填报, filling with field errors and evidence, review decisions, periods, scope and roles."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from orgcarbon.forms.models import Evidence, Period, Submission
from orgcarbon.metamodel.models import ActivityRecord, UserOrganization
from orgcarbon.platform.extensions import db
from orgcarbon.security.crypto.sm3 import sm3_hex
from tests.conftest import ADMIN_PASSWORD, login
from tests.integration.forms.workflow_helpers import org, west_form

YEAR, MONTH = 2024, 3
PASSWORDS = {"admin": ADMIN_PASSWORD}


@pytest.fixture()
def form(app: Flask) -> dict[str, Any]:
    """A two-step monthly form of 西区: its id, field ids by code and a valid set of values."""
    with app.app_context():
        made = west_form(db.session)
        db.session.commit()
        fields = {f.code: f.id for f in made.fields}
        quantity = [f for f in made.fields if f.parameter == "quantity"]
        values = {f"f{f.id}": "260" for f in quantity}
        return {"id": made.id, "fields": fields, "values": values, "gas": quantity[0].id,
                "gas_unit": quantity[0].unit, "name": made.name, "org": made.organization_id}


def as_user(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    body = login(client, name, PASSWORDS.get(name, f"Demo-{name}-1")).get_data(as_text=True)
    assert f"当前用户：{name}" in body
    return client


def fill_url(form: dict[str, Any], month: int = MONTH) -> str:
    return f"/forms/fill/{form['id']}/{YEAR}/{month}"


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)))


def submitted(app: Flask, form: dict[str, Any], user: str = "filler") -> int:
    """Fill and submit through the page; returns the submission id."""
    client = as_user(app, user)
    response = client.post(fill_url(form), data={**form["values"], "action": "submit"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def error_of(page: str, field_id: int) -> str:
    found = re.search(rf'id="err-{field_id}"[^>]*>([^<]*)<', page)
    assert found, f"no error slot for field {field_id}"
    return found.group(1)


def test_due_page_lists_the_form_periods_with_status_and_overdue(app: Flask, form: dict[str, Any]) -> None:
    """我的填报 lists every month of the year with its status; past due months are marked overdue."""
    page = as_user(app, "filler").get(f"/forms/?year={YEAR}").get_data(as_text=True)
    rows = re.findall(rf'<tr class="due-row( danger)?" data-form="{form["id"]}" data-period="(\d+)"', page)
    assert sorted(int(p) for _, p in rows) == list(range(1, 13))
    assert all(danger for danger, _ in rows)  # 2024 is over: every month is overdue
    assert "未填报" in page and form["name"] in page
    assert f'href="{fill_url(form)}"' in page


def test_fill_page_shows_units_help_and_immediate_validation_hook(app: Flask, form: dict[str, Any]) -> None:
    with app.app_context():
        from orgcarbon.forms.models import FormField

        gas = db.session.get(FormField, form["gas"])
        gas.help_text = "按燃气计量表读数填写"
        db.session.commit()
    page = as_user(app, "filler").get(fill_url(form)).get_data(as_text=True)
    assert f'name="f{form["gas"]}"' in page
    unit = re.search(rf'id="f{form["gas"]}".*?class="input-group-addon unit"[^>]*>([^<]*)<', page, re.S)
    assert unit and unit.group(1) == form["gas_unit"]
    assert "按燃气计量表读数填写" in page
    assert "/api/v1/forms/validate" in page and 'id="save-draft"' in page and 'id="submit-form"' in page
    assert 'name="evidence"' in page and 'enctype="multipart/form-data"' in page


def test_bad_value_is_shown_next_to_the_field_typed_values_kept_nothing_written(
        app: Flask, form: dict[str, Any]) -> None:
    client = as_user(app, "filler")
    ncv = form["fields"][next(c for c in form["fields"] if c.startswith("ncv"))]
    data = {**form["values"], f"f{form['gas']}": "-5", f"f{ncv}": "abc", "action": "save"}
    response = client.post(fill_url(form), data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, form["gas"]) == "不能为负数（-5）"
    assert error_of(page, ncv) == "应为数字，实际为“abc”"
    assert 'value="-5"' in page and 'value="abc"' in page  # what was typed stays on screen
    with app.app_context():
        assert count(Submission) == 0


def test_save_draft_with_evidence_then_submit(app: Flask, form: dict[str, Any]) -> None:
    """Values and a file in one post; the file is kept with its SM3 digest; 提交 moves the draft on."""
    client = as_user(app, "filler")
    content = "化验单：天然气低位发热量 389.31 GJ/10^4Nm3".encode()
    data = {**form["values"], "action": "save", "evidence_field": str(form["gas"]),
            "evidence": (io.BytesIO(content), "化验单.pdf")}
    response = client.post(fill_url(form), data=data, content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith(fill_url(form))
    with app.app_context():
        sub = db.session.execute(select(Submission)).scalar_one()
        assert sub.status == "draft" and sorted(v.value_number for v in sub.values) == [260.0] * len(form["values"])
        evidence = db.session.execute(select(Evidence)).scalar_one()
        assert (evidence.filename, evidence.field_id, evidence.sm3) == ("化验单.pdf", form["gas"], sm3_hex(content))
        sub_id, evidence_id = sub.id, evidence.id
    page = client.get(fill_url(form)).get_data(as_text=True)
    assert sm3_hex(content) in page and 'value="260"' in page
    download = client.get(f"/forms/evidence/{evidence_id}")
    assert download.status_code == 200 and download.data == content
    response = client.post(fill_url(form), data={**form["values"], "action": "submit"})
    assert response.headers["Location"].endswith(f"/forms/submission/{sub_id}")
    with app.app_context():
        assert db.session.get(Submission, sub_id).status == "submitted"


def test_evidence_of_a_bad_type_is_refused_and_nothing_is_written(app: Flask, form: dict[str, Any]) -> None:
    client = as_user(app, "filler")
    data = {**form["values"], "action": "save", "evidence": (io.BytesIO(b"MZ\x90\x00"), "run.exe")}
    response = client.post(fill_url(form), data=data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "文件“run.exe”的类型不允许" in page
    assert 'value="260"' in page
    with app.app_context():
        assert count(Submission) == 0 and count(Evidence) == 0


def test_submitting_with_a_missing_required_field_saves_the_draft_and_says_why(
        app: Flask, form: dict[str, Any]) -> None:
    client = as_user(app, "filler")
    data = {**form["values"], f"f{form['gas']}": "", "action": "submit"}
    response = client.post(fill_url(form), data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, form["gas"]) == "必填项未填写"
    with app.app_context():
        assert db.session.execute(select(Submission.status)).scalar_one() == "draft"


def test_saving_a_submitted_form_is_refused(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    client = as_user(app, "filler")
    page = client.get(fill_url(form)).get_data(as_text=True)
    assert f'name="f{form["gas"]}"' not in page  # read-only while under review
    response = client.post(fill_url(form), data={**form["values"], f"f{form['gas']}": "999", "action": "save"})
    assert response.status_code == 422
    assert "已提交审核，不能修改" in response.get_data(as_text=True)
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        assert sub.status == "submitted" and 999.0 not in [v.value_number for v in sub.values]


def test_reject_needs_a_reason_and_the_filler_sees_it(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    reviewer = as_user(app, "reviewer")
    page = reviewer.get(f"/forms/submission/{sub_id}").get_data(as_text=True)
    assert 'id="do-review"' in page and 'id="do-reject"' in page and 'id="do-approve"' not in page
    refused = reviewer.post(f"/forms/submission/{sub_id}/reject", data={"comment": "  "}, follow_redirects=True)
    assert "驳回必须填写原因" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Submission, sub_id).status == "submitted"
    reviewer.post(f"/forms/submission/{sub_id}/reject", data={"comment": "天然气用量与计量单不符"})
    filler = as_user(app, "filler")
    fill = filler.get(fill_url(form)).get_data(as_text=True)
    assert 'id="rejection-reason"' in fill and "天然气用量与计量单不符" in fill
    assert f'name="f{form["gas"]}"' in fill  # editable again
    due = filler.get(f"/forms/?year={YEAR}").get_data(as_text=True)
    assert "天然气用量与计量单不符" in due


def test_two_steps_by_two_other_people_write_activity_data(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    reviewer, approver = as_user(app, "reviewer"), as_user(app, "approver")
    queue = reviewer.get("/forms/review").get_data(as_text=True)
    assert f'data-submission="{sub_id}"' in queue and "已提交" in queue
    response = reviewer.post(f"/forms/submission/{sub_id}/review", data={"comment": "已核对计量单"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/forms/review")
    own = reviewer.post(f"/forms/submission/{sub_id}/approve", data={}, follow_redirects=True)
    assert "批准人不能是审核人本人" in own.get_data(as_text=True)
    page = approver.get(f"/forms/submission/{sub_id}").get_data(as_text=True)
    assert 'id="do-approve"' in page and 'id="do-review"' not in page
    approver.post(f"/forms/submission/{sub_id}/approve", data={"comment": "同意"})
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        assert sub.status == "approved"
        rows = db.session.execute(select(ActivityRecord).where(ActivityRecord.submission_id == sub_id)).scalars().all()
        assert len(rows) == len(form["values"]) and {r.quantity for r in rows} == {260.0}
        assert {r.month for r in rows} == {f"{YEAR}-{MONTH:02d}"}
    history = approver.get(f"/forms/submission/{sub_id}").get_data(as_text=True)
    for label in ("创建", "保存草稿", "提交", "审核通过", "批准"):
        assert f"<td>{label}" in history, label
    assert "已核对计量单" in history
    signatures = history.split('id="signatures"', 1)[1].split("</table>", 1)[0]
    assert signatures.count("label-success") == 3 and "label-danger" not in signatures


def test_the_same_person_cannot_review_what_they_submitted(app: Flask, form: dict[str, Any]) -> None:
    """The administrator holds every permission, and still cannot review their own submission."""
    sub_id = submitted(app, form, user="admin")
    admin = as_user(app, "admin")
    page = admin.get(f"/forms/submission/{sub_id}").get_data(as_text=True)
    assert 'id="do-review"' not in page and 'id="do-reject"' not in page
    response = admin.post(f"/forms/submission/{sub_id}/review", data={}, follow_redirects=True)
    assert "审核人不能是提交人本人" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Submission, sub_id).status == "submitted"


def test_roles_filler_cannot_decide_reviewer_cannot_fill_viewer_cannot_read(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    filler = as_user(app, "filler")
    assert filler.post(f"/forms/submission/{sub_id}/approve", data={}).status_code == 403
    assert filler.post("/forms/periods/close", data={"organization_id": form["org"], "year": YEAR,
                                                     "month": 4}).status_code == 403
    reviewer = as_user(app, "reviewer")
    assert reviewer.get(fill_url(form)).status_code == 200  # reading is open to reviewers
    assert reviewer.post(fill_url(form, 5), data={**form["values"], "action": "save"}).status_code == 403
    viewer = as_user(app, "viewer")
    assert viewer.get("/forms/").status_code == 403
    assert viewer.get(f"/forms/submission/{sub_id}").status_code == 403
    with app.app_context():
        assert db.session.get(Submission, sub_id).status == "submitted" and count(Period) == 0


def test_menu_entries_follow_the_areas(app: Flask, form: dict[str, Any]) -> None:
    filler_home = as_user(app, "filler").get("/").get_data(as_text=True)
    reviewer_home = as_user(app, "reviewer").get("/").get_data(as_text=True)
    assert 'href="/forms/"' in filler_home and 'href="/forms/periods"' in filler_home
    assert 'href="/forms/review"' not in filler_home
    for href in ("/forms/", "/forms/review", "/forms/periods"):
        assert f'href="{href}"' in reviewer_home, href


def test_another_organisations_submission_and_evidence_answer_404(app: Flask, form: dict[str, Any]) -> None:
    client = as_user(app, "filler")
    client.post(fill_url(form), data={**form["values"], "action": "save",
                                      "evidence": (io.BytesIO(b"meter photo"), "meter.jpg")},
                content_type="multipart/form-data")
    with app.app_context():
        sub_id = db.session.execute(select(Submission.id)).scalar_one()
        evidence_id = db.session.execute(select(Evidence.id)).scalar_one()
        sm = app.appbuilder.sm
        east_filler = sm.add_user("eastfill", "东", "填报", "ef@example.invalid", sm.find_role("数据填报员"),
                                  password="Demo-eastfill-1")
        db.session.add(UserOrganization(user_id=east_filler.id, organization_id=org(db.session, "东区").id))
        db.session.commit()
    east = as_user(app, "eastfill")
    assert east.get(f"/forms/submission/{sub_id}").status_code == 404
    assert east.get(f"/forms/evidence/{evidence_id}").status_code == 404
    assert east.get(fill_url(form)).status_code == 404
    assert east.post(fill_url(form), data={**form["values"], "action": "save"}).status_code == 404
    assert east.post(f"/forms/submission/{sub_id}/comment", data={"comment": "看看"}).status_code == 404
    assert form["name"] not in east.get(f"/forms/?year={YEAR}").get_data(as_text=True)


def test_closed_period_refuses_saving_and_reopening_needs_a_reason_and_another_person(
        app: Flask, form: dict[str, Any]) -> None:
    reviewer, approver, filler = as_user(app, "reviewer"), as_user(app, "approver"), as_user(app, "filler")
    key = {"organization_id": form["org"], "year": YEAR, "month": MONTH}
    response = reviewer.post("/forms/periods/close", data={**key, "reason": "三月数据已确认"})
    assert response.status_code == 302
    grid = reviewer.get(f"/forms/periods?year={YEAR}").get_data(as_text=True)
    assert f'id="cell-{form["org"]}-{MONTH}"' in grid
    assert re.search(rf'id="cell-{form["org"]}-{MONTH}"\s+data-state="closed"', grid)
    assert re.search(rf'id="cell-{form["org"]}-{MONTH + 1}"\s+data-state="open"', grid)
    refused = filler.post(fill_url(form), data={**form["values"], "action": "save"})
    assert refused.status_code == 422 and "已关闭" in refused.get_data(as_text=True)
    page = filler.get(fill_url(form)).get_data(as_text=True)
    assert 'id="locked"' in page and f'name="f{form["gas"]}"' not in page
    no_reason = filler.post("/forms/periods/request-reopen", data={**key, "reason": " "}, follow_redirects=True)
    assert "申请重新开放期间必须填写原因" in no_reason.get_data(as_text=True)
    reviewer.post("/forms/periods/request-reopen", data={**key, "reason": "化验单更正"})
    with app.app_context():
        period = db.session.execute(select(Period)).scalar_one()
        assert (period.status, period.reopen_reason) == ("reopen_requested", "化验单更正")
        period_id = period.id
    own = reviewer.post(f"/forms/periods/{period_id}/approve", data={}, follow_redirects=True)
    assert "重新开放期间须由申请人以外的人批准" in own.get_data(as_text=True)
    assert filler.post(f"/forms/periods/{period_id}/approve", data={}).status_code == 403
    approver.post(f"/forms/periods/{period_id}/approve", data={})
    with app.app_context():
        assert db.session.get(Period, period_id).status == "open"
    assert filler.post(fill_url(form), data={**form["values"], "action": "save"}).status_code == 302


def test_approved_data_is_read_only_and_a_change_is_a_new_version_with_its_difference(
        app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    as_user(app, "reviewer").post(f"/forms/submission/{sub_id}/review", data={})
    as_user(app, "approver").post(f"/forms/submission/{sub_id}/approve", data={})
    filler = as_user(app, "filler")
    page = filler.get(fill_url(form)).get_data(as_text=True)
    assert f'name="f{form["gas"]}"' not in page and 'id="revise"' in page
    no_reason = filler.post(f"/forms/submission/{sub_id}/revise", data={"reason": ""}, follow_redirects=True)
    assert "修改已批准的数据必须填写原因" in no_reason.get_data(as_text=True)
    response = filler.post(f"/forms/submission/{sub_id}/revise", data={"reason": "计量表校准后更正"})
    assert response.headers["Location"].endswith(fill_url(form))
    filler.post(fill_url(form), data={**form["values"], f"f{form['gas']}": "255.5", "action": "save"})
    with app.app_context():
        second = db.session.execute(select(Submission).where(Submission.version == 2)).scalar_one()
        assert second.previous_id == sub_id and second.status == "draft"
        second_id = second.id
    show = filler.get(f"/forms/submission/{second_id}").get_data(as_text=True)
    diff = show[show.index('id="diff"'):]
    assert "255.5" in diff and "260" in diff and "-4.5" in diff
    assert "修改已批准数据（新版本）" in show and "计量表校准后更正" in show


def test_comment_goes_into_the_history(app: Flask, form: dict[str, Any]) -> None:
    sub_id = submitted(app, form)
    reviewer = as_user(app, "reviewer")
    page = reviewer.post(f"/forms/submission/{sub_id}/comment", data={"comment": "请补充发票"},
                         follow_redirects=True).get_data(as_text=True)
    assert "<td>评论" in page and "请补充发票" in page
    empty = reviewer.post(f"/forms/submission/{sub_id}/comment", data={"comment": ""}, follow_redirects=True)
    assert "评论不能为空" in empty.get_data(as_text=True)
