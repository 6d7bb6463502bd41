"""Log management: security events and errors stored apart from the request, search, stats, export."""

from __future__ import annotations

import io
import logging

from flask import Flask
from openpyxl import load_workbook

from orgcarbon.platform.extensions import db
from tests.conftest import login
from tests.integration.security.helpers import log_rows


def test_logins_failures_and_refusals_are_security_logs(app: Flask) -> None:
    login(app.test_client(), "viewer", "Wrong-pass-1")
    login(app.test_client(), "nobody", "Wrong-pass-1")
    client = app.test_client()
    login(client, "viewer", "Demo-viewer-1")
    assert client.get("/auditentryview/list/").status_code == 403
    events = [(r.details or {}).get("event") for r in log_rows(app, "security")]
    assert events[-4:] == ["login_failed", "login_failed", "login", "permission_denied"]
    refusal = log_rows(app, "security", "permission_denied")[-1]
    assert (refusal.username, refusal.path, refusal.level) == ("viewer", "GET /auditentryview/list/", "WARNING")


def test_an_error_is_stored_although_its_transaction_failed(app: Flask) -> None:
    from orgcarbon.metamodel.models import Unit

    @app.route("/boom-in-transaction")
    def boom() -> str:
        db.session.add(Unit(symbol="zz", name_zh="测试", dimension="mass", factor=1.0))
        db.session.flush()
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom-in-transaction")
    assert response.status_code == 500 and "secret internals" not in response.get_data(as_text=True)
    (error,) = [r for r in log_rows(app, "error") if r.path == "GET /boom-in-transaction"]
    assert "RuntimeError: secret internals" in error.details["traceback"]
    with app.app_context():
        assert db.session.query(Unit).filter_by(symbol="zz").count() == 0  # rolled back, log kept


def test_warnings_outside_requests_are_stored_and_info_is_not(app: Flask) -> None:
    with app.app_context():
        logging.getLogger("orgcarbon.test").warning("disk almost full: %d%%", 93)
        logging.getLogger("orgcarbon.test").info("routine")
    messages = [r.message for r in log_rows(app, "system")]
    assert "disk almost full: 93%" in messages and "routine" not in messages


def test_log_page_searches_counts_and_exports_for_the_audit_area(app: Flask) -> None:
    login(app.test_client(), "viewer", "Wrong-pass-1")
    auditor = app.test_client()
    login(auditor, "auditor", "Demo-auditor-1")
    page = auditor.get("/logs/?kind=security&user=viewer&q=密码错误").get_data(as_text=True)
    assert "用户 viewer 登录失败：密码错误" in page and "登录成功" not in page
    assert "安全日志" in page and 'id="log-stats"' in page
    everything = auditor.get("/logs/").get_data(as_text=True)
    assert "操作日志" in everything and "log-operation" in everything  # the audit trail is the operation log
    empty = auditor.get("/logs/?start=2001-01-01&end=2001-01-02").get_data(as_text=True)
    assert 'id="log-lines"' in empty and "<tr class=\"log-" not in empty
    csv_body = auditor.get("/logs/export/csv?kind=security&user=viewer").get_data()
    assert csv_body.startswith("\ufeff时间,类型".encode())
    assert "登录失败：密码错误" in csv_body.decode("utf-8-sig")
    workbook = load_workbook(io.BytesIO(auditor.get("/logs/export/xlsx?kind=security").get_data()))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("时间", "类型", "级别") and any("安全日志" in r for r in rows[1:])
    viewer = app.test_client()
    login(viewer, "viewer", "Demo-viewer-1")
    assert viewer.get("/logs/").status_code == 403
