"""Keys of system collection: the server's SM2 key ring, and secrets stored encrypted.

Server SM2 private keys never enter the database. ``ORGCARBON_API_KEY_FILE`` names a key file
(``<key_id> = <64 hex>`` lines, optional ``active = <key_id>``, ``#`` comments; owner-only). In
development an unset setting means ``<instance>/api_sm2_keys``, generated once with mode 0600; in
production there is no such default and the ingest API answers ``api_not_configured`` until the
file is given. Several ids may be listed so that clients move to a new key during an overlap.

Client HMAC secrets and connector passwords are stored with ``encrypt_field`` under the data key
(``DATA_KEY``), each with its own context so a value copied into another column fails to decrypt.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from orgcarbon.security.crypto import (
    KeyRing,
    decrypt_field,
    encrypt_field,
    generate_keypair,
    public_key_from_private,
    sm3_hex,
)

DEV_KEY_FILE = "api_sm2_keys"
CLIENT_SECRET_CONTEXT = "api_client.secret"
CONNECTOR_SECRET_CONTEXT = "cn_connector.secret"
_KEY_ID = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
_PRIVATE = re.compile(r"^[0-9a-fA-F]{64}$")


class KeyFileError(ValueError):
    """The server key file is unreadable or invalid; the message names the line."""


@dataclass(frozen=True)
class ServerKeys:
    """The server's SM2 private keys by id; clients wrap session keys to ``active_id``'s public key."""

    private: dict[str, str]
    active_id: str

    def public_key(self, key_id: str | None = None) -> str:
        """The public key (130 hex digits, ``04…``) of ``key_id`` (default: the active key)."""
        return public_key_from_private(self.private[key_id or self.active_id])

    def published(self) -> list[dict[str, Any]]:
        """Public keys with their ids, for the API client page and the key endpoint."""
        return [
            {"key_id": key_id, "public_key": self.public_key(key_id), "active": key_id == self.active_id}
            for key_id in self.private
        ]


def parse_server_keys(text: str, where: str = "key file") -> ServerKeys:
    """Parse key-file text; raises ``KeyFileError``."""
    keys: dict[str, str] = {}
    active: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, value = (part.strip() for part in line.partition("="))
        if not sep:
            raise KeyFileError(f"{where} line {number}: expected 'key_id = value'")
        if name == "active":
            active = value
        elif not _KEY_ID.match(name) or not _PRIVATE.match(value):
            raise KeyFileError(f"{where} line {number}: key id must be a token, key 64 hex digits")
        else:
            keys[name] = value.lower()
    if not keys:
        raise KeyFileError(f"{where} lists no keys")
    active = active or list(keys)[-1]
    if active not in keys:
        raise KeyFileError(f"{where}: active key {active!r} is not listed")
    return ServerKeys(keys, active)


def _generate_dev_file(path: Path) -> None:
    pair = generate_keypair()
    key_id = "dev-" + sm3_hex(pair.public_key.encode())[:8]
    text = (
        "# orgcarbon development SM2 key of the ingest API (generated; not for production)\n"
        f"{key_id} = {pair.private_key}\nactive = {key_id}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def load_server_keys(app: Flask) -> ServerKeys | None:
    """The key ring of ``app`` (cached); None in production while no key file is configured."""
    cached = app.extensions.get("orgcarbon_api_keys")
    if cached is not None:
        return cached if isinstance(cached, ServerKeys) else None
    settings = app.config["ORGCARBON"]
    given = settings.get("API_KEY_FILE")
    keys: ServerKeys | None = None
    if given:
        path = Path(given)
        keys = parse_server_keys(path.read_text(encoding="utf-8"), str(path))
    elif settings["ENV"] == "development":
        path = Path(app.instance_path) / DEV_KEY_FILE
        if not path.exists():
            with contextlib.suppress(FileExistsError):  # another worker made it at the same moment
                _generate_dev_file(path)
        keys = parse_server_keys(path.read_text(encoding="utf-8"), str(path))
    app.extensions["orgcarbon_api_keys"] = keys if keys is not None else False
    return keys


def data_ring(app: Flask | None = None) -> KeyRing:
    """The field-encryption key ring from ``DATA_KEY``."""
    app = app or current_app
    return KeyRing.from_hex(app.config["ORGCARBON"]["DATA_KEY"])


def new_client_secret() -> str:
    """A fresh HMAC secret for a client (shown once; its UTF-8 bytes are the HMAC-SM3 key)."""
    return secrets.token_urlsafe(32)


def seal_client_secret(secret: str) -> str:
    """The stored (encrypted) form of a client's HMAC secret."""
    return encrypt_field(data_ring(), secret, CLIENT_SECRET_CONTEXT)


def open_client_secret(token: str) -> bytes:
    """The HMAC key of a client from its stored secret."""
    return decrypt_field(data_ring(), token, CLIENT_SECRET_CONTEXT).encode()


def seal_connector_secrets(values: dict[str, Any]) -> str | None:
    """Encrypt a connector's secret config fields (None when there are none)."""
    kept = {k: v for k, v in values.items() if v not in (None, "")}
    if not kept:
        return None
    return encrypt_field(data_ring(), json.dumps(kept, ensure_ascii=False), CONNECTOR_SECRET_CONTEXT)


def open_connector_secrets(token: str | None) -> dict[str, Any]:
    """The secret config fields of a connector."""
    if not token:
        return {}
    data: dict[str, Any] = json.loads(decrypt_field(data_ring(), token, CONNECTOR_SECRET_CONTEXT))
    return data
