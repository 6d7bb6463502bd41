"""报告模板 pages and ``/api/v1/report-templates/``: upload, check results, versions, preview, activation,
variable catalogue, and who may do what."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.reports import templates_service as service
from orgcarbon.reports.models import ReportTemplate, TemplateActivation, TemplateVersion
from orgcarbon.security.crypto.sm3 import sm3_hex
from tests.conftest import ADMIN_PASSWORD, api_token, build_app, dispose, login
from tests.integration.reports.template_files import BROKEN, good_docx

PASSWORDS = {"admin": ADMIN_PASSWORD, **{n: f"Demo-{n}-1" for n in ("consultant", "viewer", "filler", "modeller")}}
BASE = "/reports/templates"


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username, PASSWORDS[username])
    return client


def post_upload(client: FlaskClient, name: str, content: bytes, filename: str = "t.docx", kind: str = "report",
                **fields: str) -> Any:
    data = {"name": name, "kind": kind, "authority": "", "standard": "", "note": "",
            "file": (io.BytesIO(content), filename), **fields}
    return client.post(f"{BASE}/upload", data=data, content_type="multipart/form-data")


def ids(app: Flask, name: str) -> tuple[int, list[int]]:
    """The template id and its version ids (oldest first)."""
    with app.app_context():
        template = db.session.scalar(select(ReportTemplate).where(ReportTemplate.name == name))
        assert template is not None, name
        return template.id, [v.id for v in template.versions]


def org(app: Flask, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Organization.id).where(Organization.name == name))
        assert found is not None
        return found


def text_of(data: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)


def test_consultant_uploads_a_good_template_which_is_listed_checked_and_previewed(app: Flask) -> None:
    client = signed_in(app, "consultant")
    assert client.get(f"{BASE}/upload").status_code == 200
    response = post_upload(client, "河北省排放报告", good_docx(), "河北报告.docx", authority="河北省生态环境厅")
    assert response.status_code == 302
    template_id, (version_id,) = ids(app, "河北省排放报告")
    assert response.headers["Location"].endswith(f"{BASE}/{template_id}")
    listing = client.get(f"{BASE}/").get_data(as_text=True)
    assert "河北省排放报告" in listing and "河北省生态环境厅" in listing and "检查通过" in listing
    page = client.get(f"{BASE}/{template_id}").get_data(as_text=True)
    assert "河北报告.docx" in page and "检查通过" in page and 'id="activate-form"' in page
    preview = client.get(f"{BASE}/versions/{version_id}/preview")
    assert preview.status_code == 200
    assert preview.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    shown = text_of(preview.data)
    assert "报告主体：示例联合钢铁有限公司" in shown and "排放总量：5,163,239.00 tCO2" in shown
    assert "报告年度：2022" in shown


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_template_shows_each_problem_with_its_location_and_is_not_activated(app: Flask, case: str) -> None:
    filename, content, expected = BROKEN[case]
    client = signed_in(app, "consultant")
    kind = "tables" if filename.endswith(".xlsx") else "report"
    assert post_upload(client, f"坏模板-{case}", content, filename, kind).status_code == 302
    template_id, (version_id,) = ids(app, f"坏模板-{case}")
    page = client.get(f"{BASE}/{template_id}").get_data(as_text=True)
    assert "检查未通过" in page
    for code, location in expected:
        assert re.search(rf"<td>{re.escape(location)}</td>.*?<code>{code}</code>", page, re.S), (code, location)
    refused = client.post(f"{BASE}/{template_id}/activate", follow_redirects=True,
                          data={"version_id": version_id, "organization_id": org(app, "华钢集团")})
    assert "未通过模板检查" in refused.get_data(as_text=True) and "不能启用" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(TemplateActivation.id)) is None


def test_new_version_keeps_the_old_one_downloadable_with_the_same_sm3(app: Flask) -> None:
    client = signed_in(app, "consultant")
    first, second = good_docx(), good_docx("第二版：{{ standard }}")
    post_upload(client, "集团报告", first)
    template_id, _ = ids(app, "集团报告")
    assert 'id="new-version"' in client.get(f"{BASE}/{template_id}").get_data(as_text=True)
    form = client.get(f"{BASE}/upload?template_id={template_id}").get_data(as_text=True)
    assert 'value="集团报告"' in form
    assert post_upload(client, "集团报告", second, "集团报告-2.docx", note="增加标准").status_code == 302
    _, (v1, v2) = ids(app, "集团报告")
    old = client.get(f"{BASE}/versions/{v1}/file")
    assert old.status_code == 200 and old.data == first
    with app.app_context():
        assert sm3_hex(old.data) == db.session.get(TemplateVersion, v1).sm3
    page = client.get(f"{BASE}/{template_id}").get_data(as_text=True)
    assert 'id="version-2"' in page and 'id="version-1"' in page and "增加标准" in page
    again = post_upload(client, "集团报告", first)
    assert again.status_code == 422 and "与“集团报告”第 1 版的文件完全相同" in again.get_data(as_text=True)


def test_bad_upload_form_shows_the_chinese_reasons_and_keeps_the_values(app: Flask) -> None:
    client = signed_in(app, "consultant")
    response = post_upload(client, "", b"plain text", "说明.txt", authority="某省")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "模板名称：必填" in page and "文件“说明.txt”的类型不支持" in page and 'value="某省"' in page


def test_activation_per_organisation_is_inherited_and_shown(app: Flask) -> None:
    client = signed_in(app, "consultant")
    post_upload(client, "集团报告", good_docx())
    post_upload(client, "集团报告", good_docx("东区"))
    template_id, (v1, v2) = ids(app, "集团报告")
    group, east, west = org(app, "华钢集团"), org(app, "东区"), org(app, "西区")
    for version, node in ((v1, group), (v2, east)):
        done = client.post(f"{BASE}/{template_id}/activate", data={"version_id": version, "organization_id": node})
        assert done.status_code == 302
    with app.app_context():
        assert service.active_version(db.session, west, "report").id == v1
        assert service.active_version(db.session, east, "report").id == v2
    page = client.get(f"{BASE}/{template_id}").get_data(as_text=True)
    effective = page[page.index('id="template-effective"'):]

    def in_force(name: str) -> str:
        found = re.search(rf"<td>\u3000*{name}</td>\s*<td>(.*?)</td>", effective, re.S)
        assert found is not None, name
        return found.group(1)

    assert "1" in in_force("西区") and "华钢集团" in in_force("西区")  # inherited from the group
    assert "2" in in_force("东区") and "华钢集团" not in in_force("东区")  # its own activation
    # the viewer (东区 only) sees the 东区 activation but not the group's, and cannot change anything
    viewer = signed_in(app, "viewer").get(f"{BASE}/{template_id}").get_data(as_text=True)
    activations = viewer[viewer.index('id="template-activations"'):viewer.index("</table>", viewer.index(
        'id="template-activations"'))]
    assert "东区" in activations and "华钢集团" not in activations
    assert 'id="activate-form"' not in viewer and 'id="new-version"' not in viewer
    # removing 东区's own activation: it inherits the group's version again
    with app.app_context():
        own = db.session.scalar(select(TemplateActivation.id).where(TemplateActivation.organization_id == east))
    assert client.post(f"{BASE}/activations/{own}/remove").status_code == 302
    with app.app_context():
        assert service.active_version(db.session, east, "report").id == v1


def test_consultant_cannot_activate_outside_the_scope_but_the_administrator_can(app: Flask) -> None:
    with app.app_context():
        outside = Organization(name="外部集团", level="集团")
        db.session.add(outside)
        db.session.commit()
        outside_id = outside.id
    client = signed_in(app, "consultant")
    post_upload(client, "集团报告", good_docx())
    template_id, (version_id,) = ids(app, "集团报告")
    assert "外部集团" not in client.get(f"{BASE}/{template_id}").get_data(as_text=True)
    refused = client.post(f"{BASE}/{template_id}/activate", follow_redirects=True,
                          data={"version_id": version_id, "organization_id": outside_id})
    page = refused.get_data(as_text=True)
    assert f"组织：编号 {outside_id} 不存在或不在您的数据范围内" in page and "外部集团" not in page
    admin = signed_in(app, "admin")
    assert admin.post(f"{BASE}/{template_id}/activate",
                      data={"version_id": version_id, "organization_id": outside_id}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(TemplateActivation.organization_id)) == outside_id


def test_viewer_reads_but_cannot_post_and_the_filler_cannot_open(app: Flask) -> None:
    consultant = signed_in(app, "consultant")
    post_upload(consultant, "集团报告", good_docx())
    template_id, (version_id,) = ids(app, "集团报告")
    viewer = signed_in(app, "viewer")
    for url in (f"{BASE}/", f"{BASE}/{template_id}", f"{BASE}/versions/{version_id}/file",
                f"{BASE}/versions/{version_id}/preview", "/reports/variables/"):
        assert viewer.get(url).status_code == 200, url
    assert viewer.get(f"{BASE}/upload").status_code == 403
    assert post_upload(viewer, "偷传", good_docx("x")).status_code == 403
    assert viewer.post(f"{BASE}/{template_id}/activate",
                       data={"version_id": version_id, "organization_id": org(app, "东区")}).status_code == 403
    filler = signed_in(app, "filler")
    for url in (f"{BASE}/", f"{BASE}/{template_id}", "/reports/variables/"):
        assert filler.get(url).status_code == 403, url
    with app.app_context():
        assert db.session.scalar(select(TemplateActivation.id)) is None
        uploaded = select(TemplateVersion).join(TemplateVersion.template).where(ReportTemplate.builtin.is_(False))
        assert len(db.session.scalars(uploaded).all()) == 1


def test_variable_catalogue_page_and_excel(app: Flask) -> None:
    client = signed_in(app, "viewer")
    page = client.get("/reports/variables/").get_data(as_text=True)
    row = re.search(r"<code>total_tco2</code>.*?</tr>", page, re.S)
    assert row is not None and "排放总量" in row.group(0) and "<td>tCO2</td>" in row.group(0)
    assert "<code>by_process[].share</code>" in page and "{{ r.share }}" in page
    response = client.get("/reports/variables/variables.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data))["变量目录"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["total_tco2"][4].startswith("排放总量") and rows["total_tco2"][5] == "tCO2"
    assert rows["by_process[].tco2"][3] == "列" and sheet["A1"].value == "变量"


def test_api_upload_activate_active_and_refusals(app: Flask) -> None:
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {api_token(client, 'consultant', PASSWORDS['consultant'])}"}
    created = client.post("/api/v1/report-templates/", headers=bearer, content_type="multipart/form-data",
                          data={"name": "接口模板", "kind": "report", "file": (io.BytesIO(good_docx()), "a.docx")})
    assert created.status_code == 201, created.get_data(as_text=True)
    version = created.get_json()["result"]
    assert (version["version"], version["status"], version["check_result"]) == (1, "checked", [])
    filename, content, _ = BROKEN["split_tag"]
    bad = client.post("/api/v1/report-templates/", headers=bearer, content_type="multipart/form-data",
                      data={"name": "接口坏模板", "kind": "report", "file": (io.BytesIO(content), filename)})
    assert bad.status_code == 201 and bad.get_json()["result"]["status"] == "failed"
    group = org(app, "华钢集团")
    refused = client.post(f"/api/v1/report-templates/versions/{bad.get_json()['result']['id']}/activate",
                          headers=bearer, json={"organization_id": group})
    assert refused.status_code == 422 and "未通过模板检查" in refused.get_json()["message"]
    done = client.post(f"/api/v1/report-templates/versions/{version['id']}/activate", headers=bearer,
                       json={"organization_id": group})
    assert done.status_code == 200 and done.get_json()["result"]["organization_id"] == group
    active = client.get(f"/api/v1/report-templates/active?organization_id={org(app, '西区')}&kind=report",
                        headers=bearer).get_json()["result"]
    assert active["id"] == version["id"] and active["template"] == "接口模板"
    catalogue = client.get("/api/v1/report-templates/catalogue", headers=bearer).get_json()["result"]
    assert {"name": "total_tco2", "unit": "tCO2"}.items() <= next(r for r in catalogue
                                                                   if r["name"] == "total_tco2").items()
    viewer = {"Authorization": f"Bearer {api_token(client, 'viewer', PASSWORDS['viewer'])}"}
    assert client.get("/api/v1/report-templates/", headers=viewer).status_code == 200
    assert client.post(f"/api/v1/report-templates/versions/{version['id']}/activate", headers=viewer,
                       json={"organization_id": group}).status_code == 403
    empty = client.post("/api/v1/report-templates/", headers=bearer, data={"name": "x"})
    assert empty.status_code == 422 and "请选择要上传的文件" in empty.get_json()["message"]


def test_upload_without_a_csrf_token_is_refused(database_url: str, tmp_path: Path) -> None:
    app = build_app(database_url, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    try:
        client = app.test_client()
        page = client.get("/login/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/login/", data={"username": "consultant", "password": PASSWORDS["consultant"],
                                     "csrf_token": token})
        form = client.get(f"{BASE}/upload").get_data(as_text=True)
        assert post_upload(client, "集团报告", good_docx()).status_code == 400
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        assert post_upload(client, "集团报告", good_docx(), csrf_token=token).status_code == 302
    finally:
        dispose(app)
