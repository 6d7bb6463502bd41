"""The per-process permission cache: revocations take effect at once (this process, other processes on
the host) or within the documented time to live; a cached API request asks the database nothing
about roles, permissions, IP lists or password state."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine

from orgcarbon.metamodel.models import Organization, UserOrganization
from orgcarbon.platform.extensions import db
from orgcarbon.security.models import UserSecurity
from tests.conftest import ADMIN_PASSWORD, api_token, build_app, dispose, login

VIEWER = ("viewer", "Demo-viewer-1")  # 只读用户, organisation 东区
PANORAMA = "/api/v1/analysis/panorama?year=2024"
SECURITY_TABLES = ("ab_role", "ab_permission", "ab_view_menu", "ab_group", "sec_user_security",
                   "sec_role_security", "mm_user_organization", "mm_organization")


def _get(client: FlaskClient, token: str, path: str = PANORAMA) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def _revoke_read(app: Flask, role: str = "只读用户", view: str = "Analysis") -> None:
    """What an administrator does on the role page: take ``can_read`` on ``view`` from ``role``."""
    with app.app_context():
        sm = app.appbuilder.sm
        sm.del_permission_role(sm.find_role(role), sm.find_permission_view_menu("can_read", view))


def _core_url(url: str) -> str:
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


def _revoke_behind_the_orm(url: str, role: str = "只读用户", view: str = "Analysis") -> None:
    """The same revocation typed as SQL on another connection: no listener of this process sees it."""
    engine = create_engine(_core_url(url))
    try:
        with engine.begin() as conn:
            pv = conn.execute(text(
                "SELECT pv.id FROM ab_permission_view pv JOIN ab_permission p ON p.id = pv.permission_id "
                "JOIN ab_view_menu v ON v.id = pv.view_menu_id WHERE p.name = 'can_read' AND v.name = :view"),
                {"view": view}).scalar_one()
            role_id = conn.execute(text("SELECT id FROM ab_role WHERE name = :name"), {"name": role}).scalar_one()
            deleted = conn.execute(text("DELETE FROM ab_permission_view_role WHERE permission_view_id = :pv "
                                        "AND role_id = :role"), {"pv": pv, "role": role_id}).rowcount
        assert deleted == 1
    finally:
        engine.dispose()


@pytest.fixture()
def slow_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app with a 1-second cache time to live."""
    application = build_app(database_url, tmp_path / "instance-ttl", PERMISSION_CACHE_SECONDS=1)
    yield application
    dispose(application)


def test_revoked_permission_refuses_the_next_request(app: Flask) -> None:
    client = app.test_client()
    token = api_token(client, *VIEWER)
    browser = app.test_client()
    login(browser, *VIEWER)
    assert _get(client, token).status_code == 200
    assert _get(client, token).status_code == 200  # now answered from the cache
    assert browser.get("/analysis/").status_code == 200
    _revoke_read(app)
    assert _get(client, token).status_code == 403  # API with a token
    assert browser.get("/analysis/").status_code in (302, 403)  # page of a signed-in browser


def test_revocation_in_another_process_is_seen_at_the_next_request(app: Flask, database_url: str) -> None:
    client = app.test_client()
    token = api_token(client, *VIEWER)
    assert _get(client, token).status_code == 200
    # A separate Python process (as another gunicorn worker would be) on the same database and
    # instance folder revokes the permission through FAB, and exits.
    script = textwrap.dedent(f"""
        from tests.conftest import build_app, dispose
        app = build_app({database_url!r}, __import__("pathlib").Path({app.instance_path!r}))
        with app.app_context():
            sm = app.appbuilder.sm
            sm.del_permission_role(sm.find_role("只读用户"), sm.find_permission_view_menu("can_read", "Analysis"))
        dispose(app)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[3], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _get(client, token).status_code == 403  # at once, well within the time to live


def test_changes_no_listener_sees_last_at_most_the_time_to_live(slow_app: Flask, database_url: str) -> None:
    client = slow_app.test_client()
    token = api_token(client, *VIEWER)
    assert _get(client, token).status_code == 200
    _revoke_behind_the_orm(database_url)
    started = time.monotonic()
    while _get(client, token).status_code == 200:
        assert time.monotonic() - started < 1.0 + 0.5, "a revoked permission outlived the cache's time to live"
        time.sleep(0.1)
    assert _get(client, token).status_code == 403


def test_cache_can_be_turned_off(database_url: str, tmp_path: Path) -> None:
    application = build_app(database_url, tmp_path / "instance-off", PERMISSION_CACHE_SECONDS=0)
    try:
        client = application.test_client()
        token = api_token(client, *VIEWER)
        assert _get(client, token).status_code == 200
        _revoke_behind_the_orm(database_url)
        assert _get(client, token).status_code == 403
    finally:
        dispose(application)


def test_organisation_reassignment_changes_the_data_scope_at_once(app: Flask) -> None:
    client = app.test_client()
    token = api_token(client, *VIEWER)
    with app.app_context():
        east = db.session.scalar(select(Organization.id).where(Organization.name == "东区"))
        west = db.session.scalar(select(Organization.id).where(Organization.name == "西区"))
    assert _get(client, token, f"{PANORAMA}&org_id={east}").status_code == 200
    refused = _get(client, token, f"{PANORAMA}&org_id={west}")
    assert refused.status_code == 400 and "超出您的数据范围" in refused.get_json()["message"]
    with app.app_context():
        viewer = app.appbuilder.sm.find_user(username="viewer")
        link = db.session.scalar(select(UserOrganization).where(UserOrganization.user_id == viewer.id))
        link.organization_id = west
        db.session.commit()
    assert _get(client, token, f"{PANORAMA}&org_id={west}").status_code == 200
    assert _get(client, token, f"{PANORAMA}&org_id={east}").status_code == 400


def test_forced_password_change_and_allowlist_apply_at_once(app: Flask) -> None:
    client = app.test_client()
    token = api_token(client, *VIEWER)
    assert _get(client, token).status_code == 200
    with app.app_context():
        user_id = app.appbuilder.sm.find_user(username="viewer").id
        state = db.session.get(UserSecurity, user_id) or UserSecurity(user_id=user_id)
        state.must_change_password = True
        db.session.add(state)
        db.session.commit()
    refused = _get(client, token)
    assert refused.status_code == 403 and refused.get_json()["code"] == "password_change_required"
    with app.app_context():
        state = db.session.get(UserSecurity, user_id)
        state.must_change_password, state.allowed_ips = False, "10.9.9.9"
        db.session.commit()
    refused = _get(client, token)
    assert refused.status_code == 403 and refused.get_json()["code"] == "ip_not_allowed"


def test_logins_do_not_empty_the_cache(app: Flask) -> None:
    client = app.test_client()
    token = api_token(client, *VIEWER)
    _get(client, token)
    cache = app.extensions["permission_cache"]
    generation = cache._generation
    api_token(app.test_client(), "admin", ADMIN_PASSWORD)  # a login updates the user's counters only
    assert cache._generation == generation and len(cache._entries) > 0


def test_a_cached_request_reads_no_security_table(app: Flask) -> None:
    client = app.test_client()
    token = api_token(client, *VIEWER)
    assert _get(client, token).status_code == 200
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        assert _get(client, token).status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    touched = [s for s in statements if any(f" {t}" in s for t in SECURITY_TABLES)]
    assert touched == []
    assert sum("FROM ab_user " in s for s in statements) == 1  # the token's user, loaded once
    assert len(statements) <= 4, statements
