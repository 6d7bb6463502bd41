"""Helpers of the security tests: clients at a given address, users, stored log rows."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from orgcarbon.platform.extensions import db
from orgcarbon.security.models import LogRecord

VIEWER = ("viewer", "Demo-viewer-1")


def client_at(app: Flask, address: str) -> FlaskClient:
    """A test client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def form_login(client: FlaskClient, username: str, password: str) -> Any:
    return client.post("/login/", data={"username": username, "password": password}, follow_redirects=True)


def api_login(client: FlaskClient, username: str, password: str) -> Any:
    return client.post("/api/v1/security/login",
                       json={"username": username, "password": password, "provider": "db", "refresh": False})


def log_rows(app: Flask, kind: str | None = None, event: str | None = None) -> list[LogRecord]:
    """Stored log rows, oldest first, optionally of one kind and security event."""
    with app.app_context():
        rows = list(db.session.scalars(select(LogRecord).order_by(LogRecord.id)))
        db.session.expunge_all()
    return [r for r in rows if (kind is None or r.kind == kind)
            and (event is None or (r.details or {}).get("event") == event)]
