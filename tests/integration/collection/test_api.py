"""The HTTPS JSON API: sealed batches staged once; every refusal has its code, is logged, writes nothing."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from orgcarbon.collection.models import ApiClient, IdempotencyRecord, InterfaceLog
from orgcarbon.metamodel.models import Material, SubProcess
from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import StagingBatch, StagingRow
from orgcarbon.security.crypto import generate_keypair, sm3_hex
from orgcarbon.security.models import AuditEntry
from tests.conftest import build_app, dispose
from tests.integration.collection.conftest import (
    ApiCaller,
    count,
    counts,
    last_log,
    now,
    org_id,
    readings,
    register_client,
)

READINGS = "/api/v1/ingest/readings"


def test_sealed_batch_is_staged_with_resolved_ids_provenance_and_one_audit_entry(app: Flask, east: ApiCaller) -> None:
    """Three readings of 东区 land in st_row with ids, month, parameters, provenance; one audit entry."""
    response = east.post(READINGS, readings(3))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert (answer["status"], answer["received"], answer["staged"], answer["duplicates"]) == ("accepted", 3, 3, 0)
    with app.app_context():
        rows = db.session.scalars(select(StagingRow).order_by(StagingRow.id)).all()
        assert len(rows) == 3
        sub = db.session.scalar(select(SubProcess).where(SubProcess.name == "1#高炉"))
        coke = db.session.scalar(select(Material.id).where(Material.name == "焦炭"))
        client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == "east-mes"))
        first = rows[0]
        assert (first.source, first.organization_id, first.subprocess_id, first.material_id) == (
            "api", org_id("东区"), sub.id, coke)
        assert (first.quantity, first.unit, first.month, first.ncv, first.tags) == (10.5, "t", "2025-03", 28.435, "高炉")
        assert first.api_client_id == client.id and first.request_id == "batch-0001"
        assert first.record_key == "east-mes/东区|1#高炉|焦炭|2025-03-01T00:00:00+08:00"
        assert first.reference == "api:east-mes:batch-0001#1" and first.batch_id == answer["batch_id"]
        assert first.raw is None and first.status == "new"
        # The body is kept once per batch: row n of the reference is readings[n-1], SM3 as recorded.
        kept = db.session.scalar(select(StagingBatch).where(StagingBatch.batch_id == first.batch_id))
        body = zlib.decompress(kept.body)
        assert (kept.source, kept.api_client_id, kept.request_id, kept.rows) == ("api", client.id, "batch-0001", 3)
        assert kept.body_sm3 == sm3_hex(body) == db.session.scalar(
            select(IdempotencyRecord.request_sm3).where(IdempotencyRecord.key == "batch-0001"))
        assert json.loads(body)["readings"][0]["quantity"] == 10.5
        # 00:00 in Beijing is the previous day in UTC: the month is still March (China Standard Time).
        assert first.timestamp.replace(tzinfo=None).isoformat() == "2025-02-28T16:00:00"
        audit = db.session.scalars(select(AuditEntry).where(AuditEntry.table_name == "st_row")).all()
        assert [(a.row_id, a.username, a.after["staged"]) for a in audit] == [
            (f"batch:{answer['batch_id']}", "api:east-mes", 3)]
        log = last_log()
        assert (log.kind, log.status, log.fetched, log.accepted, log.api_client_id) == ("push", "success", 3, 3, client.id)
        assert log.idempotency_key == "batch-0001" and log.details["mode"] == "sealed"
        assert client.last_used_at is not None


def test_sm2_signed_batch_is_accepted(app: Flask, east: ApiCaller) -> None:
    """A client signing with its SM2 private key instead of the HMAC secret is accepted too."""
    path = READINGS
    body = json.dumps(readings(1, key="sm2-1")).encode()
    response = east.post_raw(path, east.seal(path, body, client_private_key=east.private_key))
    assert response.status_code == 200 and response.get_json()["staged"] == 1


def _bad_cases(east: ApiCaller) -> dict[str, tuple[bytes, int, str]]:
    body = json.dumps(readings(2, key="bad")).encode()
    other_server = generate_keypair().public_key
    return {
        "malformed JSON": (b'{"v": 1, "client_id": "east-mes", ', 400, "envelope_malformed"),
        "bad signature": (east.seal(READINGS, body, hmac_secret=b"not-the-secret"), 401, "envelope_bad_signature"),
        "wrong key": (east.seal(READINGS, body, server_public_key=other_server), 400, "envelope_wrong_key"),
        "stale timestamp": (east.seal(READINGS, body, now=now() - 3600), 401, "envelope_stale_timestamp"),
        "unknown client": (east.seal(READINGS, body, client_id="nobody"), 401, "envelope_unknown_client"),
        "tampered path": (east.seal("/api/v1/ingest/activity", body), 400, "envelope_tampered"),
        "body not JSON": (east.seal(READINGS, b"readings: [1, 2]"), 400, "json_malformed"),
        "schema violation": (east.seal(READINGS, json.dumps(readings(2, key="bad", quantity="12,5")).encode()),
                             422, "schema_invalid"),
    }


def test_every_bad_request_gets_its_code_is_logged_and_writes_nothing(app: Flask, east: ApiCaller) -> None:
    """Malformed JSON, bad signature, wrong key, stale timestamp, schema violation…: 4xx, logged, nothing written."""
    cases = _bad_cases(east)
    with app.app_context():
        before, logs = counts(), count(InterfaceLog)
    for name, (data, status, code) in cases.items():
        response = east.post_raw(READINGS, data)
        assert (response.status_code, response.get_json()["error"]) == (status, code), name
        assert response.get_json()["message"], name  # a Chinese message for people
        with app.app_context():
            assert counts() == before, name
            log = last_log()
            assert (log.status, log.details["code"], log.kind) == ("refused", code, "push"), name
            assert code in log.error
    with app.app_context():
        assert count(InterfaceLog) == logs + len(cases)
    schema = east.post_raw(READINGS, cases["schema violation"][0]).get_json()
    assert schema["errors"] == ["readings[0].quantity：应为数字", "readings[1].quantity：应为数字"]


def test_replayed_nonce_is_refused_and_writes_nothing(app: Flask, east: ApiCaller) -> None:
    """The very same sealed bytes sent twice: the second is a replay (409), nothing more is staged."""
    sealed = east.seal(READINGS, json.dumps(readings(2, key="once")).encode())
    assert east.post_raw(READINGS, sealed).status_code == 200
    with app.app_context():
        before = counts()
    replay = east.post_raw(READINGS, sealed)
    assert (replay.status_code, replay.get_json()["error"]) == (409, "envelope_replayed_nonce")
    with app.app_context():
        assert counts() == before
        assert (last_log().status, last_log().details["code"]) == ("refused", "envelope_replayed_nonce")


def test_retry_with_the_same_idempotency_key_returns_the_first_answer(app: Flask, east: ApiCaller) -> None:
    """A retry (new envelope, same batch) answers as the first time and stages nothing new."""
    first = east.post(READINGS, readings(4, key="retry-7"))
    with app.app_context():
        staged = count(StagingRow)
    again = east.post(READINGS, readings(4, key="retry-7"))
    assert again.status_code == 200 and again.headers["Idempotent-Replay"] == "true"
    assert again.get_json() == first.get_json()
    conflict = east.post(READINGS, readings(5, key="retry-7"))
    assert (conflict.status_code, conflict.get_json()["error"]) == (409, "idempotency_conflict")
    # Same readings under a new key: recognised by their record keys, counted as duplicates.
    fresh_key = east.post(READINGS, readings(4, key="retry-8")).get_json()
    assert (fresh_key["staged"], fresh_key["duplicates"]) == (0, 4)
    with app.app_context():
        assert count(StagingRow) == staged == 4
        assert count(IdempotencyRecord) == 2
        assert last_log().details["duplicates"] == 4


def test_corrected_reading_replaces_the_new_row(app: Flask, east: ApiCaller) -> None:
    """A reading sent again with another quantity (same place, material and time) updates the staged row."""
    east.post(READINGS, readings(1, key="v1"))
    answer = east.post(READINGS, readings(1, key="v2", quantity=99.0)).get_json()
    assert (answer["staged"], answer["updated"]) == (0, 1)
    with app.app_context():
        assert [r.quantity for r in db.session.scalars(select(StagingRow))] == [99.0]


def test_a_client_of_the_east_cannot_stage_for_the_west(app: Flask, east: ApiCaller) -> None:
    """Naming 西区 (outside the client's subtree) refuses the whole batch; an unknown name too."""
    body = readings(2, key="west")
    body["readings"][1].update(organization="西区", sub_process="加热炉")
    response = east.post(READINGS, body)
    assert (response.status_code, response.get_json()["error"]) == (422, "rows_rejected")
    assert response.get_json()["errors"] == ["第 2 条：组织“西区”不在数据范围内"]
    unknown = east.post(READINGS, readings(1, key="unknown", material="月球土"))
    assert unknown.get_json()["errors"] == ["第 1 条：未知物料“月球土”"]
    with app.app_context():
        assert counts()["staging"] == 0 and last_log().details["code"] == "rows_rejected"
    # Without an organisation the client's own one applies.
    assert east.post(READINGS, readings(1, org=None, key="default-org")).get_json()["staged"] == 1


def test_address_allow_list_and_disabled_client(app: Flask, east: ApiCaller) -> None:
    """A client limited to 10.0.0.0/8 is refused from 127.0.0.1; a disabled client is unknown."""
    register_client(app, "lan-only", "东区", allowed_ips="10.0.0.0/8")
    lan = ApiCaller(app, east.http, "lan-only", "secret-of-lan-only-0123456789", "", east.server_public_key, east.key_id)
    refused = lan.post(READINGS, readings(1, key="lan"))
    assert (refused.status_code, refused.get_json()["error"]) == (403, "client_address_refused")
    with app.app_context():
        db.session.scalar(select(ApiClient).where(ApiClient.client_id == "east-mes")).enabled = False
        db.session.commit()
    off = east.post(READINGS, readings(1, key="off"))
    assert (off.status_code, off.get_json()["error"]) == (401, "envelope_unknown_client")


def test_activity_records_are_staged_by_month(app: Flask, east: ApiCaller) -> None:
    """Monthly activity records carry their month and category; no timestamp."""
    body = {"idempotency_key": "act-1", "records": [
        {"sub_process": "1#高炉", "material": "焦炭", "month": "2025-02", "quantity": 16000, "unit": "t",
         "category": "fuel_combustion"}]}
    response = east.post("/api/v1/ingest/activity", body)
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        row = db.session.scalar(select(StagingRow))
        assert (row.month, row.category, row.timestamp, row.quantity) == ("2025-02", "fuel_combustion", None, 16000.0)


def test_query_results_of_the_clients_organisation(app: Flask, east: ApiCaller) -> None:
    """The latest finished run of 东区 for 2024; 西区 is outside the client's scope."""
    from orgcarbon.accounting.command import AccountOrganisation

    with app.app_context():
        run = AccountOrganisation(db.session, org_id("东区"), 2024, electricity_ef=0.5703).run()
        total = run.total_tco2
    response = east.post("/api/v1/query/results", {"year": 2024})
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["organization"] == "东区" and result["total_tco2"] == pytest.approx(total)
    assert sum(p["net_tco2"] for p in result["by_process"]) == pytest.approx(total)
    west = east.post("/api/v1/query/results", {"year": 2024, "organization": "西区"})
    assert (west.status_code, west.get_json()["error"]) == (403, "organization_refused")
    missing = east.post("/api/v1/query/results", {"year": 2030})
    assert (missing.status_code, missing.get_json()["error"]) == (404, "results_not_found")
    with app.app_context():
        assert last_log().kind == "query"


def test_server_key_is_published(app: Flask, east: ApiCaller) -> None:
    """GET /api/v1/ingest/server-key gives the active key id and public key the client seals to."""
    body = east.http.get("/api/v1/ingest/server-key").get_json()
    assert body["active_key_id"] == east.key_id
    assert body["keys"] == [{"key_id": east.key_id, "public_key": east.server_public_key, "active": True}]
    assert (Path(app.instance_path) / "api_sm2_keys").stat().st_mode & 0o777 == 0o600


def _plain(caller: ApiCaller, payload: dict[str, Any], **headers: str) -> Any:
    return caller.post_raw(READINGS, json.dumps(payload).encode(), **{"X-Orgcarbon-Client": caller.client_id, **headers})


def test_plain_json_only_for_listed_clients_on_loopback_without_proxy(database_url: str, tmp_path: Path) -> None:
    """Plain JSON is refused by default; listed clients may use it from loopback, not through a proxy."""
    for listed in ("", "east-mes"):
        app = build_app(database_url, tmp_path / f"instance{listed}", API_PLAIN_CLIENTS=listed)
        try:
            register_client(app, "east-mes", "东区") if not listed else None
            caller = ApiCaller(app, app.test_client(), "east-mes", "", "", "", "")
            response = _plain(caller, readings(2, key=f"plain{listed}"))
            if not listed:
                assert (response.status_code, response.get_json()["error"]) == (403, "plain_not_allowed")
                continue
            assert response.status_code == 200 and response.get_json()["staged"] == 2
            proxied = _plain(caller, readings(1, key="proxied"), **{"X-Forwarded-For": "203.0.113.9"})
            assert (proxied.status_code, proxied.get_json()["error"]) == (403, "plain_not_allowed")
            with app.app_context():
                assert last_log().details["code"] == "plain_not_allowed"
        finally:
            dispose(app)


def test_openapi_description_matches_the_routes(app: Flask) -> None:
    """docs/collection-openapi.yaml describes exactly the API's routes and methods."""
    import yaml

    spec = yaml.safe_load((Path(__file__).resolve().parents[3] / "docs" / "collection-openapi.yaml").read_text("utf-8"))
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("collection_api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routes


def test_production_without_a_key_file_refuses_sealed_requests(database_url: str, tmp_path: Path) -> None:
    """Production has no generated server key: sealed calls answer api_not_configured (503), logged."""
    app = build_app(database_url, tmp_path / "instance", ENV="production")
    try:
        client = app.test_client()
        assert client.get("/api/v1/ingest/server-key").status_code == 503
        response = client.post(READINGS, data=b'{"v": 1}', headers={"Content-Type": "application/json"})
        assert (response.status_code, response.get_json()["error"]) == (503, "api_not_configured")
        assert not (tmp_path / "instance" / "api_sm2_keys").exists()
        with app.app_context():
            assert last_log().details["code"] == "api_not_configured"
    finally:
        dispose(app)


def test_keygen_adds_an_active_key_and_keeps_the_old_one(database_url: str, tmp_path: Path) -> None:
    """`orgcarbon collection keygen FILE` appends a key, makes it active; the app serves both."""
    from tests.conftest import run_cli

    key_file = tmp_path / "api.keys"
    app = build_app(database_url, tmp_path / "instance", API_KEY_FILE=str(key_file))
    try:
        for key_id in ("srv-1", "srv-2"):
            result = run_cli(app, ["collection", "keygen", str(key_file), "--key-id", key_id])
            assert result.exit_code == 0, result.output
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert run_cli(app, ["collection", "keygen", str(key_file), "--key-id", "srv-2"]).exit_code != 0
        printed = run_cli(app, ["collection", "server-key"]).output
        assert "srv-1  04" in printed and "srv-2（当前）  04" in printed
        body = app.test_client().get("/api/v1/ingest/server-key").get_json()
        assert body["active_key_id"] == "srv-2" and [k["key_id"] for k in body["keys"]] == ["srv-1", "srv-2"]
    finally:
        dispose(app)
