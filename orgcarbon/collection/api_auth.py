"""Who is calling the ingest API: a sealed envelope (SM2/SM3/SM4), or plain JSON on loopback.

Sealed requests go through ``open_request`` with the server's key ring, the client's registered
HMAC secret / SM2 public key and the database nonce store. Plain JSON carries no signature, so it
is accepted only from clients listed in ``ORGCARBON_API_PLAIN_CLIENTS`` and only when the TCP
peer is this machine and no proxy forwarded the request (a local nginx adds ``X-Real-IP`` /
``X-Forwarded-For``): it exists to measure the cost of the cryptography, not for production.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from flask import Request, current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orgcarbon.collection.keys import load_server_keys, open_client_secret
from orgcarbon.collection.models import ApiClient
from orgcarbon.collection.store import DbNonceStore, utcnow
from orgcarbon.security.crypto import ClientCredentials, open_request, sm3_hex

PLAIN_HEADER = "X-Orgcarbon-Client"
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
MAX_SKEW_SECONDS = 300
LAST_USED_EVERY_S = 60  # last_used_at is refreshed at most once a minute (no row-lock contention)


class ApiRefused(Exception):
    """A refused API call: stable ``code``, Chinese ``message``, HTTP status, details for the log."""

    def __init__(self, code: str, message: str, status: int, detail: str = "",
                 errors: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail
        self.errors = errors or []

    def to_response(self) -> dict[str, Any]:
        """The JSON answer: code, Chinese message and, for content errors, the positions."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass
class Caller:
    """An authenticated caller: its client row, the request body and how it came."""

    client: ApiClient
    body: bytes
    body_sm3: str
    mode: str  # "sealed" | "plain"
    nonce: str | None
    remote_addr: str


def remote_address(request: Request) -> str:
    """The client address: ``X-Real-IP`` only when the TCP peer is a proxy on this machine."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Real-IP")
    if forwarded and _loopback(peer):
        return forwarded.strip()
    return peer


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _address_allowed(client: ApiClient, address: str) -> bool:
    rules = [r.strip() for r in (client.allowed_ips or "").replace("，", ",").split(",") if r.strip()]
    if not rules:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(rule, strict=False) for rule in rules)


def _client(session: Session, client_id: str, address: str) -> ApiClient | None:
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None or not client.enabled:
        return None
    if not _address_allowed(client, address):
        raise ApiRefused("client_address_refused", "客户端地址不在允许列表中", 403, address)
    return client


def plain_clients() -> frozenset[str]:
    """Client ids allowed to send plain JSON from loopback (``ORGCARBON_API_PLAIN_CLIENTS``)."""
    raw = current_app.config["ORGCARBON"].get("API_PLAIN_CLIENTS") or ""
    return frozenset(c.strip() for c in raw.split(",") if c.strip())


def _touch(session: Session, client: ApiClient) -> None:
    last = client.last_used_at
    now = utcnow()
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or (now - last).total_seconds() > LAST_USED_EVERY_S:
        table = ApiClient.__table__
        session.execute(update(table).where(table.c.id == client.id).values(last_used_at=now))


def authenticate(session: Session, request: Request, seen: dict[str, Any]) -> Caller:
    """Open the request; raises ``EnvelopeError`` or ``ApiRefused``. Records the nonce (no commit).

    ``seen`` receives the client row as soon as it is known, for the interface log of a refusal.
    """
    address = remote_address(request)
    raw = request.get_data()
    plain_id = request.headers.get(PLAIN_HEADER)
    if plain_id is not None:
        return _plain(session, request, raw, plain_id.strip(), address, seen)
    keys = load_server_keys(current_app._get_current_object())  # type: ignore[attr-defined]
    if keys is None:
        raise ApiRefused("api_not_configured", "服务器未配置接口密钥（ORGCARBON_API_KEY_FILE），暂不能接收加密报文", 503)
    def credentials(client_id: str) -> ClientCredentials | None:
        client = _client(session, client_id, address)
        if client is None:
            return None
        seen["client"] = client
        secret = open_client_secret(client.hmac_secret) if client.hmac_secret else None
        return ClientCredentials(client_id, hmac_secret=secret, public_key=client.public_key or None)

    opened = open_request(
        raw, method=request.method, path=request.path, server_keys=keys.private,
        credentials=credentials, nonce_store=DbNonceStore(session),
        max_skew_seconds=MAX_SKEW_SECONDS, backend="native",
    )
    client = seen["client"]
    _touch(session, client)
    return Caller(client, opened.body, opened.body_sm3, "sealed", opened.nonce, address)


def _plain(session: Session, request: Request, raw: bytes, client_id: str, address: str,
           seen: dict[str, Any]) -> Caller:
    peer = request.remote_addr or ""
    forwarded = any(request.headers.get(h) for h in FORWARDING_HEADERS)
    if client_id not in plain_clients() or not _loopback(peer) or forwarded:
        raise ApiRefused(
            "plain_not_allowed", "该客户端不能发送明文 JSON，请使用国密加密报文", 403,
            f"client={client_id} peer={peer} forwarded={forwarded}",
        )
    client = _client(session, client_id, address)
    if client is None:
        raise ApiRefused("envelope_unknown_client", "未知或已停用的接口客户端", 401, client_id)
    seen["client"] = client
    _touch(session, client)
    return Caller(client, raw, sm3_hex(raw), "plain", None, address)
