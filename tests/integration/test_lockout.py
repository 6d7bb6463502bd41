"""Login failure limit: five failures lock an account for 15 minutes, web form and API alike."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from orgcarbon.platform.extensions import db
from orgcarbon.security.lockout import LockPolicy, locked_until
from orgcarbon.security.models import AuditEntry
from tests.conftest import login, run_cli

WRONG = "Wrong-password-9"
RIGHT = "Demo-viewer-1"


def api_login(client, password: str) -> int:  # type: ignore[no-untyped-def]
    body = {"username": "viewer", "password": password, "provider": "db", "refresh": False}
    return client.post("/api/v1/security/login", json=body).status_code


def fail(client, times: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        assert "当前用户" not in login(client, "viewer", WRONG).get_data(as_text=True)


def test_five_failures_lock_web_and_api_even_with_the_right_password(app: Flask) -> None:
    client = app.test_client()
    fail(client, 4)
    assert "当前用户：viewer" in login(client, "viewer", RIGHT).get_data(as_text=True)  # 4 is not yet a lock
    client.get("/logout/")
    fail(client, 5)
    page = login(client, "viewer", RIGHT).get_data(as_text=True)
    assert "当前用户" not in page
    assert "账户已锁定" in page
    assert api_login(app.test_client(), RIGHT) == 401


def test_lock_ends_after_the_lock_time(app: Flask) -> None:
    fail(app.test_client(), 5)
    with app.app_context():
        user = app.appbuilder.sm.find_user(username="viewer")
        policy = LockPolicy(5, 15)
        now = dt.datetime.now(dt.UTC)
        assert locked_until(db.session, user, policy, now) is not None
        assert locked_until(db.session, user, policy, now + dt.timedelta(minutes=16)) is None


def test_administrator_unlocks_and_both_events_are_audited(app: Flask) -> None:
    fail(app.test_client(), 5)
    result = run_cli(app, ["user", "unlock", "viewer"])
    assert result.exit_code == 0, result.output
    assert "已解锁 viewer" in result.output
    assert "当前用户：viewer" in login(app.test_client(), "viewer", RIGHT).get_data(as_text=True)
    with app.app_context():
        user_id = str(app.appbuilder.sm.find_user(username="viewer").id)
        counts = [
            (e.username, (e.after or {}).get("fail_login_count"))
            for e in db.session.scalars(
                select(AuditEntry).where(AuditEntry.table_name == "ab_user", AuditEntry.row_id == user_id,
                                         AuditEntry.action == "update").order_by(AuditEntry.id)
            )
            if "fail_login_count" in (e.after or {})
        ]
    assert ("viewer", 5) in counts  # the failure that locked it, attributed to the account
    assert ("cli:user-unlock", 0) in counts


def test_unlock_action_on_the_user_list(app: Flask) -> None:
    from tests.conftest import ADMIN_PASSWORD

    fail(app.test_client(), 5)
    with app.app_context():
        user_id = app.appbuilder.sm.find_user(username="viewer").id
    admin = app.test_client()
    login(admin, "admin", ADMIN_PASSWORD)
    page = admin.post(f"/users/action/unlock/{user_id}", follow_redirects=True).get_data(as_text=True)
    assert "已解锁：viewer" in page
    assert api_login(app.test_client(), RIGHT) == 200


def test_login_rate_limit_applies_to_the_api_login_too(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import build_app, dispose

    app = build_app(database_url, tmp_path / "i", LOGIN_RATE_LIMIT="3 per minute")
    try:
        client = app.test_client()
        codes = [api_login(client, "Nobody-knows-1") for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        forms = [client.post("/login/", data={"username": "x", "password": "y"}).status_code for _ in range(4)]
        assert forms[-1] == 429
    finally:
        dispose(app)
