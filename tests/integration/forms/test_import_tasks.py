"""Long imports run as the task ``orgcarbon.forms.import`` with progress; a failed or stalled one resumes safely."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from orgcarbon.forms import imports
from orgcarbon.forms.models import ImportBatch
from orgcarbon.platform.extensions import db
from tests.conftest import login
from tests.integration.forms.import_helpers import fill, full_values, run, template, written
from tests.integration.forms.workflow_helpers import user, west_form


def _filled(app: Flask) -> tuple[int, bytes]:
    with app.app_context():
        form = west_form(db.session)
        db.session.commit()
        return form.id, fill(template(db.session, form), {**full_values(form, "2025-01"),
                                                          **full_values(form, "2025-02")})


def test_import_above_the_threshold_runs_as_the_task_and_reports_progress(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config["ORGCARBON"]["IMPORT_TASK_ROWS"] = 10
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 20)
    monkeypatch.setattr(imports, "PROGRESS_SECONDS", 0)
    seen: list[tuple[int, int]] = []
    real = imports.progress

    def spy(session: Any, batch_id: int, done: int, message: str | None = None) -> None:
        real(session, batch_id, done, message)
        stored = db.session.get(ImportBatch, batch_id)
        assert stored is not None
        db.session.refresh(stored)
        seen.append((done, stored.done_rows))  # committed: another session (the page) sees it

    monkeypatch.setattr(imports, "progress", spy)
    form_id, content = _filled(app)
    with app.app_context():
        s = db.session
        form = s.get(imports.FormDefinition, form_id)
        batch = run(app, s, form, content, user(s, "filler"))
        total = 12 * len(form.fields)
        assert batch.status == "done" and batch.task_id and batch.total_rows == batch.done_rows == total
        assert seen[:3] == [(20, 20), (40, 40), (60, 60)] and seen[-1] == (total, total)
        assert written(s, form) == (2, 2 * len(form.fields))


def test_failed_import_writes_nothing_and_resumes_once(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    form_id, content = _filled(app)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("数据库连接中断")

    with app.app_context():
        s = db.session
        form = s.get(imports.FormDefinition, form_id)
        with monkeypatch.context() as patch:
            patch.setattr(imports, "write_values", broken)
            batch = run(app, s, form, content, user(s, "filler"))
        assert batch.status == "failed" and "数据库连接中断" in batch.message
        assert written(s, form) == (0, 0)
        batch_id = batch.id
    client = app.test_client()
    login(client, "filler", "Demo-filler-1")
    page = client.get(f"/forms/imports/{batch_id}").get_data(as_text=True)
    assert 'id="resume"' in page
    resumed = client.post(f"/api/v1/forms/imports/{batch_id}/resume").get_json()["result"]
    assert resumed["status"] == "done" and resumed["created_count"] == 2 * resumed["total_rows"] // 12
    again = client.post(f"/api/v1/forms/imports/{batch_id}/resume")
    assert again.status_code == 422 and "没有进展的导入可以继续（当前：已导入）" in again.get_json()["message"][0]
    with app.app_context():
        form = db.session.get(imports.FormDefinition, form_id)
        assert written(db.session, form) == (2, 2 * len(form.fields))


def test_import_left_running_by_a_dead_worker_can_be_resumed_after_the_stale_time(app: Flask) -> None:
    form_id, content = _filled(app)
    with app.app_context():
        s = db.session
        form = s.get(imports.FormDefinition, form_id)
        batch = imports.receive(s, app.instance_path, kind="excel", filename="m.xlsx", content=content,
                                organization_id=form.organization_id, user=user(s, "filler"), form=form)
        batch.status, batch.done_rows, batch.finished_at = "running", 40, dt.datetime.now(dt.UTC)
        s.commit()
        batch_id = batch.id
    client = app.test_client()
    login(client, "filler", "Demo-filler-1")
    page = client.get(f"/forms/imports/{batch_id}").get_data(as_text=True)
    assert 'id="import-progress"' in page and f"/api/v1/forms/imports/{batch_id}" in page
    polled = client.get(f"/api/v1/forms/imports/{batch_id}").get_json()["result"]
    assert (polled["status"], polled["done_rows"], polled["resumable"]) == ("running", 40, False)
    early = client.post(f"/forms/imports/{batch_id}/resume", follow_redirects=True).get_data(as_text=True)
    assert "只有出错或超过 10 分钟没有进展的导入可以继续" in early
    with app.app_context():
        stalled = db.session.get(ImportBatch, batch_id)
        stalled.finished_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)
        db.session.commit()
    assert client.get(f"/api/v1/forms/imports/{batch_id}").get_json()["result"]["resumable"] is True
    client.post(f"/forms/imports/{batch_id}/resume")
    with app.app_context():
        done = db.session.get(ImportBatch, batch_id)
        assert done.status == "done" and done.task_id
        form = db.session.get(imports.FormDefinition, form_id)
        assert written(db.session, form) == (2, 2 * len(form.fields))
    listing = client.get("/forms/imports").get_data(as_text=True)
    assert f'data-id="{batch_id}"' in listing


def test_a_second_upload_while_the_first_runs_or_stalls_is_not_imported_twice(app: Flask) -> None:
    form_id, content = _filled(app)
    with app.app_context():
        s = db.session
        form = s.get(imports.FormDefinition, form_id)
        filler = user(s, "filler")
        first = imports.receive(s, app.instance_path, kind="excel", filename="a.xlsx", content=content,
                                organization_id=form.organization_id, user=filler, form=form)
        second = imports.receive(s, app.instance_path, kind="excel", filename="b.xlsx", content=content,
                                 organization_id=form.organization_id, user=filler, form=form)
        assert second.status == "rejected" and f"该文件正在导入（批次 #{first.id}）" in second.message
        first.status, first.finished_at = "running", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
        s.commit()
        third = imports.receive(s, app.instance_path, kind="excel", filename="c.xlsx", content=content,
                                organization_id=form.organization_id, user=filler, form=form)
        assert third.status == "rejected"
        assert third.message == f"该文件的导入（批次 #{first.id}）已中断，请在导入记录中点“继续”，未重复导入"
