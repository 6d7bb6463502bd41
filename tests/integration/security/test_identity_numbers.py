"""法定代表人身份证号: GB 11643 validation, SM4 at rest, masked in pages, API, logs and exports, rotated."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Text, select, type_coerce

from orgcarbon.metamodel.idcard import check_character, id_number_problem
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.security.audit import acting_as
from orgcarbon.security.crypto import KeyRing
from orgcarbon.security.models import AuditEntry
from tests.conftest import TEST_SECRETS, api_token, login, run_cli
from tests.integration.metamodel.helpers import PASSWORDS, Api

COMPANY = "华钢钢铁股份有限公司"
ID_NUMBER, MASKED = "11010519491231002X", "110105********002X"
EDITOR = ("idcard-editor", "Demo-editor-1")  # writes the emission model, may not see sensitive data


def _company(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(Organization.id).where(Organization.name == COMPANY)))


def _raw(app: Flask, org_id: int) -> str:
    column = Organization.__table__.c.legal_representative_id_number
    with app.app_context():
        return str(db.session.scalar(select(type_coerce(column, Text)).where(Organization.id == org_id)))


def _stored(app: Flask, org_id: int) -> str | None:
    with app.app_context():
        db.session.expire_all()
        return db.session.get(Organization, org_id).legal_representative_id_number


def _editor(app: Flask) -> FlaskClient:
    """A user whose role writes the emission model (group scope) but lacks ``SensitiveData``."""
    from orgcarbon.metamodel.models import UserOrganization

    with app.app_context(), acting_as("test"):
        sm = app.appbuilder.sm
        role = sm.add_role("模型编辑（无敏感数据）")
        for view in ("Metamodel",):
            for permission in ("can_read", "can_write"):
                sm.add_permission_role(role, sm.find_permission_view_menu(permission, view))
        user = sm.add_user(EDITOR[0], "编辑", "模型", "editor@example.invalid", role, password=EDITOR[1])
        group = db.session.scalar(select(Organization.id).where(Organization.parent_id.is_(None)))
        db.session.add(UserOrganization(user_id=user.id, organization_id=group))
        db.session.commit()
    PASSWORDS[EDITOR[0]] = EDITOR[1]
    client = app.test_client()
    login(client, *EDITOR)
    return client


@pytest.mark.parametrize(("value", "reason"), [
    (ID_NUMBER, None),
    ("11010519491231002x", None),  # a lower-case x is the same number
    ("110105194912310021", "校验位错误（应为 X）"),
    ("11010519491231002", "应为 18 位，实际 17 位"),
    ("11010519491331002X", "出生日期 19491331 不是有效日期"),
    ("1101051949123100AX", "前 17 位应为数字，最后一位为数字或 X"),
    ("110105209912310021", "出生日期 20991231 不在合理范围内"),
])
def test_gb11643_check(value: str, reason: str | None) -> None:
    assert id_number_problem(value, today=dt.date(2025, 1, 1)) == reason


def test_check_character_of_published_examples() -> None:
    # The standard's own example (ends in X), and two made-up numbers worked out by hand.
    assert check_character("11010519491231002") == "X"
    assert check_character("44052419800101001") == "3"
    assert check_character("32010619870512123") == "8"


def test_demo_company_holds_the_number_encrypted(app: Flask) -> None:
    org_id = _company(app)
    raw = _raw(app, org_id)
    assert raw.startswith(KeyRing.from_hex(TEST_SECRETS["DATA_KEY"]).active_id + ":")
    assert ID_NUMBER not in raw and "19491231" not in raw
    assert _stored(app, org_id) == ID_NUMBER
    with app.app_context():
        assert db.session.get(Organization, org_id).legal_representative == "李明"
        trail = " ".join(str(e.after) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.table_name == "mm_organization", AuditEntry.row_id == str(org_id))))
    assert MASKED in trail and ID_NUMBER not in trail


def test_api_and_pages_mask_it_for_roles_without_sensitive_data(app: Flask) -> None:
    org_id = _company(app)
    for user, shown in (("viewer", None), ("auditor", MASKED), ("modeller", ID_NUMBER), ("admin", ID_NUMBER)):
        answer = Api(app, user).get(f"organization/{org_id}")
        if shown is None:  # the viewer belongs to 东区: the company is outside the scope
            assert answer.status_code == 404
            continue
        result = answer.get_json()["result"]
        assert (result["legal_representative"], result["legal_representative_id_number"]) == ("李明", shown), user
    auditor = app.test_client()
    login(auditor, "auditor", "Demo-auditor-1")
    page = auditor.get(f"/organizationview/show/{org_id}").get_data(as_text=True)
    assert MASKED in page and ID_NUMBER not in page and "李明" in page
    modeller = app.test_client()
    login(modeller, "modeller", PASSWORDS["modeller"])
    assert ID_NUMBER in modeller.get(f"/organizationview/show/{org_id}").get_data(as_text=True)
    assert ID_NUMBER in modeller.get(f"/organizationview/edit/{org_id}").get_data(as_text=True)


def test_labels_are_chinese(app: Flask) -> None:
    """Needs the two msgids in the zh catalogue (法定代表人, 法定代表人身份证号)."""
    modeller = app.test_client()
    login(modeller, "modeller", PASSWORDS["modeller"])
    page = modeller.get(f"/organizationview/show/{_company(app)}").get_data(as_text=True)
    assert "法定代表人身份证号" in page and "法定代表人" in page


def test_invalid_numbers_are_refused_naming_the_field(app: Flask) -> None:
    org_id = _company(app)
    refused = Api(app, "modeller").put(f"organization/{org_id}", {"legal_representative_id_number": "110105194912310021"})
    assert refused.status_code == 422
    (reason,) = refused.get_json()["message"]["legal_representative_id_number"]
    assert reason.endswith("：校验位错误（应为 X）")
    assert _stored(app, org_id) == ID_NUMBER
    modeller = app.test_client()
    login(modeller, "modeller", PASSWORDS["modeller"])
    form = {"name": COMPANY, "level": "公司", "legal_representative_id_number": "1101051949123100"}
    page = modeller.post(f"/organizationview/edit/{org_id}", data=form).get_data(as_text=True)
    assert "应为 18 位，实际 16 位" in page and "1101051949123100" in page  # the form keeps what was typed
    assert _stored(app, org_id) == ID_NUMBER
    accepted = Api(app, "modeller").put(f"organization/{org_id}", {"legal_representative_id_number": " 32010619870512123x "})
    assert accepted.status_code == 422  # x is not the check character of this one: 8 is
    accepted = Api(app, "modeller").put(f"organization/{org_id}", {"legal_representative_id_number": " 320106198705121238 "})
    assert accepted.status_code == 200, accepted.get_json()
    assert _stored(app, org_id) == "320106198705121238"


def test_users_without_sensitive_data_edit_other_fields_without_seeing_or_losing_it(app: Flask) -> None:
    org_id = _company(app)
    editor = _editor(app)
    form_page = editor.get(f"/organizationview/edit/{org_id}").get_data(as_text=True)
    field = re.search(r'<textarea[^>]*name="legal_representative_id_number"[^>]*>\s*([^<]*?)\s*</textarea>', form_page)
    assert field is not None and field.group(1) == MASKED and ID_NUMBER not in form_page
    with app.app_context():
        parent = db.session.get(Organization, org_id).parent_id
    saved = editor.post(f"/organizationview/edit/{org_id}", data={
        "name": COMPANY, "level": "公司", "parent": str(parent), "address": "河北省唐山市丰南区沿海工业区 2 号",
        "legal_representative": "李明", "legal_representative_id_number": MASKED})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert _stored(app, org_id) == ID_NUMBER
    bearer = {"Authorization": f"Bearer {api_token(app.test_client(), *EDITOR)}"}
    shown = editor.get(f"/api/v1/organization/{org_id}", headers=bearer).get_json()["result"]
    assert shown["legal_representative_id_number"] == MASKED
    written = editor.put(f"/api/v1/organization/{org_id}", headers=bearer,
                         json={"legal_representative_id_number": MASKED, "contact_name": "赵工"})
    assert written.status_code == 200, written.get_json()
    assert _stored(app, org_id) == ID_NUMBER


def test_log_exports_do_not_hold_it(app: Flask) -> None:
    """The log exports name changed fields; the values they show come from the masked trail."""
    auditor = app.test_client()
    login(auditor, "auditor", "Demo-auditor-1")
    csv = auditor.get("/logs/export/csv?kind=operation").get_data(as_text=True)
    assert "操作日志" in csv and ID_NUMBER not in csv and "19491231" not in csv
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(auditor.get("/logs/export/xlsx?kind=operation").get_data()), read_only=True)
    cells = " ".join(str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c)
    assert "操作日志" in cells and ID_NUMBER not in cells and "19491231" not in cells


def test_key_rotation_reencrypts_it(app: Flask, tmp_path: Path) -> None:
    from orgcarbon.platform.metadata import all_metadata
    from orgcarbon.security.keys import encrypted_columns

    labels = {c.label for c in encrypted_columns(all_metadata())}
    assert "mm_organization.legal_representative_id_number" in labels
    org_id = _company(app)
    old = _raw(app, org_id)
    key_file = tmp_path / "data.keys"
    result = run_cli(app, ["keys", "rotate", "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert re.search(r"mm_organization\.legal_representative_id_number：[1-9]\d* 条", result.output), result.output
    new = _raw(app, org_id)
    assert new != old and new.startswith(KeyRing.from_file(key_file).active_id + ":")
    assert _stored(app, org_id) == ID_NUMBER
