"""IP allowlists per role and per user: refused logins and requests, in Chinese, and logged."""

from __future__ import annotations

from flask import Flask

from orgcarbon.platform.extensions import db
from orgcarbon.security.models import RoleSecurity, UserSecurity
from tests.conftest import ADMIN_PASSWORD, login
from tests.integration.security.helpers import VIEWER, api_login, client_at, form_login, log_rows


def _role_list(app: Flask, role: str, allowed: str) -> None:
    with app.app_context():
        role_id = app.appbuilder.sm.find_role(role).id
        db.session.merge(RoleSecurity(role_id=role_id, allowed_ips=allowed))
        db.session.commit()


def test_role_allowlist_refuses_web_and_api_login_from_elsewhere(app: Flask) -> None:
    _role_list(app, "只读用户", "192.168.10.0/24, 2001:db8::/32")
    outside = client_at(app, "203.0.113.9")
    response = outside.post("/login/", data={"username": VIEWER[0], "password": VIEWER[1]})
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "203.0.113.9" in page and "不在允许访问的范围内" in page
    assert "当前用户" not in outside.get("/").get_data(as_text=True)  # no session was created
    api = api_login(client_at(app, "203.0.113.9"), *VIEWER)
    assert api.status_code == 403
    assert api.get_json()["code"] == "ip_not_allowed"
    assert "当前用户：viewer" in form_login(client_at(app, "192.168.10.7"), *VIEWER).get_data(as_text=True)
    assert api_login(client_at(app, "2001:db8::5"), *VIEWER).status_code == 200
    refusals = log_rows(app, "security", "ip_refused")
    assert len(refusals) == 2 and {r.ip for r in refusals} == {"203.0.113.9"}
    assert all(r.username == "viewer" for r in refusals)


def test_wrong_password_from_elsewhere_fails_as_usual_and_counts(app: Flask) -> None:
    _role_list(app, "只读用户", "192.168.10.0/24")
    response = client_at(app, "203.0.113.9").post("/login/", data={"username": "viewer", "password": "Wrong-pass-1"})
    assert response.status_code == 302  # the normal failure: nothing about the allowlist is revealed
    with app.app_context():
        assert app.appbuilder.sm.find_user(username="viewer").fail_login_count == 1


def test_user_allowlist_refuses_requests_of_a_signed_in_user_and_api_tokens(app: Flask) -> None:
    client = client_at(app, "10.1.1.1")
    login(client, *VIEWER)
    token = api_login(client, *VIEWER).get_json()["access_token"]
    with app.app_context():
        user_id = app.appbuilder.sm.find_user(username="viewer").id
        db.session.merge(UserSecurity(user_id=user_id, allowed_ips="10.9.9.9"))
        db.session.commit()
    page = client.get("/")
    assert page.status_code == 403 and "10.1.1.1" in page.get_data(as_text=True)
    assert "当前用户" not in client.get("/", follow_redirects=True).get_data(as_text=True)  # signed out
    api = client_at(app, "10.1.1.1").get("/api/v1/organization/", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 403 and api.get_json()["code"] == "ip_not_allowed"
    allowed = client_at(app, "10.9.9.9").get("/api/v1/organization/", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(app: Flask, database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import build_app, dispose

    _role_list(app, "只读用户", "192.168.10.0/24")
    spoofed = {"X-Forwarded-For": "192.168.10.7"}
    direct = client_at(app, "203.0.113.9").post("/login/", data={"username": "viewer", "password": "Demo-viewer-1"},
                                                headers=spoofed)
    assert direct.status_code == 403  # a client cannot name its own address
    proxied = build_app(database_url, tmp_path / "proxied", TRUSTED_PROXY_HOPS=1)
    try:
        response = client_at(proxied, "127.0.0.1").post(
            "/login/", data={"username": "viewer", "password": "Demo-viewer-1"}, headers=spoofed)
        assert response.status_code == 302 and "/login" not in response.headers["Location"]
    finally:
        dispose(proxied)


def test_admin_page_edits_lists_and_refuses_bad_entries(app: Flask) -> None:
    admin = app.test_client()
    login(admin, "admin", ADMIN_PASSWORD)
    with app.app_context():
        role_id = app.appbuilder.sm.find_role("审计员").id
        user_id = app.appbuilder.sm.find_user(username="auditor").id
    page = admin.post(f"/security/access/role/{role_id}", data={"allowed_ips": "10.0.0.1/8\n192.168.1.2"},
                      follow_redirects=True).get_data(as_text=True)
    assert "已保存角色“审计员”的 IP 白名单：10.0.0.0/8, 192.168.1.2" in page
    bad = admin.post(f"/security/access/role/{role_id}", data={"allowed_ips": "10.0.0.999"},
                     follow_redirects=True).get_data(as_text=True)
    assert "“10.0.0.999” 不是有效的 IP 地址或网段" in bad
    admin.post(f"/security/access/user/{user_id}", data={"allowed_ips": "::1", "must_change_password": "y"})
    with app.app_context():
        assert db.session.get(RoleSecurity, role_id).allowed_ips == "10.0.0.0/8, 192.168.1.2"
        state = db.session.get(UserSecurity, user_id)
        assert (state.allowed_ips, state.must_change_password) == ("::1", True)
    viewer = app.test_client()
    login(viewer, *VIEWER)
    assert viewer.get("/security/access/").status_code == 403  # administrators only
