"""How the scope matrix calls endpoints and judges the answers: the caller, leaks, "nothing written"."""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select
from werkzeug.test import TestResponse

from orgcarbon.platform.extensions import db
from tests.conftest import api_token, login
from tests.integration.security.scope_world import EAST_TEXT, WEST_USER

# Rows that a refused request may add: the refusal itself is logged as a security event.
LOG_TABLES = frozenset({"sec_log"})
XLSX_MAGIC = b"PK\x03\x04"


@dataclass
class Caller:
    """The west user: a signed-in browser session for pages, a bearer token for ``/api/``."""

    app: Flask
    client: FlaskClient
    bearer: dict[str, str]

    @classmethod
    def west(cls, app: Flask) -> Caller:
        client = app.test_client()
        login(client, *WEST_USER)
        return cls(app, client, {"Authorization": f"Bearer {api_token(app.test_client(), *WEST_USER)}"})

    def send(self, method: str, url: str, body: dict[str, Any] | None = None) -> TestResponse:
        """``method url`` with ``body`` as JSON (API) or as a form (pages; files as multipart)."""
        if url.startswith("/api/"):
            kwargs: dict[str, Any] = {"headers": self.bearer}
            if method != "GET":
                kwargs["json"] = body or {}
            return self.client.open(url, method=method, **kwargs)
        if method == "GET":
            return self.client.open(url, method=method)
        return self.client.open(url, method=method, data=_form(body or {}))


def _form(body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, tuple):  # (stream, filename): a fresh stream per request
            stream, name = value
            data[key] = (io.BytesIO(stream.getvalue()), name)
        elif isinstance(value, bool):
            if value:
                data[key] = "y"
        elif isinstance(value, list):
            data[key] = [str(v) for v in value]
        else:
            data[key] = "" if value is None else str(value)
    return data


def shown_text(response: TestResponse) -> str:
    """What a person would read in the answer: HTML/JSON text, or every cell of a workbook."""
    raw = response.get_data()
    if raw.startswith(XLSX_MAGIC):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(raw), read_only=True)
        except Exception:  # noqa: BLE001 - a zip that is not a workbook: look at its bytes
            return raw.decode("utf-8", "replace")
        return "\n".join(str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row
                         if c is not None)
    text = raw.decode("utf-8", "replace")
    if response.is_json:
        try:  # Chinese in JSON may be \u-escaped
            return json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            return text
    return text


def alerts(response: TestResponse) -> str:
    """The messages a refused page or API answer shows (flash alerts, JSON message), short."""
    import re

    text = shown_text(response)
    if response.is_json:
        return text[:300]
    found = re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', text, re.S)
    errors = re.findall(r'class="[^"]*(?:help-block|invalid-feedback|text-danger)[^"]*"[^>]*>(.*?)<', text, re.S)
    return " | ".join(re.sub(r"<[^>]+>|\s+", " ", m).strip() for m in found + errors)[:400]


def leaks(response: TestResponse, endpoint: str = "") -> list[str]:
    """Text of the other organisation found in the answer (and in a redirect's target)."""
    from tests.integration.security.scope_cases import ALLOWED_TEXT

    allowed = {t for prefix, texts in ALLOWED_TEXT.items() if endpoint.startswith(prefix) for t in texts}
    text = shown_text(response) + response.headers.get("Location", "")
    return [mark for mark in EAST_TEXT if mark in text and mark not in allowed]


def is_refusal(response: TestResponse) -> bool:
    """403/404 (or 400), or a redirect that is not the login page."""
    if response.status_code in (400, 403, 404):
        return True
    return response.status_code in (302, 303) and "/login" not in response.headers.get("Location", "")


def _digest(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()


def state(app: Flask, organization_id: int | None = None) -> dict[str, str]:
    """A digest of every table (of one organisation's rows only, if given) and of the instance files."""
    from orgcarbon.platform.metadata import all_metadata

    found: dict[str, str] = {}
    with app.app_context(), db.engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        for table in all_metadata().sorted_tables:
            if table.name in LOG_TABLES or table.name not in present:
                continue
            query = select(table)
            if organization_id is not None:
                column = table.c.get("organization_id")
                if table.name == "mm_organization":
                    column = table.c.id
                if column is None:
                    continue
                query = query.where(column == organization_id)
            found[table.name] = _digest([tuple(r) for r in conn.execute(query)])
    if organization_id is None:
        root = Path(app.instance_path)
        files = [(str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file()]
        found["<instance files>"] = _digest(files)
    return found


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Names of the tables (or the instance files) whose content differs."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def edit_values(view: Any, item: Any, columns: list[str]) -> dict[str, Any]:
    """A ModelView form's fields filled from ``item`` as the edit page would post them."""
    values: dict[str, Any] = {}
    for name in columns:
        value = getattr(item, name, None)
        if view.datamodel.is_relation_many_to_many(name) or view.datamodel.is_relation_one_to_many(name):
            values[name] = [str(v.id) for v in value or ()]
        elif view.datamodel.is_relation(name):
            values[name] = "" if value is None else str(value.id)
        elif isinstance(value, bool):
            values[name] = value
        else:
            values[name] = "" if value is None else (value if isinstance(value, str) else str(value))
    return values


def instance_copy(source: str, target: str) -> None:
    """Copy the world's instance folder (evidence, imports) to a test's own."""
    import shutil

    if os.path.isdir(source):
        shutil.copytree(source, target, dirs_exist_ok=True)
