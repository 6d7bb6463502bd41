"""Passwords: rules everywhere, forced change after an administrator sets one, history, expiry."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from orgcarbon.platform.extensions import db
from orgcarbon.security.models import PasswordHistory, UserSecurity
from tests.conftest import ADMIN_PASSWORD, api_token, login, run_cli
from tests.integration.security.helpers import api_login, log_rows


def _admin(app: Flask):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, "admin", ADMIN_PASSWORD)
    return client


def _add_user_form(app: Flask, client, password: str):  # type: ignore[no-untyped-def]
    with app.app_context():
        role_id = app.appbuilder.sm.find_role("只读用户").id
    return client.post("/users/add", data={
        "first_name": "新", "last_name": "用户", "username": "newbie", "active": "y",
        "email": "newbie@example.invalid", "roles": [str(role_id)], "password": password,
        "conf_password": password,
    }, follow_redirects=True)


def test_user_added_by_an_administrator_must_change_the_password_first(app: Flask) -> None:
    page = _add_user_form(app, _admin(app), "Temp-pass-1").get_data(as_text=True)
    assert "记录已添加" in page
    with app.app_context():
        user = app.appbuilder.sm.find_user(username="newbie")
        state = db.session.get(UserSecurity, user.id)
        assert state.must_change_password is True
        assert user.password.startswith(("scrypt:", "pbkdf2:")) and "Temp-pass-1" not in user.password
    newbie = app.test_client()
    first = login(newbie, "newbie", "Temp-pass-1")
    assert first.request.path == "/resetmypassword/form"
    assert "请先设置新密码" in first.get_data(as_text=True)
    assert newbie.get("/organizationview/list/").status_code == 302  # everything leads to the form
    token = api_token(app.test_client(), "newbie", "Temp-pass-1")
    api = app.test_client().get("/api/v1/organization/", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 403 and api.get_json()["code"] == "password_change_required"
    same = newbie.post("/resetmypassword/form", data={"password": "Temp-pass-1", "conf_password": "Temp-pass-1"},
                       follow_redirects=True)
    assert "不能使用最近用过的" in same.get_data(as_text=True)
    newbie.post("/resetmypassword/form", data={"password": "Own-choice-2", "conf_password": "Own-choice-2"})
    assert newbie.get("/organizationview/list/").status_code == 200
    with app.app_context():
        user = app.appbuilder.sm.find_user(username="newbie")
        assert db.session.get(UserSecurity, user.id).must_change_password is False
        hashes = db.session.scalars(select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)).all()
    assert len(hashes) == 2 and not any("Own-choice-2" in h or "Temp-pass-1" in h for h in hashes)
    assert log_rows(app, "security", "password_changed")[-1].username == "newbie"


def test_weak_passwords_are_refused_in_the_form_the_api_and_add_user(app: Flask) -> None:
    page = _add_user_form(app, _admin(app), "weakpass").get_data(as_text=True)
    assert "至少包含大写字母、小写字母、数字、特殊符号中的三类" in page
    token = api_token(app.test_client(), "admin", ADMIN_PASSWORD)
    with app.app_context():
        role_id = app.appbuilder.sm.find_role("只读用户").id
    response = app.test_client().post("/api/v1/security/users/", headers={"Authorization": f"Bearer {token}"}, json={
        "first_name": "a", "last_name": "b", "username": "apiuser", "email": "a@example.invalid",
        "active": True, "roles": [role_id], "password": "short"})
    assert response.status_code == 400 and "长度至少 8 位" in response.get_json()["message"]["password"][0]
    with app.app_context():
        sm = app.appbuilder.sm
        assert sm.add_user("scripted", "a", "b", "s@example.invalid", sm.find_role("只读用户"), password="abc") is False
        assert sm.find_user(username="scripted") is None


def test_administrator_reset_forces_a_change_and_history_is_kept(app: Flask) -> None:
    with app.app_context():
        viewer_id = app.appbuilder.sm.find_user(username="viewer").id
    admin = _admin(app)
    reused = admin.post(f"/resetpassword/form?pk={viewer_id}", data={"password": "Demo-viewer-1",
                        "conf_password": "Demo-viewer-1"}, follow_redirects=True)
    assert "不能使用最近用过的" in reused.get_data(as_text=True)
    admin.post(f"/resetpassword/form?pk={viewer_id}", data={"password": "Reset-by-admin-1", "conf_password": "Reset-by-admin-1"})
    assert login(app.test_client(), "viewer", "Reset-by-admin-1").request.path == "/resetmypassword/form"
    assert log_rows(app, "security", "password_reset")


def test_cli_reset_password_checks_rules_and_forces_a_change(app: Flask) -> None:
    weak = run_cli(app, ["user", "reset-password", "viewer", "--password", "weak"])
    assert weak.exit_code != 0 and "长度至少 8 位" in weak.output
    done = run_cli(app, ["user", "reset-password", "viewer", "--password", "Cli-reset-pass-1"])
    assert done.exit_code == 0, done.output
    assert "下次登录时须修改密码" in done.output
    with app.app_context():
        user = app.appbuilder.sm.find_user(username="viewer")
        assert db.session.get(UserSecurity, user.id).must_change_password is True
    again = run_cli(app, ["user", "reset-password", "viewer", "--password", "Cli-reset-pass-1", "--keep"])
    assert again.exit_code != 0 and "最近用过的密码" in again.output


def test_expired_password_must_be_changed(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import build_app, dispose

    app = build_app(database_url, tmp_path / "i", PASSWORD_EXPIRY_DAYS=30)
    try:
        assert login(app.test_client(), "viewer", "Demo-viewer-1").request.path == "/"  # clock starts now
        with app.app_context():
            user = app.appbuilder.sm.find_user(username="viewer")
            state = db.session.get(UserSecurity, user.id)
            state.password_changed_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
            db.session.commit()
        assert login(app.test_client(), "viewer", "Demo-viewer-1").request.path == "/resetmypassword/form"
        assert api_login(app.test_client(), "viewer", "Demo-viewer-1").status_code == 200
        assert log_rows(app, "security", "password_expired")
    finally:
        dispose(app)


def test_demo_users_and_a_configured_admin_password_are_not_forced(app: Flask) -> None:
    assert login(app.test_client(), "admin", ADMIN_PASSWORD).request.path == "/"
    assert login(app.test_client(), "filler", "Demo-filler-1").request.path == "/"
