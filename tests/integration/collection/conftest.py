"""Fixtures of the collection tests: a registered API client of 东区 and a sealing helper."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from orgcarbon.collection.keys import load_server_keys, seal_client_secret
from orgcarbon.collection.models import ApiClient, ApiNonce, IdempotencyRecord, InterfaceLog
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import StagingRow
from orgcarbon.security.crypto import generate_keypair, seal_request


def org_id(name: str) -> int:
    """The id of the demo organisation ``name``."""
    found = db.session.scalar(select(Organization.id).where(Organization.name == name))
    assert found is not None, name
    return found


def count(model: Any) -> int:
    """Rows in ``model``'s table."""
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def counts() -> dict[str, int]:
    """Rows written by the ingest API, for "nothing was written" checks."""
    return {"staging": count(StagingRow), "nonces": count(ApiNonce), "idempotency": count(IdempotencyRecord)}


def last_log() -> InterfaceLog:
    """The newest interface-log row."""
    row = db.session.scalar(select(InterfaceLog).order_by(InterfaceLog.id.desc()).limit(1))
    assert row is not None
    return row


@dataclass
class ApiCaller:
    """A registered client that seals requests for the app under test."""

    app: Flask
    http: FlaskClient
    client_id: str
    secret: str
    private_key: str
    server_public_key: str
    key_id: str

    def seal(self, path: str, body: bytes, *, hmac_secret: bytes | None = None,
             client_private_key: str | None = None, **extra: Any) -> bytes:
        """The sealed request body; signed with the client's HMAC secret unless told otherwise."""
        if client_private_key is None and hmac_secret is None:
            hmac_secret = self.secret.encode()
        options = {"client_id": self.client_id, "server_public_key": self.server_public_key,
                   "key_id": self.key_id, **extra}
        sealed = seal_request(method="POST", path=path, body=body, hmac_secret=hmac_secret,
                              client_private_key=client_private_key, backend="native", **options)
        return sealed.to_json()

    def post_raw(self, path: str, data: bytes, **headers: str) -> Any:
        return self.http.post(path, data=data, headers={"Content-Type": "application/json", **headers})

    def post(self, path: str, payload: Any, **extra: Any) -> Any:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return self.post_raw(path, self.seal(path, body, **extra))


def register_client(app: Flask, client_id: str, org: str, **fields: Any) -> tuple[str, str]:
    """Store an API client of ``org`` with an HMAC secret and an SM2 key; returns (secret, private key)."""
    secret = f"secret-of-{client_id}-0123456789"
    pair = generate_keypair()
    with app.app_context():
        db.session.add(ApiClient(client_id=client_id, name=f"{org} MES", organization_id=org_id(org),
                                 public_key=pair.public_key, hmac_secret=seal_client_secret(secret),
                                 enabled=True, **fields))
        db.session.commit()
    return secret, pair.private_key


@pytest.fixture()
def east(app: Flask) -> ApiCaller:
    """The MES of 东区, registered with an HMAC secret and an SM2 public key."""
    secret, private_key = register_client(app, "east-mes", "东区")
    keys = load_server_keys(app)
    assert keys is not None
    return ApiCaller(app, app.test_client(), "east-mes", secret, private_key, keys.public_key(), keys.active_id)


def readings(n: int = 3, org: str | None = "东区", key: str = "batch-0001", **overrides: Any) -> dict[str, Any]:
    """A readings body: coke into 1#高炉 on 1 March 2025, one reading per hour."""
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"sub_process": "1#高炉", "material": "焦炭", "quantity": 10.5 + i, "unit": "t",
                               "time": f"2025-03-01T{i:02d}:00:00+08:00", "tags": ["高炉"],
                               "parameters": {"ncv": 28.435}}
        if org is not None:
            row["organization"] = org
        rows.append({**row, **overrides})
    return {"idempotency_key": key, "readings": rows}


def now() -> float:
    """The current Unix time (tests that need a stale timestamp subtract from it)."""
    return time.time()
