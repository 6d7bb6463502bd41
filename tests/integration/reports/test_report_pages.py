"""报告 pages, ``/api/v1/reports/`` and ``orgcarbon report verify``: request, progress, download,
verification of intact and tampered files, data scope, reports that go out of date."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from orgcarbon.metamodel.models import ActivityRecord, Material, UserOrganization
from orgcarbon.platform.extensions import db
from orgcarbon.reports.models import Report
from orgcarbon.security.crypto import sm3_hex
from tests.conftest import api_token, login, run_cli
from tests.integration.reports.test_report_render import account, make_report, org_id, stored, user

CONSULTANT = ("consultant", "Demo-consultant-1")
NOT_FOUND = "未找到与该文件摘要一致的已签名报告，文件可能被修改"


def _bearer(app: Flask, username: str, password: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(app.test_client(), username, password)}"}


def _tamper(content: bytes) -> bytes:
    """The same file with one byte changed (in the middle of the zip)."""
    middle = len(content) // 2
    return content[:middle] + bytes([content[middle] ^ 0x01]) + content[middle + 1:]


def test_request_from_the_run_page_follow_progress_and_download(app: Flask) -> None:
    """The run page links to 生成报告; the form queues the report; the page, JSON status and download agree."""
    client = app.test_client()
    with app.app_context():
        run_id = account().id
    login(client, *CONSULTANT)
    page = client.get(f"/results/run/{run_id}").get_data(as_text=True)
    assert f"/reports/request?run_id={run_id}" in page
    form = client.get(f"/reports/request?run_id={run_id}").get_data(as_text=True)
    assert "以下期间尚未关闭锁定" in form and 'value="tables"' in form
    response = client.post("/reports/request", data={"run_id": run_id, "kind": "report"})
    assert response.status_code == 302
    report_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    status = client.get(f"/reports/{report_id}/status").get_json()["result"]
    assert (status["status"], status["progress"], status["final"], status["kind"]) == ("done", 100, False, "report")
    assert status["organization"] == "华钢集团" and status["year"] == 2024
    show = client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert "以下期间尚未关闭锁定" in show and status["files"][0]["sm3"] in show
    listing = client.get("/reports/").get_data(as_text=True)
    assert f'data-id="{report_id}"' in listing and "report-outdated" not in listing
    file_id = status["files"][0]["id"]
    download = client.get(f"/reports/file/{file_id}")
    assert download.status_code == 200 and sm3_hex(download.data) == status["files"][0]["sm3"]
    refused = client.post("/reports/request", data={"run_id": run_id, "kind": "poster"}, follow_redirects=True)
    assert "报告类型：应为 report（温室气体排放报告）或 tables（补充数据表）" in refused.get_data(as_text=True)


def test_tampered_file_fails_in_the_page_the_api_and_the_cli(app: Flask, tmp_path: Path) -> None:
    """An intact report verifies everywhere; one changed byte fails everywhere (CLI exit code 1)."""
    with app.app_context():
        report = make_report(app, account())
        content = stored(app, report.files[0])
        report_id, filename = report.id, report.files[0].filename
    bad = _tamper(content)
    client = app.test_client()
    login(client, *CONSULTANT)

    good_page = client.post("/reports/verify", data={"file": (io.BytesIO(content), filename)},
                            content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-ok="1"' in good_page and f"验签通过：该文件是报告 #{report_id}" in good_page
    assert "由 consultant 于" in good_page
    bad_page = client.post("/reports/verify", data={"file": (io.BytesIO(bad), filename)},
                           content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-ok="0"' in bad_page and NOT_FOUND in bad_page

    bearer = _bearer(app, *CONSULTANT)
    ok = client.post("/api/v1/reports/verify", headers=bearer, data={"file": (io.BytesIO(content), filename)},
                     content_type="multipart/form-data").get_json()["result"]
    assert ok["ok"] is True and ok["report_id"] == report_id and ok["signer"] == "consultant"
    assert ok["organization"] == "华钢集团" and ok["year"] == 2024 and ok["final"] is False
    raw = client.post("/api/v1/reports/verify", headers={**bearer, "Content-Type": "application/octet-stream"},
                      data=bad).get_json()["result"]
    assert raw["ok"] is False and raw["message"] == NOT_FOUND and raw["sm3"] == sm3_hex(bad)

    good_file, bad_file = tmp_path / filename, tmp_path / "改过的.docx"
    good_file.write_bytes(content)
    bad_file.write_bytes(bad)
    result = run_cli(app, ["report", "verify", str(good_file)])
    assert result.exit_code == 0, result.output
    assert f"验签通过：该文件是报告 #{report_id}" in result.output
    result = run_cli(app, ["report", "verify", str(bad_file)])
    assert result.exit_code == 1 and NOT_FOUND in result.output


def test_a_changed_signature_record_fails_verification(app: Flask) -> None:
    """The file is intact but its signature row was edited: verification names the failure."""
    from orgcarbon.reports.verify import verify_file_bytes
    from orgcarbon.security.models import Signature

    with app.app_context():
        report = make_report(app, account())
        content = stored(app, report.files[0])
        signature = db.session.scalar(select(Signature).where(Signature.object_type == "rp_report_file"))
        signature.content = {**signature.content, "final": True}
        db.session.commit()
        outcome = verify_file_bytes(db.session, content)
        assert outcome.ok is False
        assert outcome.message == (f"签名验证失败：报告 #{report.id} 的文件 {report.files[0].filename}："
                                   "签名无效（签名内容已被修改：内容的 SM3 摘要与签名时不一致）")


def test_out_of_scope_user_cannot_see_download_or_request(app: Flask) -> None:
    """A consultant of 东区 sees nothing of the group's reports: 404 on pages and API, empty lists."""
    with app.app_context():
        run = account()
        report = make_report(app, run)
        report_id, file_id, run_id = report.id, report.files[0].id, run.id
        sm = app.appbuilder.sm
        sm.add_user("east", "东区", "顾问", "east@example.invalid", sm.find_role("报告顾问"), password="Demo-east-1x")
        db.session.add(UserOrganization(user_id=user(app, "east").id, organization_id=org_id("东区")))
        db.session.commit()
    client = app.test_client()
    login(client, "east", "Demo-east-1x")
    assert f'data-id="{report_id}"' not in client.get("/reports/").get_data(as_text=True)
    for url in (f"/reports/{report_id}", f"/reports/{report_id}/status", f"/reports/file/{file_id}",
                f"/reports/request?run_id={run_id}"):
        assert client.get(url).status_code == 404, url
    assert client.post("/reports/request", data={"run_id": run_id}).status_code == 404
    bearer = _bearer(app, "east", "Demo-east-1x")
    assert client.get("/api/v1/reports/", headers=bearer).get_json()["result"] == []
    for url in (f"/api/v1/reports/{report_id}", f"/api/v1/reports/files/{file_id}"):
        assert client.get(url, headers=bearer).status_code == 404, url
    assert client.post("/api/v1/reports/", headers=bearer, json={"run_id": run_id}).status_code == 404
    with app.app_context():
        assert db.session.query(Report).count() == 1


def test_api_requests_a_report_and_downloads_its_signed_file(app: Flask) -> None:
    """POST /api/v1/reports/ renders (no worker: in-process) and answers with the files; bad input 422."""
    with app.app_context():
        run_id = account().id
    client = app.test_client()
    bearer = _bearer(app, *CONSULTANT)
    created = client.post("/api/v1/reports/", headers=bearer, json={"run_id": run_id, "kind": "tables"})
    assert created.status_code == 201, created.get_data(as_text=True)
    result = created.get_json()["result"]
    assert result["status"] == "done" and result["kind"] == "tables" and result["outdated"] is False
    assert result["files"][0]["filename"].endswith(".xlsx") and result["files"][0]["signed_by"] == "consultant"
    download = client.get(f"/api/v1/reports/files/{result['files'][0]['id']}", headers=bearer)
    assert download.status_code == 200 and sm3_hex(download.data) == result["files"][0]["sm3"]
    assert client.post("/api/v1/reports/", headers=bearer, json={}).status_code == 422
    bad_kind = client.post("/api/v1/reports/", headers=bearer, json={"run_id": run_id, "kind": "x"})
    assert bad_kind.status_code == 422
    listed = client.get(f"/api/v1/reports/?run_id={run_id}", headers=bearer).get_json()["result"]
    assert [r["id"] for r in listed] == [result["id"]]
    viewer = _bearer(app, "viewer", "Demo-viewer-1")  # read-only on reports, and only 东区
    assert client.post("/api/v1/reports/", headers=viewer, json={"run_id": run_id}).status_code == 403


def test_report_goes_out_of_date_when_the_runs_data_changes_and_when_superseded(app: Flask) -> None:
    """A quantity used by the run changes: 已过期 with the reason; after recalculation: superseded too."""
    from orgcarbon.accounting.recalc import recalculate_stale

    with app.app_context():
        report = make_report(app, account())
        report_id = report.id
    client = app.test_client()
    bearer = _bearer(app, *CONSULTANT)
    assert client.get(f"/api/v1/reports/{report_id}", headers=bearer).get_json()["result"]["outdated"] is False
    with app.app_context():
        row = db.session.scalar(select(ActivityRecord).join(Material).where(Material.name == "柴油",
                                                                            ActivityRecord.month == "2024-05"))
        row.quantity += 120.0
        db.session.commit()
    result = client.get(f"/api/v1/reports/{report_id}", headers=bearer).get_json()["result"]
    assert result["outdated"] is True and result["outdated_reasons"] == ["活动数据已变化（已有记录被修改）"]
    login(client, *CONSULTANT)
    listing = client.get("/reports/").get_data(as_text=True)
    assert "report-outdated" in listing and "活动数据已变化" in listing
    with app.app_context():
        new = recalculate_stale(db.session)[0]
    result = client.get(f"/api/v1/reports/{report_id}", headers=bearer).get_json()["result"]
    assert result["outdated_reasons"] == [f"核算结果 #{result['run_id']} 已被核算结果 #{new.id} 替代"]
    verified = client.post("/api/v1/reports/verify", headers={**bearer, "Content-Type": "application/octet-stream"},
                           data=client.get(f"/reports/file/{result['files'][0]['id']}").data).get_json()["result"]
    assert verified["ok"] is True and "注意：该报告已过期" in verified["message"]
