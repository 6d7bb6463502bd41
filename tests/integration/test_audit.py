"""The audit listener: every insert, update and delete, from the API and from scripts alike."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from orgcarbon.platform.extensions import db
from orgcarbon.security.audit import MASK, acting_as
from orgcarbon.security.models import AuditEntry
from tests.conftest import ADMIN_PASSWORD, api_token


def entries(app: Flask, table: str, row_id: str | None = None) -> list[AuditEntry]:
    with app.app_context():
        query = select(AuditEntry).where(AuditEntry.table_name == table).order_by(AuditEntry.id)
        if row_id is not None:
            query = query.where(AuditEntry.row_id == row_id)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return list(rows)


def test_api_create_update_delete_are_audited_with_user_ip_and_values(app: Flask) -> None:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api_token(client, 'admin', ADMIN_PASSWORD)}"}
    created = client.post("/api/v1/security/roles/", json={"name": "临时角色"}, headers=headers)
    assert created.status_code == 201, created.get_data(as_text=True)
    role_id = str(created.get_json()["id"])
    assert client.put(f"/api/v1/security/roles/{role_id}", json={"name": "改名角色"}, headers=headers).status_code == 200
    assert client.delete(f"/api/v1/security/roles/{role_id}", headers=headers).status_code == 200

    log = entries(app, "ab_role", role_id)
    assert [e.action for e in log] == ["insert", "update", "delete"]
    assert {e.username for e in log} == {"admin"}
    assert {e.ip for e in log} == {"127.0.0.1"}
    assert log[0].before is None and log[0].after["name"] == "临时角色"
    assert log[1].before == {"name": "临时角色"} and log[1].after == {"name": "改名角色"}
    assert log[2].before["name"] == "改名角色" and log[2].after is None


def test_script_changes_are_audited_as_the_acting_user(app: Flask) -> None:
    with app.app_context(), acting_as("script:test"):
        sm = app.appbuilder.sm
        role = sm.add_role("脚本角色")
        role_id = str(role.id)
    log = entries(app, "ab_role", role_id)
    assert [(e.action, e.username, e.ip) for e in log] == [("insert", "script:test", None)]


def test_passwords_never_enter_the_audit_trail(app: Flask) -> None:
    with app.app_context(), acting_as("script:test"):
        sm = app.appbuilder.sm
        user = sm.add_user("newbie", "新", "用户", "newbie@example.invalid", sm.find_role("只读用户"), password="Secret-pass-1")
        user_id = str(user.id)
    (insert,) = entries(app, "ab_user", user_id)
    assert insert.after["password"] == MASK
    assert "Secret-pass-1" not in str(insert.after)


def test_rolled_back_change_leaves_no_audit_row(app: Flask) -> None:
    from flask_appbuilder.security.sqla.models import Role

    before = len(entries(app, "ab_role"))
    with app.app_context():
        db.session.add(Role(name="回滚角色"))
        db.session.flush()
        db.session.rollback()
        db.session.add(Role(name="保留角色"))
        db.session.commit()
    after = entries(app, "ab_role")
    assert len(after) == before + 1
    assert after[-1].after["name"] == "保留角色"


def test_audit_log_page_and_api_show_entries_read_only(app: Flask) -> None:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api_token(client, 'auditor', 'Demo-auditor-1')}"}
    listing = client.get("/api/v1/audit/?q=(order_column:id,order_direction:desc,page_size:5)", headers=headers)
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["count"] >= 8  # init and demo created at least the eight users
    assert set(body["result"][0]) >= {"occurred_at", "username", "action", "table_name", "row_id"}
    assert client.delete(f"/api/v1/audit/{body['ids'][0]}", headers=headers).status_code in (404, 405)
    assert client.post("/api/v1/audit/", json={"action": "insert"}, headers=headers).status_code in (404, 405)


def test_audit_log_names_metamodel_tables_by_their_entity(app: Flask) -> None:
    from orgcarbon.metamodel.entities import ENTITIES
    from tests.conftest import login

    material = next(e for e in ENTITIES if e.name == "material")
    table = material.model.__table__.name
    client = app.test_client()
    login(client, "admin", ADMIN_PASSWORD)
    html = client.get(f"/auditentryview/list/?_flt_0_table_name={table}").get_data(as_text=True)
    with app.test_request_context():
        title = str(material.title)
    assert f"{title} ({table})" in html
