"""Hardening: CSRF on every page form, production cookies, SSO login pages, schemathesis on the API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import ADMIN_PASSWORD, api_token, build_app, dispose


def _csrf_app(database_url: str, tmp_path: Path, **extra: object) -> Flask:
    return build_app(database_url, tmp_path / "csrf", WTF_CSRF_ENABLED=True, **extra)


def test_every_page_post_without_a_token_is_refused(database_url: str, tmp_path: Path) -> None:
    app = _csrf_app(database_url, tmp_path)
    try:
        client = app.test_client()
        page = client.get("/login/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert client.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 400
        assert client.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD,
                                            "csrf_token": token}).status_code == 302
        checked = 0
        for rule in app.url_map.iter_rules():
            if "POST" not in (rule.methods or ()) or rule.rule.startswith("/api/"):
                continue
            url = re.sub(r"<any\(([^,)]+)[^)]*\):\w+>", lambda m: m.group(1).strip(" '\""), rule.rule)
            url = re.sub(r"<[^>]+>", "1", url)
            response = client.post(url, data={"name": "x"})
            assert response.status_code == 400, (rule.rule, response.status_code)
            checked += 1
        assert checked > 30
        bearer = {"Authorization": f"Bearer {api_token(client, 'admin', ADMIN_PASSWORD)}"}
        assert client.post("/api/v1/unit/", json={}, headers=bearer).status_code in (400, 422)  # token auth: no CSRF
    finally:
        dispose(app)


def test_production_cookies_and_headers(database_url: str, tmp_path: Path) -> None:
    app = build_app(database_url, tmp_path / "prod", ENV="production")
    try:
        assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
        assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax" and app.config["REMEMBER_COOKIE_SECURE"]
        response = app.test_client().get("/login/")
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        dispose(app)


def test_api_error_shows_no_stack_trace(app: Flask) -> None:
    @app.route("/api/v1/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True) and response.get_json()["status"] == 500


def test_settings_switch_the_login_to_ldap_or_openid_connect(database_url: str, tmp_path: Path) -> None:
    from flask_appbuilder.const import AUTH_LDAP, AUTH_OAUTH

    ldap = build_app(database_url, tmp_path / "ldap", AUTH_TYPE="ldap", LDAP_SERVER="ldap://127.0.0.1:1",
                     LDAP_SEARCH="dc=example,dc=com")
    try:
        with ldap.app_context():
            assert ldap.appbuilder.sm.auth_type == AUTH_LDAP
        assert "AuthLDAPView.login" in ldap.view_functions
        assert 'name="password"' in ldap.test_client().get("/login/").get_data(as_text=True)
    finally:
        dispose(ldap)
    oidc = build_app(database_url, tmp_path / "oidc", AUTH_TYPE="oidc", OIDC_CLIENT_ID="orgcarbon",
                     OIDC_CLIENT_SECRET="s", OIDC_METADATA_URL="https://idp.invalid/.well-known/openid-configuration")
    try:
        with oidc.app_context():
            assert oidc.appbuilder.sm.auth_type == AUTH_OAUTH
        page = oidc.test_client().get("/login/").get_data(as_text=True)
        assert "oidc" in page and 'name="password"' not in page  # the provider's button, no password form
    finally:
        dispose(oidc)


@pytest.mark.slow
def test_openapi_fuzzed_with_schemathesis_gives_no_server_error(app: Flask) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    client = app.test_client()
    token = api_token(client, "admin", ADMIN_PASSWORD)
    spec = client.get("/api/v1/_openapi", headers={"Authorization": f"Bearer {token}"}).get_json()
    schema = schemathesis.openapi.from_dict(spec)
    failures = []
    operations = [op.ok() for op in schema.get_all_operations() if op.ok().method.upper() == "GET"]
    assert len(operations) > 20

    for operation in operations:
        @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case):  # type: ignore[no-untyped-def]
            response = case.call(app=app, headers={"Authorization": f"Bearer {token}"})
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code))

        run()
    assert failures == []
