"""Excel imports of a form: a good file lands in drafts; every bad input is refused with its Chinese
reason, nothing written, the original kept and the workbook returned annotated; duplicates refused."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import select

from orgcarbon.forms import periods, service
from orgcarbon.forms.evidence import verify_file
from orgcarbon.forms.models import ImportBatch, Submission, WorkflowEvent
from orgcarbon.platform.extensions import db
from orgcarbon.security.models import AuditEntry
from tests.conftest import login, run_cli
from tests.integration.forms.import_helpers import fill, full_values, row_of, run, template, written
from tests.integration.forms.workflow_helpers import org, user, west_form


def _refused(app: Flask, batch: ImportBatch, reason: str) -> None:
    """The batch was refused for ``reason``, wrote nothing and kept the original file."""
    assert batch.status == "rejected", batch.message
    reasons = [e["reason"] for e in batch.errors or []] + [batch.message or ""]
    assert any(reason in r for r in reasons), reasons
    assert batch.submission_ids is None and batch.created_count == 0
    assert verify_file(app.instance_path, batch.stored_path, batch.sm3)


def test_good_import_creates_drafts_with_import_rows_and_one_audit_entry(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        filler = user(s, "filler")
        content = template(s, form)
        batch = run(app, s, form, fill(content, {**full_values(form, "2025-01"), **full_values(form, "2025-02")}),
                    filler)
        assert batch.status == "done", batch.errors
        assert batch.created_count == 2 * len(form.fields) and len(batch.submission_ids or []) == 2
        assert batch.done_rows == batch.total_rows == 12 * len(form.fields)
        drafts = s.scalars(select(Submission).where(Submission.form_id == form.id).order_by(Submission.period)).all()
        assert [(d.period, d.status, d.source, d.import_id) for d in drafts] == [
            (1, "draft", "excel", batch.id), (2, "draft", "excel", batch.id)]
        first = form.fields[0]
        value = next(v for v in drafts[0].values if v.field_id == first.id)
        assert value.value_number == 1250.5 and value.unit == first.unit
        assert value.import_row == row_of(content, "2025-01", first.code)
        events = s.scalars(select(WorkflowEvent).where(WorkflowEvent.submission_id == drafts[0].id)).all()
        assert [e.action for e in events] == ["create", "import"] and events[1].details["import_id"] == batch.id
        audit = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "fm_value")).all()
        assert [a.after["import_id"] for a in audit] == [batch.id] and audit[0].after["values"] == batch.created_count
        assert audit[0].username == "filler"
    assert run_cli(app, ["audit", "verify"]).exit_code == 0


def test_reimport_replaces_draft_values_and_audits_what_was_replaced(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        filler = user(s, "filler")
        content = template(s, form, [1])
        run(app, s, form, fill(content, full_values(form, "2025-01")), filler)
        changed = {**full_values(form, "2025-01"), ("2025-01", form.fields[0].code): 99.0}
        batch = run(app, s, form, fill(template(s, form, [1]), changed), filler)
        assert batch.status == "done", batch.errors
        assert written(s, form) == (1, len(form.fields))
        draft = s.scalars(select(Submission).where(Submission.form_id == form.id)).one()
        assert service.stored_values(draft)[form.fields[0].id] == 99.0
        audit = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "fm_value")
                          .order_by(AuditEntry.id)).all()
        assert audit[-1].before["replaced_values"][str(draft.id)][form.fields[0].code] == 1250.5


@pytest.mark.parametrize(("value", "reason"), [
    ("一千二", "应为数字，实际为“一千二”"),
    (-5, "不能为负数（-5）"),
])
def test_bad_value_is_refused_and_nothing_written(app: Flask, value: object, reason: str) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        code = form.fields[0].code
        batch = run(app, s, form, fill(template(s, form), {**full_values(form, "2025-01"), ("2025-01", code): value}),
                    user(s, "filler"))
        _refused(app, batch, reason)
        assert batch.errors[0]["column"] == "H" and batch.errors[0]["code"] == code
        assert batch.errors[0]["field"] == form.fields[0].label and batch.errors[0]["value"] == value
        assert written(s, form) == (0, 0)


def test_annotated_workbook_marks_the_bad_cell_with_a_comment_and_red_fill(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        content = template(s, form)
        code = form.fields[0].code
        batch = run(app, s, form, fill(content, {**full_values(form, "2025-01"), ("2025-01", code): "abc"}),
                    user(s, "filler"))
        assert batch.status == "rejected" and batch.report_path
        wb = openpyxl.load_workbook(io.BytesIO((Path(app.instance_path) / batch.report_path).read_bytes()))
        row = row_of(content, "2025-01", code)
        cell = wb["填报数据"][f"H{row}"]
        assert "应为数字" in cell.comment.text
        assert cell.fill.fgColor.rgb.endswith("FFC7CE")
        assert wb.sheetnames[0] == "错误汇总"
        summary = list(wb["错误汇总"].iter_rows(values_only=True))
        assert summary[1][:4] == ("填报数据", row, "H", form.fields[0].label)


def test_unknown_field_code_is_refused(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        content = template(s, form)
        row = row_of(content, "2025-01", form.fields[0].code)
        batch = run(app, s, form, fill(content, full_values(form, "2025-01"), {f"B{row}": "q-nope"}), user(s, "filler"))
        _refused(app, batch, "表单中没有字段代码“q-nope”")
        assert written(s, form) == (0, 0)


def test_unit_changed_from_the_template_is_refused(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        content = template(s, form)
        field = form.fields[0]
        row = row_of(content, "2025-01", field.code)
        batch = run(app, s, form, fill(content, full_values(form, "2025-01"), {f"G{row}": "kg"}), user(s, "filler"))
        _refused(app, batch, "单位与模板不一致")
        assert batch.errors[0]["column"] == "G" and batch.errors[0]["row"] == row
        assert written(s, form) == (0, 0)


def test_missing_required_field_is_refused(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        required = [f for f in form.fields if f.required]
        values = full_values(form, "2025-01")
        del values[("2025-01", required[1].code)]
        batch = run(app, s, form, fill(template(s, form), values), user(s, "filler"))
        _refused(app, batch, "必填项未填写")
        assert [e["code"] for e in batch.errors] == [required[1].code]
        assert written(s, form) == (0, 0)


def test_file_that_is_not_excel_is_refused_but_kept(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        batch = run(app, s, form, "期间,数值\n2025-01,3\n".encode(), user(s, "filler"), filename="data.xlsx")
        _refused(app, batch, "文件不是有效的 Excel 工作簿（.xlsx）")
        assert batch.message == "文件不是有效的 Excel 工作簿（.xlsx）" and batch.report_path is None
        assert written(s, form) == (0, 0)


def test_template_of_an_older_form_revision_is_refused(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        content = fill(template(s, form), full_values(form, "2025-01"))
        form.revision += 1
        s.commit()
        batch = run(app, s, form, content, user(s, "filler"))
        _refused(app, batch, f"模板已过期：模板按表单第 {form.revision - 1} 版生成，表单现为第 {form.revision} 版")
        assert written(s, form) == (0, 0)


def test_template_of_another_form_is_refused(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form, other = west_form(s), west_form(s, code="test-west-2")
        s.commit()
        batch = run(app, s, other, fill(template(s, form), full_values(form, "2025-01")), user(s, "filler"))
        _refused(app, batch, "该模板属于表单“test-west”")
        assert written(s, other) == (0, 0) and written(s, form) == (0, 0)


def test_same_file_imported_twice_creates_nothing_new(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        filler = user(s, "filler")
        content = fill(template(s, form), full_values(form, "2025-01"))
        first = run(app, s, form, content, filler)
        assert first.status == "done"
        before = written(s, form)
        events = s.query(WorkflowEvent).count()
        second = run(app, s, form, content, filler)
        _refused(app, second, f"导入（批次 #{first.id}），未重复导入")
        assert second.message.startswith("该文件已于 ") and second.sm3 == first.sm3
        assert written(s, form) == before and s.query(WorkflowEvent).count() == events


def test_closed_period_and_submitted_period_are_refused_naming_the_reason(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        filler = user(s, "filler")
        draft = service.get_or_create_draft(s, form, form.organization_id, 2025, 2, filler)
        service.save_draft(s, draft, {k[1]: v for k, v in full_values(form, "2025-02").items()}, filler)
        service.submit(s, draft, filler)
        periods.close_period(s, form.organization_id, 2025, 1, user(s, "approver"))
        s.commit()
        content = template(s, form)
        batch = run(app, s, form, fill(content, {**full_values(form, "2025-01"), **full_values(form, "2025-02"),
                                                 **full_values(form, "2025-03")}), filler)
        assert batch.status == "rejected"
        reasons = {e["value"]: e["reason"] for e in batch.errors}
        assert "2025-01 已关闭" in reasons["2025-01"]
        assert "2025-02 的填报已提交，等待审核，不能通过导入修改" in reasons["2025-02"]
        assert set(reasons) == {"2025-01", "2025-02"}
        assert written(s, form) == (1, len(form.fields))  # only the submitted draft made above


def test_pages_download_template_upload_show_outcome_and_files(app: Flask) -> None:
    with app.app_context():
        form = west_form(db.session)
        db.session.commit()
        form_id, codes = form.id, [f.code for f in form.fields]
    client = app.test_client()
    login(client, "filler", "Demo-filler-1")
    index = client.get("/forms/excel/").get_data(as_text=True)
    assert "test-west" in index
    assert 'href="/forms/excel/"' in index and 'href="/forms/imports"' in index  # the two menu entries
    response = client.get(f"/forms/excel/{form_id}/template?year=2025&period=1&period=2")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data))["填报数据"].iter_rows(min_row=3, values_only=True))
    assert len(rows) == 2 * len(codes) and {r[0] for r in rows} == {"2025-01", "2025-02"}
    filled = fill(response.data, {("2025-01", c): "abc" for c in codes})
    upload = client.post(f"/forms/excel/{form_id}", data={"file": (io.BytesIO(filled), "月报.xlsx")},
                         content_type="multipart/form-data")
    assert upload.status_code == 302
    page = client.get(upload.headers["Location"]).get_data(as_text=True)
    assert "未通过校验" in page and "应为数字，实际为“abc”" in page and "import-errors" in page
    import_id = int(upload.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert client.get(f"/forms/imports/{import_id}/original").data == filled
    report = openpyxl.load_workbook(io.BytesIO(client.get(f"/forms/imports/{import_id}/report").data))
    assert report.sheetnames[0] == "错误汇总"
    api = client.get(f"/api/v1/forms/imports/{import_id}").get_json()["result"]
    assert api["status"] == "rejected" and api["error_count"] == len(codes) and api["percent"] == 100
    assert f"/forms/imports/{import_id}" in client.get("/forms/imports").get_data(as_text=True)


def test_imports_are_scoped_and_need_write_on_data_entry(app: Flask) -> None:
    with app.app_context():
        s = db.session
        form = west_form(s)
        s.commit()
        batch = run(app, s, form, b"not a workbook", user(s, "filler"), filename="x.xlsx")
        batch_id, form_id = batch.id, form.id
        east = org(s, "东区").id
    viewer = app.test_client()
    login(viewer, "viewer", "Demo-viewer-1")  # 只读用户: no DataEntry at all
    assert viewer.get(f"/api/v1/forms/imports/{batch_id}").status_code in (401, 403)
    reviewer = app.test_client()
    login(reviewer, "reviewer", "Demo-reviewer-1")  # read on DataEntry, not write
    assert reviewer.get(f"/forms/imports/{batch_id}").status_code == 200
    refused = reviewer.post(f"/forms/excel/{form_id}", data={"file": (io.BytesIO(b"x"), "x.xlsx")},
                            content_type="multipart/form-data")
    assert refused.status_code == 403
    with app.app_context():
        s = db.session
        assert s.query(ImportBatch).count() == 1  # the reviewer's upload was not even kept
        east_form = west_form(s, code="test-east")
        east_form.organization_id = east
        for f in east_form.fields:
            f.organization_id = east
        s.commit()
        east_batch = run(app, s, east_form, b"x", user(s, "approver"), filename="e.xlsx")
        east_batch_id, east_form_id = east_batch.id, east_form.id
    filler = app.test_client()
    login(filler, "filler", "Demo-filler-1")  # 西区 only
    assert filler.get(f"/forms/imports/{east_batch_id}").status_code == 404
    assert filler.get(f"/api/v1/forms/imports/{east_batch_id}").status_code == 404
    assert filler.get(f"/forms/excel/{east_form_id}").status_code == 404
