"""Hardening: CSRF on every page form, production cookies, SSO login pages, schemathesis on the API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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


# Values the database cannot take in the filters and pages of FAB's security APIs and our audit API.
BAD_QUERIES = {
    "/api/v1/security/users/?q=(filters:!((col:username,opr:eq,value:'a%00b')))": "username",
    "/api/v1/security/roles/?q=(filters:!((col:name,opr:ct,value:'x%00')))": "name",
    "/api/v1/security/users/?q=(filters:!((col:roles,opr:rel_m_m,value:99999999999999999999)))": "roles",
    "/api/v1/security/users/?q=(page:99999999999999999999,page_size:10)": "page",
    "/api/v1/security/permissions/?q=(page:-5,page_size:10)": "page",
    "/api/v1/audit/?q=(filters:!((col:row_id,opr:eq,value:'a%00b')))": "row_id",
    "/api/v1/audit/?q=(filters:!((col:username,opr:sw,value:'%00')))": "username",
    "/api/v1/audit/?q=(page:99999999999999999999,page_size:10)": "page",
    "/api/v1/audit/?q=(page:-1)": "page",
}


def test_bad_filter_and_page_values_are_a_400_with_the_field_named(app: Flask) -> None:
    """NUL characters, integers beyond any column and negative pages: 400 naming the field, never 500."""
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {api_token(client, 'admin', ADMIN_PASSWORD)}",
              "Accept-Language": "zh"}
    for url, field in BAD_QUERIES.items():
        response = client.get(url, headers=bearer)
        assert (response.status_code, response.is_json) == (400, True), (url, response.get_data(as_text=True))
        assert field in response.get_json()["message"], (url, response.get_json())
        # The failed statement was rolled back: the same API answers the next request.
        assert client.get(url.split("?")[0], headers=bearer).status_code == 200, url
    found = client.get("/api/v1/security/users/?q=(filters:!((col:username,opr:eq,value:admin)))", headers=bearer)
    assert found.get_json()["count"] == 1


def test_malformed_writes_are_refused_with_the_field_named(app: Flask) -> None:
    """Writes FAB would answer with a 500: an unknown id, an object for a value, a duplicate name."""
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {api_token(client, 'admin', ADMIN_PASSWORD)}"}
    admin_role = app.config["AUTH_ROLE_ADMIN"]
    cases = [
        ("PUT", "/api/v1/security/users/999999", {"first_name": "x"}, 404, ""),
        ("POST", "/api/v1/security/permissions-resources/", {"view_menu_id": {"a": 1}}, 422, "view_menu_id"),
        ("POST", "/api/v1/binding/", {"code": "x", "formula": [1], "subprocess": {"name": "新"}}, 422,
         "formula, subprocess"),
        ("POST", "/api/v1/security/roles/", {"name": admin_role}, 422, "name"),
    ]
    for method, url, body, status, fields in cases:
        response = client.open(url, method=method, json=body, headers=bearer)
        assert (response.status_code, response.is_json) == (status, True), (url, response.get_data(as_text=True))
        assert fields in response.get_json()["message"], (url, response.get_json())
    roles = client.get(f"/api/v1/security/roles/?q=(filters:!((col:name,opr:eq,value:'{admin_role}')))",
                       headers=bearer)
    assert roles.get_json()["count"] == 1  # rolled back: nothing added, the session still answers


# Examples per operation: reads are cheap and where the filter and page values go; writes change
# the throwaway test data.
FUZZ_EXAMPLES = {"GET": 10, "POST": 3, "PUT": 3, "PATCH": 3, "DELETE": 3}


def _fuzz_order(operation: Any) -> tuple[bool, bool, bool, str]:
    """Reads first, then writes, deletes last; the security APIs' writes (which can take the
    administrator's own permissions away, answering 403 from then on) after every other write."""
    method = operation.method.upper()
    return method != "GET", operation.path.startswith("/api/v1/security/"), method == "DELETE", operation.path


def _targets_caller(case: Any, own: dict[str, int]) -> bool:
    """A write on the administrator's own user or role would lock the fuzzer out of the rest."""
    values = set((case.path_parameters or {}).values())
    return case.method.upper() != "GET" and any(
        case.path.startswith(prefix) and pk in values for prefix, pk in own.items())


@pytest.mark.slow
def test_openapi_fuzzed_with_schemathesis_gives_no_server_error(app: Flask) -> None:
    """Every operation of the OpenAPI description, fuzzed: bad input is a 4xx, never a 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, assume, given, settings

    client = app.test_client()
    token = api_token(client, "admin", ADMIN_PASSWORD)
    spec = client.get("/api/v1/_openapi", headers={"Authorization": f"Bearer {token}"}).get_json()
    schema = schemathesis.openapi.from_dict(spec)
    with app.app_context():
        sm = app.appbuilder.sm  # type: ignore[attr-defined]
        own = {"/api/v1/security/users/": sm.find_user(username="admin").id,
               "/api/v1/security/roles/": sm.find_role(app.config["AUTH_ROLE_ADMIN"]).id}
    failures, calls = [], []
    operations = sorted((op.ok() for op in schema.get_all_operations()), key=_fuzz_order)
    assert {op.method.upper() for op in operations} >= {"GET", "POST", "PUT", "DELETE"}
    assert len(operations) > 60

    for operation in operations:
        @settings(max_examples=FUZZ_EXAMPLES[operation.method.upper()], deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case):  # type: ignore[no-untyped-def]
            assume(not _targets_caller(case, own))
            response = case.call(app=app, headers={"Authorization": f"Bearer {token}"})
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.query, case.body, response.status_code))

        run()
    assert failures == [], "\n".join(map(repr, failures))
    assert len(calls) > 5 * len(operations) and calls.count(200) > 50  # the fuzzing reached the data
