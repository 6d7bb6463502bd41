"""Shared helpers of the quality tests: a second rule writer, JSON API calls, planted demo rows."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from orgcarbon.metamodel.models import (
    ActivityRecord,
    Material,
    Organization,
    SubProcess,
    UserOrganization,
)
from orgcarbon.platform.extensions import db
from tests.conftest import ADMIN_PASSWORD, api_token

# Only 建模管理员 (and the administrator) hold write on "Rules", and the demo has one such user:
# publishing by a second person needs another one.
SECOND = ("modeller2", "Demo-modeller2-1")
PASSWORDS = {"admin": ADMIN_PASSWORD, "modeller": "Demo-modeller-1", "auditor": "Demo-auditor-1",
             "filler": "Demo-filler-1", "viewer": "Demo-viewer-1", SECOND[0]: SECOND[1]}


def add_second_modeller(app: Flask) -> None:
    """A second 建模管理员 over the whole demo group."""
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.add_user(SECOND[0], "modeller2", "演示", "modeller2@example.invalid", sm.find_role("建模管理员"),
                           password=SECOND[1])
        assert user
        db.session.add(UserOrganization(user_id=user.id, organization_id=org_id("华钢集团")))
        db.session.commit()


class Api:
    """A JSON client of ``/api/v1/quality/`` signed in as one user."""

    def __init__(self, app: Flask, username: str) -> None:
        self.client: FlaskClient = app.test_client()
        self.headers = {"Authorization": f"Bearer {api_token(self.client, username, PASSWORDS[username])}"}

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1/quality/{path}", headers=self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(f"/api/v1/quality/{path}", json=body if body is not None else {}, headers=self.headers)

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(f"/api/v1/quality/{path}", json=body, headers=self.headers)


def org_id(name: str) -> int:
    """The id of the organisation called ``name`` (inside an app context)."""
    found = db.session.scalar(select(Organization.id).where(Organization.name == name))
    assert found is not None, name
    return found


def demo_row(material: str, month: str, subprocess: str | None = None) -> ActivityRecord:
    """The demo activity row of ``material`` in ``month`` (inside an app context)."""
    query = (select(ActivityRecord).join(Material, ActivityRecord.material_id == Material.id)
             .where(Material.name == material, ActivityRecord.month == month))
    if subprocess:
        query = query.join(SubProcess, ActivityRecord.subprocess_id == SubProcess.id).where(
            SubProcess.name == subprocess)
    rows = db.session.scalars(query.order_by(ActivityRecord.id)).all()
    assert rows, (material, month)
    return rows[0]


def copy_row(row: ActivityRecord, **changes: Any) -> ActivityRecord:
    """A new activity row equal to ``row`` except for ``changes`` (added, not committed)."""
    columns = [c.key for c in ActivityRecord.__table__.columns if c.key != "id"]
    copy = ActivityRecord(**{**{c: getattr(row, c) for c in columns}, **changes})
    db.session.add(copy)
    return copy


def rule_body(code: str, **changes: Any) -> dict[str, Any]:
    """A valid record-level validation rule with one passing test case."""
    body: dict[str, Any] = {
        "id": code, "name": "焦炭热值过高", "kind": "validation", "action": "flag", "severity": "warning",
        "scope": {"materials": ["焦炭"]}, "condition": "ncv > high", "params": {"high": 40},
        "message": "{material}的低位发热量 {ncv} 高于 {high}", "order": 500,
        "tests": [{"name": "45 GJ/t 报出，30 GJ/t 不报", "rows": [
            {"row_id": 1, "material": "焦炭", "quantity": 10, "unit": "t", "ncv": 45},
            {"row_id": 2, "material": "焦炭", "quantity": 10, "unit": "t", "ncv": 30}], "expect_findings": [1]}],
    }
    body.update(changes)
    return body
