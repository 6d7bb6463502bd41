"""Every registered endpoint against every role, checked against the documented permission matrix.

Expectations are derived, not listed: each endpoint's permission (``can_read``/``can_write`` or
FAB's own) and area (``class_permission_name``) say who may call it according to
``orgcarbon/security/roles.py`` (docs/permissions.md). New views of any module are covered as soon as
they are registered. Only the documented allowlist below answers without a permission.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from orgcarbon.platform.cli import DEMO_USERS
from orgcarbon.security.roles import ADMIN_ROLE, AREAS, ROLE_MATRIX, SELF_SERVICE
from tests.conftest import ADMIN_PASSWORD, api_token, login

# Endpoints that answer without a permission (docs/security.md, "Endpoints without a permission").
PUBLIC_ENDPOINTS = {
    "static", "appbuilder.static",            # CSS, JavaScript, images
    "HomeView.index",                         # start page: a login prompt for anonymous visitors
    "UtilView.back", "LocaleView.index",      # redirect back; choose the interface language
    "AuthDBView.login", "AuthDBView.logout", "SecurityApi.login", "SecurityApi.refresh",
    "HealthView.health",                      # load balancers: status only, no data
}
PUBLIC_PREFIXES = ("collection_api.",)        # ingest API: authenticated by its SM2/SM4 envelope
# FAB's list actions check the action's permission inside the method.
ACTION_SUFFIXES = (".action", ".action_post")

USERS: dict[str, tuple[str, str]] = {role: (name, pw) for name, role, pw in reversed(DEMO_USERS)}
USERS[ADMIN_ROLE] = ("admin", ADMIN_PASSWORD)
AREA_NAMES = {a.name for a in AREAS}


def _view_and_permission(app: Flask, endpoint: str) -> tuple[Any, str | None]:
    func = app.view_functions[endpoint]
    view = getattr(func, "__self__", None)
    name = getattr(func, "_permission_name", None)
    if view is None or name is None:
        return view, None
    mapped = (view.method_permission_name or {}).get(func.__name__)
    view._matrix_func = getattr(func, "__func__", func)  # read by _declared_areas for this endpoint
    return view, "can_" + (mapped or name)


def _declared_areas(view: Any, permission: str) -> tuple[str, ...]:
    """Areas of a decorator that protects by "this permission on any of these areas" (forms API)."""
    func = getattr(view, "_matrix_func", None)
    code = getattr(func, "__code__", None)
    if code is None or "areas" not in code.co_freevars or not func.__closure__:
        return ()
    return tuple(func.__closure__[code.co_freevars.index("areas")].cell_contents)


def _allowed(role: str, view: Any, permission: str) -> bool:
    """What the documented matrix says about ``role`` and this endpoint."""
    if permission not in (view.base_permissions or ()):
        return False
    if role == ADMIN_ROLE:
        return True
    target = (permission, view.class_permission_name)
    if target in SELF_SERVICE:
        return True
    areas = _declared_areas(view, permission) or (view.class_permission_name,)
    if any(area in AREA_NAMES for area in areas):
        return any(permission in ROLE_MATRIX[role].get(area, ()) for area in areas)
    return False  # FAB's security pages and the security settings: administrators only


def _url(rule: Rule) -> str:
    def fill(match: re.Match[str]) -> str:
        converter = match.group(1) or "string"
        return "999999" if converter in ("int", "float") else "x"

    text = re.sub(r"<any\(([^,)]+)[^)]*\):\w+>", lambda m: m.group(1).strip(" '\""), rule.rule)
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", fill, text)


def _rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: r.rule)


def _public(endpoint: str) -> bool:
    return endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES) or endpoint.endswith(ACTION_SUFFIXES)


def test_every_endpoint_needs_a_permission_or_is_on_the_allowlist(app: Flask) -> None:
    unprotected = sorted(r.endpoint for r in _rules(app)
                         if _view_and_permission(app, r.endpoint)[1] is None and not _public(r.endpoint))
    assert unprotected == []
    assert len(list(app.url_map.iter_rules())) > 300  # the whole application was enumerated


def test_anonymous_requests_never_get_data(app: Flask) -> None:
    client = app.test_client()
    problems = []
    for rule in _rules(app):
        if _public(rule.endpoint):
            continue
        for method in sorted((rule.methods or set()) & {"GET", "POST", "PUT", "DELETE"}):
            response = client.open(_url(rule), method=method)
            location = response.headers.get("Location", "")
            if not (response.status_code in (401, 403) or (response.status_code == 302 and "/login" in location)):
                problems.append((method, rule.rule, response.status_code))
    assert problems == []


@pytest.mark.slow
@pytest.mark.parametrize("role", [ADMIN_ROLE, *ROLE_MATRIX])
def test_each_role_gets_what_the_matrix_says_on_every_endpoint(app: Flask, role: str) -> None:
    client = app.test_client()
    username, password = USERS[role]
    login(client, username, password)
    bearer = {"Authorization": f"Bearer {api_token(app.test_client(), username, password)}"}
    problems = []
    checked = 0
    for rule in _rules(app):
        view, permission = _view_and_permission(app, rule.endpoint)
        if permission is None:
            continue
        allowed = _allowed(role, view, permission)
        methods = (rule.methods or set()) & {"GET", "POST", "PUT", "DELETE"}
        # Allowed writes are not sent (they would change data); refused ones must be refused.
        for method in sorted(methods if not allowed else methods & {"GET"}):
            url = _url(rule)
            api = url.startswith("/api/")
            body = {"json": {}} if api and method != "GET" else {}
            response = client.open(url, method=method, headers=bearer if api else None, **body)
            checked += 1
            code = response.status_code
            to_login = code == 302 and "/login" in response.headers.get("Location", "")
            if allowed and (code in (401, 403) or to_login or code >= 500):
                problems.append(("refused or failed", method, rule.rule, code))
            if not allowed and code != 403:
                problems.append(("not refused", method, rule.rule, code))
    assert checked > 100
    assert problems == [], role + "\n" + "\n".join(map(str, problems))
