"""Reports rendered by the platform: figures equal the stored run, draft vs final, SM3 and signature,
progress steps, failures that keep nothing, templates activated per organisation."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from docx import Document
from flask import Flask
from sqlalchemy import func, select

from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.accounting.models import AccountingRun
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization
from orgcarbon.platform.extensions import db
from orgcarbon.reports import render
from orgcarbon.reports.models import Report, ReportFile
from orgcarbon.reports.tasks import start_report
from orgcarbon.security.crypto import sm3_hex
from orgcarbon.security.models import Signature

EF = 0.5703
GROUP = "华钢集团"
TERMS = ("fuel_combustion", "process", "purchased_electricity", "purchased_heat", "exported_electricity",
         "exported_heat", "fixed_carbon")
XLSX_NAMES = {"e_combustion": "fuel_combustion", "e_process": "process",
              "e_purchased_electricity": "purchased_electricity", "e_purchased_heat": "purchased_heat",
              "e_exported_electricity": "exported_electricity", "e_exported_heat": "exported_heat",
              "r_fixed_carbon": "fixed_carbon"}


# --- Helpers shared by the other test_report_* modules ---------------------------------------------


def org_id(name: str) -> int:
    """Id of an organisation node of the demo enterprise."""
    return db.session.scalar(select(Organization.id).where(Organization.name == name))


def account(name: str = GROUP, year: int = 2024) -> AccountingRun:
    """A stored run of the demo enterprise (the golden case at grid EF 0.5703 for the group)."""
    return AccountOrganisation(db.session, org_id(name), year, electricity_ef=EF).run()


def user(app: Flask, username: str) -> Any:
    """A user by name."""
    return app.appbuilder.sm.find_user(username=username)


def make_report(app: Flask, run: AccountingRun, kind: str = "report", username: str = "consultant",
                pdf: bool = False) -> Report:
    """Request and render (in-process) a report of ``run``; returns the finished row."""
    report_id = start_report(db.session, run, user(app, username), kind=kind, want_pdf=pdf)
    db.session.expire_all()
    return db.session.get(Report, report_id)


def stored(app: Flask, found: ReportFile) -> bytes:
    """The bytes kept for a report file."""
    return (Path(app.instance_path) / found.file_path).read_bytes()


def docx_text(content: bytes) -> str:
    """Every paragraph, table cell, header and footer of a .docx, one per line."""
    document = Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    for section in document.sections:
        parts += [p.text for p in section.header.paragraphs] + [p.text for p in section.footer.paragraphs]
    return "\n".join(parts)


def named_value(wb: Any, name: str) -> Any:
    """The value of the cell a defined name points at."""
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    return wb[sheet][ref.replace("$", "")].value


def close_year(app: Flask, name: str = GROUP, year: int = 2024) -> None:
    """Close every month of ``year`` for the node through the period-close service."""
    from orgcarbon.forms.periods import close_period

    closer = user(app, "approver")
    for month in range(1, 13):
        close_period(db.session, org_id(name), year, month, closer, "年度数据已审核")
    db.session.commit()


# --- Tests ------------------------------------------------------------------------------------------


def test_builtin_report_and_tables_show_the_stored_run_figures(app: Flask) -> None:
    """Word report and Excel tables of the demo run: every headline figure equals the run to 0.01 t."""
    with app.app_context():
        run = account()
        assert run.total_tco2 == pytest.approx(5_163_239.00, abs=0.05)
        docx_report = make_report(app, run, "report")
        xlsx_report = make_report(app, run, "tables")

        assert docx_report.status == "done" and docx_report.progress == 100, docx_report.message
        assert docx_report.builtin_name == "gbt32151.5-report" and docx_report.template_version_id is None
        assert [f.filename for f in docx_report.files] == [f"华钢集团-2024年度温室气体排放报告-R{docx_report.id}.docx"]
        text = docx_text(stored(app, docx_report.files[0]))
        figures = [run.total_tco2, run.direct_tco2, run.indirect_tco2] + [run.by_category[t] for t in TERMS]
        for value in figures:
            assert f"{value:,.2f}" in text, value
        assert "华钢集团" in text and "2024" in text

        assert xlsx_report.status == "done" and xlsx_report.builtin_name == "gbt32151.5-tables"
        assert xlsx_report.files[0].filename.endswith(f"补充数据表-R{xlsx_report.id}.xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(stored(app, xlsx_report.files[0])))
        for name, term in XLSX_NAMES.items():
            assert named_value(wb, name) == pytest.approx(run.by_category[term], abs=0.01), name
        summary = wb["汇总表"]
        assert summary["B17"].value == pytest.approx(run.total_tco2, abs=0.01)
        assert summary["B18"].value == pytest.approx(run.direct_tco2, abs=0.01)
        assert summary["B19"].value == pytest.approx(run.indirect_tco2, abs=0.01)
        sheet = wb["活动数据"]
        column = [c.column for c in sheet[2] if c.value and str(c.value).startswith("计入总量的带符号排放量")][0]
        lines = [row[column - 1] for row in sheet.iter_rows(min_row=3, values_only=True) if row[0] is not None]
        assert len(lines) == 240 and sum(lines) == pytest.approx(run.total_tco2, abs=0.01)
        sources = [row[-1] for row in sheet.iter_rows(min_row=3, values_only=True) if row[0] is not None]
        first = db.session.scalar(select(func.min(ActivityRecord.id)))
        assert sources[0] == f"演示数据（活动记录 {first}）"  # lineage: the stored record each line came from


def test_open_periods_give_a_draft_and_a_closed_year_a_final_report(app: Flask) -> None:
    """With open months the report carries 草稿 and says why; after closing the year it is final."""
    with app.app_context():
        run = account()
        draft = make_report(app, run)
        assert draft.status == "done" and draft.final is False
        assert draft.draft_reasons == ["华钢集团 以下期间尚未关闭锁定：" + "、".join(f"2024-{m:02d}" for m in range(1, 13))]
        assert "草稿" in docx_text(stored(app, draft.files[0]))

        close_year(app)
        final = make_report(app, run)
        assert final.status == "done" and final.final is True and final.draft_reasons is None
        assert "草稿" not in docx_text(stored(app, final.files[0]))
        signature = db.session.scalar(select(Signature).where(Signature.object_type == "rp_report_file",
                                                              Signature.object_id == final.files[0].id))
        assert signature.content["final"] is True and signature.content["run_id"] == run.id


def test_each_file_is_kept_by_its_sm3_and_signed_by_the_requester(app: Flask) -> None:
    """Stored SM3 = SM3 of the kept bytes; the SM2 signature of the requester verifies."""
    from orgcarbon.security.signatures import check_signature

    with app.app_context():
        report = make_report(app, account())
        found = report.files[0]
        content = stored(app, found)
        assert found.sm3 == sm3_hex(content) and found.size == len(content)
        assert found.file_path == f"reports/{found.sm3[:2]}/{found.sm3}.docx"
        consultant = user(app, "consultant")
        assert found.signed_by_id == consultant.id and found.signature["signer_id"] == "consultant"
        signature = db.session.scalar(select(Signature).where(Signature.object_type == "rp_report_file",
                                                              Signature.object_id == found.id))
        assert signature.user_id == consultant.id and signature.digest == found.signature["digest"]
        assert signature.content["sm3"] == found.sm3 and signature.content["filename"] == found.filename
        assert check_signature(db.session, signature).ok


def test_progress_is_committed_step_by_step(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The task records 5 → 10 → 50 → 90 → 100 %, each committed (visible to another session)."""
    seen: list[tuple[int, str]] = []
    original = render._step

    def spy(session: Any, report_id: int, progress: int, message: str, **values: Any) -> Report:
        result = original(session, report_id, progress, message, **values)
        with db.engine.connect() as other:  # a second connection sees only committed rows
            seen.append(tuple(other.execute(select(Report.progress, Report.status)
                                            .where(Report.id == report_id)).one()))
        return result

    monkeypatch.setattr(render, "_step", spy)
    with app.app_context():
        report = make_report(app, account())
    assert seen == [(5, "running"), (10, "running"), (50, "running"), (90, "running")]
    assert (report.progress, report.status) == (100, "done")


def test_a_run_whose_data_changed_fails_with_the_reason_and_keeps_no_file(app: Flask) -> None:
    """Rendering must reproduce the run; after a data change it fails in Chinese and stores nothing."""
    with app.app_context():
        run = account("西区")
        row = db.session.scalar(select(ActivityRecord).join(Material).where(Material.name == "柴油",
                                                                            ActivityRecord.month == "2024-05"))
        row.quantity += 100.0
        db.session.commit()
        report = make_report(app, run)
        assert report.status == "failed" and report.files == []
        assert report.message.startswith(f"核算结果 #{run.id} 计算之后活动数据已变化")
        assert db.session.scalar(select(func.count()).select_from(ReportFile)) == 0
        assert not (Path(app.instance_path) / "reports").exists()


def test_a_superseded_run_is_refused(app: Flask) -> None:
    """A report is requested only for a current, finished run."""
    from orgcarbon.reports.service import ReportRefused

    with app.app_context():
        run = account()
        run.status, run.superseded_by_id = "superseded", run.id + 1
        db.session.commit()
        with pytest.raises(ReportRefused) as refused:
            start_report(db.session, run, user(app, "consultant"))
        assert refused.value.reasons == [f"核算结果 #{run.id} 已被核算结果 #{run.id + 1} 替代，请为最新的核算结果生成报告"]
        assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_the_template_activated_for_the_organisation_is_used(app: Flask) -> None:
    """An uploaded, checked and activated template replaces the built-in for the node's subtree."""
    from orgcarbon.reports import templates_service
    from tests.integration.reports.template_files import good_docx

    with app.app_context():
        run = account()
        consultant = user(app, "consultant")
        version = templates_service.upload_version(
            db.session, app.instance_path, name="河北省报告模板", authority="河北省", standard=None, kind="report",
            filename="河北.docx", content=good_docx(), user=consultant)
        templates_service.activate(db.session, version, org_id(GROUP), consultant)
        db.session.commit()
        report = make_report(app, run)
        assert report.status == "done" and report.template_version_id == version.id and report.builtin_name is None
        text = docx_text(stored(app, report.files[0]))
        assert f"排放总量：{run.total_tco2:,.2f} tCO2" in text and "报告主体：华钢集团" in text


def test_a_failure_while_signing_keeps_no_file_and_no_row(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files are written only with their signed rows: a signing error removes what was written."""
    from orgcarbon.reports import verify

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("密钥不可用")

    monkeypatch.setattr(verify, "sign_report_file", broken)
    with app.app_context():
        report = make_report(app, account())
        assert report.status == "failed" and report.files == []
        assert report.message == "报告生成失败（RuntimeError：密钥不可用），请联系管理员"
        assert db.session.scalar(select(func.count()).select_from(ReportFile)) == 0
        assert db.session.scalar(select(func.count()).select_from(Signature)) == 0
        assert list((Path(app.instance_path) / "reports").rglob("*.docx")) == []


def test_a_newer_run_of_the_same_organisation_year_and_model_outdates_the_report(app: Flask) -> None:
    """Accounting the same year again (same model) makes the older run's reports 已过期."""
    from orgcarbon.reports.service import OutdatedCache

    with app.app_context():
        report = make_report(app, account())
        assert OutdatedCache(db.session).reasons(report) == []
        newer = account()
        assert OutdatedCache(db.session).reasons(report) == [f"同一组织和年度已有更新的核算结果 #{newer.id}"]
