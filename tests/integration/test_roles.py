"""The role matrix on pages, menus and APIs: every area-protected view against every role."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_appbuilder import ModelRestApi, ModelView

from orgcarbon.platform.cli import DEMO_USERS
from orgcarbon.security.roles import ADMIN_ROLE, AREAS, READ, ROLE_MATRIX
from tests.conftest import ADMIN_PASSWORD, api_token, login

USERS: dict[str, tuple[str, str]] = {role: (name, pw) for name, role, pw in reversed(DEMO_USERS)}
USERS[ADMIN_ROLE] = ("admin", ADMIN_PASSWORD)
ALL_ROLES = [ADMIN_ROLE, *ROLE_MATRIX]


def may_read(role: str, area: str) -> bool:
    """What the documented matrix says."""
    return role == ADMIN_ROLE or READ in ROLE_MATRIX[role].get(area, ())


def area_views(app: Flask) -> list[Any]:
    names = {a.name for a in AREAS}
    return [v for v in app.appbuilder.baseviews if getattr(v, "class_permission_name", None) in names]


def test_every_built_in_role_is_seeded(app: Flask) -> None:
    with app.app_context():
        sm = app.appbuilder.sm
        for role in ALL_ROLES:
            assert sm.find_role(role) is not None, role


@pytest.mark.parametrize("role", ALL_ROLES)
def test_pages_and_menu_follow_the_matrix(app: Flask, role: str) -> None:
    client = app.test_client()
    username, password = USERS[role]
    home = login(client, username, password).get_data(as_text=True)
    assert f"当前用户：{username}" in home
    views = [v for v in area_views(app) if isinstance(v, ModelView)]
    assert views, "no area-protected page registered"
    for view in views:
        url = f"/{view.route_base.strip('/')}/list/"
        response = client.get(url)
        allowed = may_read(role, view.class_permission_name)
        if allowed:
            assert response.status_code == 200, (role, url)
        else:
            # FAB answers a missing permission with a redirect to the start page, never the data.
            assert response.status_code in (302, 403), (role, url, response.status_code)
        menu_labels = [
            str(item.label)
            for top in app.appbuilder.menu.get_list()
            for item in (top.childs or [top])
            if item.baseview is view
        ]
        for menu_label in menu_labels:
            assert (_zh(app, menu_label) in home) is allowed, (role, menu_label)


def _zh(app: Flask, text: str) -> str:
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("zh"):
        return gettext(text)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_apis_follow_the_matrix(app: Flask, role: str) -> None:
    client = app.test_client()
    username, password = USERS[role]
    token = api_token(client, username, password)
    apis = [v for v in area_views(app) if isinstance(v, ModelRestApi)]
    assert apis, "no area-protected API registered"
    for api in apis:
        url = f"/api/v1/{api.resource_name}/"
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
        expected = 200 if may_read(role, api.class_permission_name) else 403
        assert response.status_code == expected, (role, url, response.status_code)


def test_api_without_token_is_unauthorised(client: Any) -> None:
    assert client.get("/api/v1/audit/").status_code == 401


def test_security_api_is_for_administrators_only(app: Flask) -> None:
    client = app.test_client()
    token = api_token(client, "auditor", "Demo-auditor-1")
    assert client.get("/api/v1/security/users/", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    admin = api_token(client, "admin", ADMIN_PASSWORD)
    response = client.get("/api/v1/security/users/", headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200
    assert "password" not in response.get_data(as_text=True)
