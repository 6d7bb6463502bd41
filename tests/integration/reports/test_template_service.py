"""Template management service: upload with check, versions, activation per node and inheritance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app
from sqlalchemy import func, select

from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.reports import templates_service as service
from orgcarbon.reports.models import ReportTemplate, TemplateActivation, TemplateVersion
from orgcarbon.security.audit import acting_as
from orgcarbon.security.crypto.sm3 import sm3_hex
from orgcarbon.security.models import AuditEntry
from tests.integration.reports.template_files import BROKEN, good_docx, xlsx_bytes


@pytest.fixture()
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def user(name: str) -> Any:
    return current_app.appbuilder.sm.find_user(username=name)


def org(name: str) -> int:
    found = db.session.scalar(select(Organization.id).where(Organization.name == name))
    assert found is not None, name
    return found


def upload(ctx: Flask, name: str, content: bytes, filename: str = "t.docx", kind: str = "report",
           who: str = "consultant", **extra: Any) -> TemplateVersion:
    version = service.upload_version(db.session, ctx.instance_path, name=name, authority=extra.get("authority"),
                                     standard=extra.get("standard"), kind=kind, filename=filename, content=content,
                                     user=user(who), note=extra.get("note"))
    db.session.commit()
    return version


def test_good_word_template_is_version_1_checked_and_kept_by_sm3(ctx: Flask) -> None:
    content = good_docx()
    version = upload(ctx, "河北省排放报告", content, "河北报告.docx", authority="河北省生态环境厅", note="首版")
    template = version.template
    assert (template.name, template.authority, template.standard, template.kind, template.builtin) == (
        "河北省排放报告", "河北省生态环境厅", "GB/T 32151.5-2015", "report", False)
    assert (version.version, version.status, version.check_result, version.note) == (1, "checked", [], "首版")
    assert version.sm3 == sm3_hex(content) and version.size == len(content)
    assert version.file_path == f"report_templates/{version.sm3[:2]}/{version.sm3}.docx"
    assert (Path(ctx.instance_path) / version.file_path).read_bytes() == content
    assert version.uploaded_by_id == user("consultant").id and version.checked_at is not None


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_template_fails_with_located_issues_and_cannot_be_activated(ctx: Flask, case: str) -> None:
    filename, content, expected = BROKEN[case]
    kind = "tables" if filename.endswith(".xlsx") else "report"
    version = upload(ctx, f"坏模板-{case}", content, filename, kind=kind)
    assert version.status == "failed"
    found = {(i["code"], i["location"]) for i in version.check_result if i["severity"] == "error"}
    assert expected <= found, version.check_result
    assert all(i["message"] and set(i) == {"severity", "code", "message", "location", "text"}
               for i in version.check_result)
    with pytest.raises(service.TemplateRefused, match="未通过模板检查") as refused:
        service.activate(db.session, version, org("华钢集团"), user("consultant"))
    assert f"（{len(found)} 个错误）" in refused.value.reasons[0]
    assert db.session.scalar(select(func.count()).select_from(TemplateActivation)) == 0


def test_versions_increment_old_files_stay_and_duplicates_or_kind_changes_are_refused(ctx: Flask) -> None:
    first, second = good_docx(), good_docx("第二版新增一段：{{ standard }}")
    v1 = upload(ctx, "集团报告", first)
    v2 = upload(ctx, "集团报告", second, "集团报告-v2.docx", authority="集团碳管理部", note="增加标准名称")
    assert (v1.version, v2.version, v2.template_id) == (1, 2, v1.template_id)
    assert v2.template.authority == "集团碳管理部"  # the newest upload's description wins
    assert service.template_bytes(ctx.instance_path, v1) == first and v1.sm3 == sm3_hex(first)
    assert service.template_bytes(ctx.instance_path, v2) == second
    with pytest.raises(service.TemplateRefused, match="与“集团报告”第 1 版的文件完全相同"):
        upload(ctx, "集团报告", first)
    db.session.rollback()
    with pytest.raises(service.TemplateRefused, match="新版本不能改为报表"):
        upload(ctx, "集团报告", good_docx("别的"), kind="tables")
    db.session.rollback()
    assert [v.version for v in v1.template.versions] == [1, 2]


@pytest.mark.parametrize(("fields", "reason"), [
    ({"name": " "}, "模板名称：必填"),
    ({"filename": "报告.doc"}, "模板文件：文件“报告.doc”的类型不支持"),
    ({"content": b""}, "是空文件"),
    ({"content": b"not a zip at all"}, "不是有效的 Office 文件"),
    ({"filename": "表.xlsx"}, "不是 Excel 工作簿（缺少 xl/workbook.xml）"),
    ({"content": b"x" * (20 * 1024 * 1024 + 1)}, "超过 20 MB"),
    ({"kind": "letter"}, "模板类型：应为"),
    ({"filename": ""}, "模板文件：请选择要上传的文件"),
])
def test_bad_upload_is_refused_with_the_field_and_stores_nothing(ctx: Flask, fields: dict[str, Any],
                                                                  reason: str) -> None:
    values: dict[str, Any] = {"name": "模板", "kind": "report", "filename": "t.docx", "content": good_docx()}
    values.update(fields)
    with pytest.raises(service.TemplateRefused) as refused:
        service.upload_version(db.session, ctx.instance_path, authority=None, standard=None, user=user("consultant"),
                               note=None, **values)
    assert any(reason in r for r in refused.value.reasons), refused.value.reasons
    db.session.rollback()
    uploaded = select(func.count()).select_from(ReportTemplate).where(ReportTemplate.builtin.is_(False))
    assert db.session.scalar(uploaded) == 0
    assert not (Path(ctx.instance_path) / "report_templates").exists()


def test_activation_is_inherited_down_the_tree_and_overridden_below(ctx: Flask) -> None:
    group, company, east, west = (org(n) for n in ("华钢集团", "华钢钢铁股份有限公司", "东区", "西区"))
    v1 = upload(ctx, "集团报告", good_docx())
    v2 = upload(ctx, "集团报告", good_docx("东区专用"))
    assert service.active_version(db.session, east, "report") is None
    service.activate(db.session, v1, group, user("consultant"))
    db.session.commit()
    assert {service.active_version(db.session, n, "report").id for n in (group, company, east, west)} == {v1.id}
    assert service.active_version(db.session, east, "tables") is None
    service.activate(db.session, v2, east, user("consultant"))
    db.session.commit()
    assert service.active_version(db.session, east, "report").id == v2.id
    assert service.active_version(db.session, west, "report").id == v1.id
    # Re-activating at the group replaces that node's activation (one row, audited), not east's.
    with acting_as("consultant"):  # outside a request the audit trail names the acting user so
        service.activate(db.session, v2, group, user("consultant"))
        db.session.commit()
    rows = db.session.execute(select(TemplateActivation.organization_id, TemplateActivation.version_id)).all()
    assert sorted(rows) == sorted([(group, v2.id), (east, v2.id)])
    updates = db.session.scalars(select(AuditEntry).where(AuditEntry.table_name == "rp_activation",
                                                          AuditEntry.action == "update")).all()
    assert [(u.before["version_id"], u.after["version_id"], u.username) for u in updates] == [
        (v1.id, v2.id, "consultant")]


def test_most_recent_activation_of_the_kind_wins_at_one_node(ctx: Flask) -> None:
    group, east = org("华钢集团"), org("东区")
    a = upload(ctx, "模板甲", good_docx("甲"))
    b = upload(ctx, "模板乙", good_docx("乙"))
    tables = upload(ctx, "政府表格", xlsx_bytes({"B2": "{{ total_tco2 }}"}), "表.xlsx", kind="tables")
    for version in (a, b, tables):
        service.activate(db.session, version, group, user("consultant"))
        db.session.commit()
    assert service.active_version(db.session, east, "report").id == b.id
    assert service.active_version(db.session, east, "tables").id == tables.id
    service.activate(db.session, a, group, user("consultant"))
    db.session.commit()
    assert service.active_version(db.session, east, "report").id == a.id


def test_activation_outside_the_users_scope_is_refused(ctx: Flask) -> None:
    outside = Organization(name="外部集团", level="集团")
    db.session.add(outside)
    db.session.commit()
    version = upload(ctx, "集团报告", good_docx())
    # Outside the scope and not existing get the same answer, which names neither node.
    with pytest.raises(service.TemplateRefused, match=f"组织：编号 {outside.id} 不存在或不在您的数据范围内") as refused:
        service.activate(db.session, version, outside.id, user("consultant"))
    assert "外部集团" not in str(refused.value)
    with pytest.raises(service.TemplateRefused, match="组织：编号 999999 不存在或不在您的数据范围内"):
        service.activate(db.session, version, 999_999, user("consultant"))
    db.session.rollback()
    activation = service.activate(db.session, version, outside.id, user("admin"))
    assert activation.organization_id == outside.id


def test_template_bytes_refuses_a_changed_or_missing_file(ctx: Flask) -> None:
    version = upload(ctx, "集团报告", good_docx())
    path = Path(ctx.instance_path) / version.file_path
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(service.TemplateRefused, match="SM3 摘要与上传时不符"):
        service.template_bytes(ctx.instance_path, version)
    path.unlink()
    with pytest.raises(service.TemplateRefused, match="模板文件缺失"):
        service.template_bytes(ctx.instance_path, version)


def test_seed_builtin_registers_both_shipped_templates_once(ctx: Flask) -> None:
    # `orgcarbon init` (which made the test database) registered them already; start again without them.
    seeded = db.session.scalars(select(ReportTemplate).where(ReportTemplate.builtin.is_(True))).all()
    assert sorted((t.name, [v.version for v in t.versions]) for t in seeded) == [
        ("gbt32151.5-report", [1]), ("gbt32151.5-tables", [1])]
    assert service.seed_builtin(db.session, ctx.instance_path) == []
    for template in seeded:
        db.session.delete(template)
    db.session.commit()
    added = service.seed_builtin(db.session, ctx.instance_path)
    db.session.commit()
    assert sorted((v.template.name, v.template.kind, v.version, v.status) for v in added) == [
        ("gbt32151.5-report", "report", 1, "checked"), ("gbt32151.5-tables", "tables", 1, "checked")]
    assert all(v.template.builtin and v.check_result == [] for v in added)
    assert service.seed_builtin(db.session, ctx.instance_path) == []
    assert db.session.scalar(select(func.count()).select_from(TemplateVersion)) == 2
    report = added[0] if added[0].template.kind == "report" else added[1]
    with pytest.raises(service.TemplateRefused, match="是内置模板，不能上传新版本"):
        upload(ctx, "gbt32151.5-report", good_docx())
    db.session.rollback()
    service.activate(db.session, report, org("华钢集团"), user("consultant"))
    db.session.commit()
    found = service.active_version(db.session, org("西区"), "report")
    assert found is not None and service.template_bytes(ctx.instance_path, found)[:2] == b"PK"
