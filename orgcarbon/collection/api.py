"""The HTTPS JSON API for third parties: ``/api/v1/ingest/readings``, ``/ingest/activity``,
``/query/results``; and ``GET /api/v1/ingest/server-key`` (the public keys to seal to).

Clients authenticate with the sealed envelope (``api_auth``), not with a user token, so these
routes sit on a plain blueprint exempt from CSRF. Each call is one transaction: nonce, idempotency
record, staged rows and the interface-log row commit together; a refused call rolls everything
back and then logs the refusal on its own. An accepted body is kept once, compressed, in
``st_batch`` (the staged rows point into it). Protocol and error codes: docs/collection.md and
docs/collection-openapi.yaml.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import func, select

from orgcarbon.collection.api_auth import ApiRefused, Caller, authenticate
from orgcarbon.collection.keys import load_server_keys
from orgcarbon.collection.names import Unresolved, load_index
from orgcarbon.collection.schema import (
    IngestBatch,
    SchemaError,
    parse_activity,
    parse_query,
    parse_readings,
)
from orgcarbon.collection.staging import stage_batch
from orgcarbon.collection.store import IDEMPOTENCY, insert_ignoring_duplicates, utcnow, write_log
from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import StagingBatch
from orgcarbon.security.audit import acting_as
from orgcarbon.security.crypto import EnvelopeError

blueprint = Blueprint("collection_api", __name__, url_prefix="/api/v1")
MAX_BODY = 32 * 1024 * 1024
BATCHES = StagingBatch.__table__


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one call is handled.

    A batch allocates tens of thousands of short-lived objects; with the collector running they
    trigger collections, and the older generations scan the whole application heap (hundreds of
    thousands of objects). Reference counting frees the batch when the call ends, and the body is
    bounded (``MAX_BODY``), so nothing accumulates while the collector waits.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiRefused("json_malformed", "请求体不是有效的 JSON", 400, str(exc)[:200]) from None


def _claimed_client(raw: bytes) -> str | None:
    """The client id an unopened request claims (for the log of a refusal only)."""
    claimed = request.headers.get("X-Orgcarbon-Client")
    if claimed:
        return claimed[:64]
    try:
        value = json.loads(raw).get("client_id")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return str(value)[:64] if value else None


def _answer(status: int, body: dict[str, Any], replay: bool = False) -> Response:
    response = jsonify(body)
    response.status_code = status
    if replay:
        response.headers["Idempotent-Replay"] = "true"
    return response


def _claim(caller: Caller, key: str) -> Response | None:
    """Take the idempotency key, or return the first answer given to it (a retry)."""
    session = db.session
    client_id = caller.client.client_id
    if insert_ignoring_duplicates(session, IDEMPOTENCY, {
        "client_id": client_id, "key": key, "request_sm3": caller.body_sm3, "status_code": 0,
        "response": None, "batch_id": None, "created_at": utcnow(),
    }):
        return None
    first = session.execute(
        select(IDEMPOTENCY.c.request_sm3, IDEMPOTENCY.c.status_code, IDEMPOTENCY.c.response)
        .where(IDEMPOTENCY.c.client_id == client_id, IDEMPOTENCY.c.key == key)
    ).one()
    if first.request_sm3 != caller.body_sm3:
        raise ApiRefused("idempotency_conflict", "该幂等键已用于内容不同的批次，请换用新的幂等键", 409, key)
    return _answer(first.status_code, dict(first.response or {}), replay=True)


def _ingest(caller: Caller, parse: Callable[[Any, str], IngestBatch], log: dict[str, Any]) -> Response:
    try:
        batch = parse(_json(caller.body), caller.client.client_id)
    except SchemaError as exc:
        raise ApiRefused("schema_invalid", "批次内容不符合接口规范", 422, errors=exc.errors) from None
    log["idempotency_key"] = batch.idempotency_key
    log["fetched"] = len(batch.rows)
    replay = _claim(caller, batch.idempotency_key)
    if replay is not None:
        log.update(status="success", details={**log["details"], "idempotent_replay": True})
        return replay
    batch_id = caller.body_sm3[:32]
    prefix = f"api:{caller.client.client_id}:{batch.idempotency_key}#"
    for number, row in enumerate(batch.rows, start=1):
        row["reference"] = prefix + str(number)
    with acting_as(f"api:{caller.client.client_id}", None, caller.remote_addr):
        result = stage_batch(
            db.session, batch.rows, source="api", batch_id=batch_id,
            api_client_id=caller.client.id, request_id=batch.idempotency_key,
            organization_id=caller.client.organization_id,
        )
    if result.rejected:
        log["rejected"] = len(result.rejected)
        # A third party gets all of its batch or none of it: fix the rows, send again.
        raise ApiRefused(
            "rows_rejected", f"批次中有 {len(result.rejected)} 条记录无法入库，整批未写入", 422,
            errors=[f"第 {r.reference.rsplit('#', 1)[-1]} 条：{r.reason}" for r in result.rejected[:20]],
        )
    _keep_body(caller, batch_id, batch.idempotency_key, result.received)
    body = {"status": "accepted", "batch_id": batch_id, "idempotency_key": batch.idempotency_key,
            "received": result.received, "staged": result.staged, "updated": result.updated,
            "duplicates": result.duplicates}
    table = IDEMPOTENCY
    db.session.execute(
        table.update()
        .where(table.c.client_id == caller.client.client_id, table.c.key == batch.idempotency_key)
        .values(status_code=200, response=body, batch_id=batch_id)
    )
    log.update(status="success", accepted=result.accepted, batch_id=batch_id,
               details={**log["details"], "duplicates": result.duplicates, "updated": result.updated})
    return _answer(200, body)


def _keep_body(caller: Caller, batch_id: str, key: str, rows: int) -> None:
    """Keep the accepted body once (``st_batch``), compressed: the staged rows point into it.

    Row ``n`` of the batch (``reference`` ``api:<client>:<key>#n``) is ``readings[n-1]`` of this
    body; its SM3 is the idempotency record's ``request_sm3``. Level 1 compresses a 200 kB batch of
    1,000 readings to about 9 kB in well under a millisecond.
    """
    db.session.execute(BATCHES.insert(), {
        "source": "api", "batch_id": batch_id, "api_client_id": caller.client.id, "request_id": key,
        "received_at": utcnow(), "rows": rows, "body_sm3": caller.body_sm3, "encoding": "zlib+json",
        "body": zlib.compress(caller.body, 1),
    })


def _results(caller: Caller, log: dict[str, Any]) -> Response:
    from orgcarbon.accounting.models import AccountingRun, ResultLine
    from orgcarbon.metamodel.models import Process

    try:
        year, name = parse_query(_json(caller.body))
    except SchemaError as exc:
        raise ApiRefused("schema_invalid", "查询内容不符合接口规范", 422, errors=exc.errors) from None
    session = db.session
    index = load_index(session, [caller.client.organization_id], caller.client.organization_id)
    try:
        org_id = index.organization(name)
    except Unresolved as exc:
        raise ApiRefused("organization_refused", str(exc), 403 if "不在" in str(exc) else 404) from None
    run = session.scalar(
        select(AccountingRun)
        .where(AccountingRun.organization_id == org_id, AccountingRun.year == year,
               AccountingRun.status == "done")
        .order_by(AccountingRun.id.desc()).limit(1)
    )
    if run is None:
        raise ApiRefused("results_not_found", f"该组织 {year} 年还没有完成的核算结果", 404)
    by_process = session.execute(
        select(Process.name, func.sum(ResultLine.net_tco2))
        .outerjoin(Process, ResultLine.process_id == Process.id)
        .where(ResultLine.run_id == run.id).group_by(Process.name).order_by(Process.name)
    ).all()
    log.update(status="success", fetched=len(by_process))
    return _answer(200, {
        "organization": run.organization.name, "organization_id": org_id, "year": year, "run_id": run.id,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "model_id": run.model_id, "model_version": run.model_version, "total_tco2": run.total_tco2,
        "direct_tco2": run.direct_tco2, "indirect_tco2": run.indirect_tco2,
        "by_category": run.by_category or {},
        "by_process": [{"process": p or "", "net_tco2": float(v or 0.0)} for p, v in by_process],
    })


def _handle(kind: str, work: Callable[[Caller, dict[str, Any]], Response]) -> Response:
    """Authenticate, run ``work`` in one transaction, log the call whatever happens."""
    started, clock = utcnow(), time.perf_counter()
    session = db.session
    seen: dict[str, Any] = {}
    log: dict[str, Any] = {"kind": kind, "started_at": started, "request_path": request.path[:300],
                           "remote_addr": (request.remote_addr or "")[:64], "details": {}}
    response: Response
    try:
        if (request.content_length or 0) > MAX_BODY:
            raise ApiRefused("body_too_large", "请求体过大（上限 32 MB），请分批发送", 413)
        caller = authenticate(session, request, seen)
        log.update(api_client_id=caller.client.id, organization_id=caller.client.organization_id,
                   remote_addr=caller.remote_addr[:64])
        log["details"] = {"mode": caller.mode, "client_id": caller.client.client_id}
        response = work(caller, log)
    except (EnvelopeError, ApiRefused) as exc:
        session.rollback()
        is_envelope = isinstance(exc, EnvelopeError)
        code = exc.code.value if isinstance(exc, EnvelopeError) else exc.code
        client = seen.get("client")
        body = exc.to_response()
        log.update(status="refused", error=f"{code}: {exc.message}" + (f" ({exc.detail})" if exc.detail else ""),
                   api_client_id=client.id if client is not None else None,
                   organization_id=client.organization_id if client is not None else None,
                   details={**log["details"], "code": code,
                            "client_id": log["details"].get("client_id") or _claimed_client(request.get_data()),
                            "errors": body.get("errors", [])})
        response = _answer(exc.http_status if is_envelope else exc.status, body)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001  # logged with the trace; the client gets a stable code
        session.rollback()
        current_app.logger.exception("ingest API call failed: %s", request.path)
        log.update(status="failed", error="internal_error", api_client_id=None, organization_id=None)
        response = _answer(500, {"error": "internal_error", "message": "服务器内部错误，已记录，请稍后重试"})
    log["duration_ms"] = (time.perf_counter() - clock) * 1000
    write_log(session, **log)
    session.commit()
    return response


@blueprint.post("/ingest/readings")
def ingest_readings() -> Response:
    """A batch of meter readings (see docs/collection-openapi.yaml)."""
    with _collector_paused():
        return _handle("push", lambda caller, log: _ingest(caller, parse_readings, log))


@blueprint.post("/ingest/activity")
def ingest_activity() -> Response:
    """A batch of monthly activity records."""
    with _collector_paused():
        return _handle("push", lambda caller, log: _ingest(caller, parse_activity, log))


@blueprint.post("/query/results")
def query_results() -> Response:
    """The latest completed accounting result of the client's organisation for a year."""
    return _handle("query", _results)


@blueprint.get("/ingest/server-key")
def server_key() -> Response:
    """The server's SM2 public keys and their ids (public information)."""
    keys = load_server_keys(current_app._get_current_object())  # type: ignore[attr-defined]
    if keys is None:
        return _answer(503, {"error": "api_not_configured", "message": "服务器未配置接口密钥"})
    return _answer(200, {"active_key_id": keys.active_id, "keys": keys.published()})


def register_api(app: Flask) -> None:
    """Attach the blueprint; exempt it from CSRF (the envelope authenticates each request)."""
    app.register_blueprint(blueprint)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(blueprint)
