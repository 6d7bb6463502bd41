"""The review workflow: drafts, separation of duties, rejection, approval into activity data, versions, locks."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from orgcarbon.forms import periods, service
from orgcarbon.forms.evidence import add_evidence, verify_file
from orgcarbon.forms.models import Submission, WorkflowEvent
from orgcarbon.metamodel.models import ActivityRecord
from orgcarbon.platform.extensions import db
from orgcarbon.security.crypto.sm3 import sm3_hex
from tests.integration.forms.workflow_helpers import org, user, west_form


def _fill(form):  # type: ignore[no-untyped-def]
    values = {}
    for field in form.fields:
        if field.parameter == "quantity":
            values[field.code] = "1,250.5"
        elif field.parameter == "ncv":
            values[field.code] = "38.9"
    return values


def test_full_cycle_with_two_steps_writes_activity_and_history(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        filler, reviewer, approver = user(s, "filler"), user(s, "reviewer"), user(s, "approver")
        sub = service.get_or_create_draft(s, form, form.organization_id, 2025, 3, filler)
        service.save_draft(s, sub, _fill(form), filler)
        service.submit(s, sub, filler)
        with pytest.raises(service.WorkflowError, match="审核人不能是提交人本人"):
            service.review(s, sub, filler)
        service.reject(s, sub, reviewer, "天然气数量与计量单不符")
        assert sub.status == "draft" and sub.rejection_reason == "天然气数量与计量单不符"
        gas = next(f for f in form.fields if f.parameter == "quantity")
        service.save_draft(s, sub, {gas.code: "1300"}, filler)
        service.submit(s, sub, filler)
        service.review(s, sub, reviewer, "已核对")
        with pytest.raises(service.WorkflowError, match="批准人不能是审核人本人"):
            service.approve(s, sub, reviewer)
        with pytest.raises(service.WorkflowError, match="批准人不能是提交人本人"):
            service.approve(s, sub, filler)
        service.approve(s, sub, approver)
        s.commit()
        rows = s.execute(select(ActivityRecord).where(ActivityRecord.submission_id == sub.id)).scalars().all()
        quantities = sorted(r.quantity for r in rows)
        n_quantity = sum(1 for f in form.fields if f.parameter == "quantity")
        assert len(rows) == n_quantity
        assert 1300.0 in quantities and quantities.count(1250.5) == n_quantity - 1
        assert all(r.month == "2025-03" and r.source == "form" for r in rows)
        ncv_rows = [r for r in rows if r.ncv is not None]
        assert ncv_rows and all(r.ncv == 38.9 for r in ncv_rows)
        actions = [e.action for e in sub.events]
        assert actions == ["create", "save", "submit", "reject", "save", "submit", "review", "approve"]
        assert sub.submitted_by_id == filler.id and sub.reviewed_by_id == reviewer.id
        assert sub.approved_by_id == approver.id


def test_one_step_form_is_approved_directly_and_reviewed_step_refused(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s, review_steps=1)
        filler, approver = user(s, "filler"), user(s, "approver")
        sub = service.get_or_create_draft(s, form, form.organization_id, 2025, 1, filler)
        service.save_draft(s, sub, _fill(form), filler)
        service.submit(s, sub, filler)
        with pytest.raises(service.WorkflowError, match="只有一级审核"):
            service.review(s, sub, approver)
        service.approve(s, sub, approver)
        assert sub.status == "approved"


def test_bad_values_refuse_the_whole_save(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        filler = user(s, "filler")
        sub = service.get_or_create_draft(s, form, form.organization_id, 2025, 2, filler)
        quantity = [f for f in form.fields if f.parameter == "quantity"]
        ncv = next(f for f in form.fields if f.parameter == "ncv")
        with pytest.raises(service.ValidationFailed) as info:
            service.save_draft(s, sub, {quantity[0].code: "abc", quantity[1].code: "-5", ncv.code: "99",
                                        quantity[2].code: "10"}, filler)
        reasons = {e.code: e.reason for e in info.value.errors}
        assert reasons[quantity[0].code] == "应为数字，实际为“abc”"
        assert reasons[quantity[1].code] == "不能为负数（-5）"
        assert reasons[ncv.code] == "不能大于 60（填写了 99）"
        s.flush()
        assert s.scalar(select(func.count()).select_from(service.SubmissionValue)
                        .where(service.SubmissionValue.submission_id == sub.id)) == 0
        service.save_draft(s, sub, {quantity[0].code: "10"}, filler)
        with pytest.raises(service.ValidationFailed) as info:
            service.submit(s, sub, filler)
        assert {e.reason for e in info.value.errors} == {"必填项未填写"}
        assert sub.status == "draft"


def test_revision_after_approval_replaces_activity_and_keeps_old_version(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s, review_steps=1)
        filler, approver = user(s, "filler"), user(s, "approver")
        first = service.get_or_create_draft(s, form, form.organization_id, 2025, 4, filler)
        service.save_draft(s, first, _fill(form), filler)
        service.submit(s, first, filler)
        service.approve(s, first, approver)
        with pytest.raises(service.WorkflowError, match="已批准"):
            service.get_or_create_draft(s, form, form.organization_id, 2025, 4, filler)
        second = service.start_revision(s, first, filler, "化验单更正")
        quantity = next(f for f in form.fields if f.parameter == "quantity")
        service.save_draft(s, second, {quantity.code: "999"}, filler)
        diff = service.diff_versions(first, second)
        assert [(d["code"], d["before"], d["after"]) for d in diff] == [(quantity.code, 1250.5, 999.0)]
        service.submit(s, second, filler)
        service.approve(s, second, approver)
        s.commit()
        assert first.status == "superseded" and second.status == "approved" and second.version == 2
        assert s.scalar(select(func.count()).select_from(ActivityRecord)
                        .where(ActivityRecord.submission_id == first.id)) == 0
        assert 999.0 in s.execute(select(ActivityRecord.quantity)
                                  .where(ActivityRecord.submission_id == second.id)).scalars().all()


def test_closed_period_refuses_changes_and_reopen_needs_another_person(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s, review_steps=1)
        filler, reviewer, approver = user(s, "filler"), user(s, "reviewer"), user(s, "approver")
        company = org(s, "华钢钢铁股份有限公司")
        sub = service.get_or_create_draft(s, form, form.organization_id, 2025, 5, filler)
        service.save_draft(s, sub, _fill(form), filler)
        service.submit(s, sub, filler)
        with pytest.raises(periods.WorkflowError, match="1 份填报待审核"):
            periods.close_period(s, company.id, 2025, 5, reviewer)
        service.approve(s, sub, approver)
        period = periods.close_period(s, company.id, 2025, 5, reviewer, "五月数据已确认")
        assert periods.period_locked(s, form.organization_id, 2025, 5)  # the subtree is locked
        assert not periods.period_locked(s, form.organization_id, 2025, 6)
        with pytest.raises(service.WorkflowError, match="已关闭"):
            service.start_revision(s, sub, filler, "更正")
        with pytest.raises(periods.WorkflowError, match="必须填写原因"):
            periods.request_reopen(s, period, reviewer, "  ")
        periods.request_reopen(s, period, reviewer, "化验单更正")
        with pytest.raises(periods.WorkflowError, match="申请人以外"):
            periods.approve_reopen(s, period, reviewer)
        periods.approve_reopen(s, period, approver)
        assert not periods.period_locked(s, form.organization_id, 2025, 5)
        service.start_revision(s, sub, filler, "更正")
        actions = s.execute(select(WorkflowEvent.action).where(WorkflowEvent.period_id == period.id)
                            .order_by(WorkflowEvent.id)).scalars().all()
        assert actions == ["close", "reopen_request", "reopen"]


def test_evidence_is_kept_with_its_sm3_digest_and_required_before_submit(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s, review_steps=1, evidence_required=True)
        filler = user(s, "filler")
        sub = service.get_or_create_draft(s, form, form.organization_id, 2025, 6, filler)
        service.save_draft(s, sub, _fill(form), filler)
        with pytest.raises(service.WorkflowError, match="至少一份证据"):
            service.submit(s, sub, filler)
        with pytest.raises(service.WorkflowError, match="类型不允许"):
            add_evidence(s, app.instance_path, sub, "run.exe", b"MZ", filler)
        content = "化验单：低位发热量 38.9 GJ/t".encode()
        evidence = add_evidence(s, app.instance_path, sub, "化验单.pdf", content, filler)
        assert evidence.sm3 == sm3_hex(content) and evidence.size == len(content)
        assert verify_file(app.instance_path, evidence.stored_path, evidence.sm3)
        service.submit(s, sub, filler)
        assert sub.status == "submitted"


def test_forms_due_lists_periods_with_status(app: Flask) -> None:
    import datetime as dt

    from orgcarbon.security.scope import org_scope

    with app.app_context():
        s = db.session
        form = west_form(s)
        filler = user(s, "filler")
        sub = service.get_or_create_draft(s, form, form.organization_id, 2025, 2, filler)
        items = [i for i in service.forms_due(s, org_scope(filler, s), 2025, today=dt.date(2025, 3, 15))
                 if i.form_id == form.id]
        assert [(i.label, i.status, i.overdue) for i in sorted(items, key=lambda i: i.period)] == [
            ("2025-01", "none", True), ("2025-02", "draft", True), ("2025-03", "none", False)]
        assert next(i for i in items if i.period == 2).submission_id == sub.id
        viewer = user(s, "viewer")  # 东区 cannot fill 西区's form
        assert not [i for i in service.forms_due(s, org_scope(viewer, s), 2025) if i.form_id == form.id]
        assert s.scalar(select(func.count()).select_from(Submission)) >= 1


def test_each_step_is_signed_with_sm2_and_verifies(app: Flask) -> None:
    from orgcarbon.security.models import Signature
    from orgcarbon.security.signatures import verify_signature

    with app.app_context():
        s = db.session
        form = west_form(s)
        filler, reviewer, approver = user(s, "filler"), user(s, "reviewer"), user(s, "approver")
        sub = service.get_or_create_draft(s, form, form.organization_id, 2025, 7, filler)
        service.save_draft(s, sub, _fill(form), filler)
        service.submit(s, sub, filler)
        service.review(s, sub, reviewer)
        service.approve(s, sub, approver)
        s.commit()
        rows = s.execute(select(Signature).where(Signature.object_type == "fm_submission",
                                                 Signature.object_id == sub.id).order_by(Signature.id)).scalars().all()
        assert [(r.action, r.username) for r in rows] == [
            ("submit", "filler"), ("review", "reviewer"), ("approve", "approver")]
        assert all(verify_signature(s, r) for r in rows)
        quantity = next(f for f in form.fields if f.parameter == "quantity")
        assert rows[0].content["values"][quantity.code] == 1250.5
        tampered = rows[0]
        tampered.content = {**tampered.content, "values": {**tampered.content["values"], quantity.code: 1.0}}
        assert not verify_signature(s, tampered)
