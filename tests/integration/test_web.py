"""The web application as a person meets it: Chinese login, menu, logout, language choice."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ADMIN_PASSWORD, api_token, login


def test_anonymous_visitor_is_sent_to_a_chinese_login_page(client: FlaskClient) -> None:
    response = client.get("/", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.request.path == "/login/"
    assert "<title>组织碳平台</title>" in html
    assert "用户名" in html and "密码" in html and "登录" in html


def test_admin_logs_in_sees_chinese_menu_and_logs_out(client: FlaskClient) -> None:
    html = login(client, "admin", ADMIN_PASSWORD).get_data(as_text=True)
    assert "当前用户：admin" in html
    assert "系统管理员" in html
    for label in ("系统管理", "数据变更日志", "安全", "用户列表", "角色列表"):
        assert label in html, label
    response = client.get("/logout/", follow_redirects=True)
    assert response.request.path == "/login/"
    assert client.get("/auditentryview/list/").status_code == 302


def test_wrong_password_is_refused_in_chinese(client: FlaskClient) -> None:
    html = login(client, "admin", "Wrong-password-1").get_data(as_text=True)
    assert "当前用户" not in html
    assert "登录失败" in html or "无效" in html or "错误" in html


def test_english_is_selectable_and_remembered_per_user(app: Flask) -> None:
    first = app.test_client()
    login(first, "viewer", "Demo-viewer-1")
    html = first.get("/lang/en", follow_redirects=True).get_data(as_text=True)
    assert "Signed in as viewer" in html
    # A new session of the same user starts in English; another user still gets Chinese.
    second = app.test_client()
    assert "Signed in as viewer" in login(second, "viewer", "Demo-viewer-1").get_data(as_text=True)
    other = app.test_client()
    assert "当前用户：auditor" in login(other, "auditor", "Demo-auditor-1").get_data(as_text=True)


def test_session_is_permanent_with_idle_timeout(app: Flask, client: FlaskClient) -> None:
    login(client, "admin", ADMIN_PASSWORD)
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None and cookie.expires is not None
    assert app.permanent_session_lifetime.total_seconds() == 30 * 60


def test_bearer_api_calls_get_no_session_cookie(app: Flask) -> None:
    """A token-authenticated API call has no session to keep alive: no Set-Cookie; a page still gets one."""
    api = app.test_client(use_cookies=False)
    token = api_token(api, "viewer", "Demo-viewer-1")
    response = api.get("/api/v1/analysis/panorama?year=2024", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert isinstance(response.get_json()["result"], dict)
    page = app.test_client()
    login(page, "viewer", "Demo-viewer-1")
    assert page.get("/analysis/").status_code == 200
    assert page.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session")) is not None


def test_missing_permission_gets_a_chinese_403_page(client: FlaskClient) -> None:
    login(client, "filler", "Demo-filler-1")
    response = client.get("/auditentryview/list/")
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "权限不足" in html and "返回首页" in html
    assert "Forbidden" not in html


def test_unknown_page_gets_a_chinese_404_and_api_gets_json(client: FlaskClient) -> None:
    login(client, "admin", ADMIN_PASSWORD)
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "页面或记录不存在" in page.get_data(as_text=True)
    api = client.get("/api/v1/no-such-api/")
    assert api.status_code == 404
    assert api.get_json() == {"message": "页面或记录不存在，或不在您的数据范围内。", "status": 404}


def test_unexpected_error_shows_no_stack_trace(app: Flask) -> None:
    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "系统内部错误" in html and "secret internals" not in html and "Traceback" not in html


def test_pages_carry_security_headers(client: FlaskClient) -> None:
    response = client.get("/login/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_api_tokens_expire_with_the_session_timeout(app: Flask) -> None:
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds() == 30 * 60
