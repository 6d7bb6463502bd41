"""Shared helpers of the metamodel integration tests: JSON API calls as a given user."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ADMIN_PASSWORD, api_token

PASSWORDS = {
    "admin": ADMIN_PASSWORD,
    "modeller": "Demo-modeller-1",
    "filler": "Demo-filler-1",
    "viewer": "Demo-viewer-1",
    "auditor": "Demo-auditor-1",
}


class Api:
    """A JSON client of ``/api/v1/`` signed in as one user."""

    def __init__(self, app: Flask, username: str = "admin") -> None:
        self.client: FlaskClient = app.test_client()
        token = api_token(self.client, username, PASSWORDS[username])
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1/{path}", headers=self.headers)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(f"/api/v1/{path}", json=body or {}, headers=self.headers)

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self.client.put(f"/api/v1/{path}", json=body, headers=self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1/{path}", headers=self.headers)

    def find(self, resource: str, column: str, value: Any) -> dict[str, Any]:
        """The first row of ``resource`` whose ``column`` equals ``value``."""
        q = f"(filters:!((col:{column},opr:eq,value:'{value}')))"
        body = self.get(f"{resource}/?q={quote(q)}").get_json()
        assert body["count"] >= 1, (resource, column, value, body)
        return body["result"][0] | {"id": body["ids"][0]}
