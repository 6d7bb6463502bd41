"""Sealed JSON requests for the HTTPS API: SM2-wrapped SM4 key, SM4-GCM body, SM3-based signature.

Client side: :func:`seal_request`. Server side: :func:`open_request`, which refuses malformed
envelopes, unknown clients, stale timestamps, wrong server keys, tampered data, bad signatures
and replayed nonces, each with an :class:`EnvelopeError` code. Protocol: docs/crypto.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from . import sm2
from .envelope_errors import EnvelopeError, EnvelopeErrorCode
from .nonces import NonceStore
from .sm3 import hmac_sm3, hmac_sm3_verify, sm3_hex
from .sm4 import KEY_SIZE, Sm4DecryptionError, sm4_gcm_decrypt, sm4_gcm_encrypt

VERSION: Final = 1
DEFAULT_MAX_SKEW_SECONDS: Final = 300
SignatureAlgorithm = Literal["HMAC-SM3", "SM2-SM3"]
_SIG_ALGS: Final = ("HMAC-SM3", "SM2-SM3")
_TOKEN = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")  # client ids, key ids, nonces: no separators
_E = EnvelopeErrorCode


@dataclass(frozen=True)
class ClientCredentials:
    """What the server knows about a registered client: an HMAC secret and/or an SM2 public key."""

    client_id: str
    hmac_secret: bytes | None = None
    public_key: str | None = None


@dataclass(frozen=True)
class SealedRequest:
    """The JSON body sent over HTTPS; binary fields are standard base64, the signature is hex."""

    v: int
    client_id: str
    key_id: str
    ts: int
    nonce: str
    wrapped_key: str
    ciphertext: str
    sig_alg: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON-ready dict."""
        return asdict(self)

    def to_json(self) -> bytes:
        """The envelope as compact UTF-8 JSON bytes (the HTTP request body)."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any]) -> SealedRequest:
        """Parse an envelope; raises ``EnvelopeError(MALFORMED)`` on any shape problem."""
        try:
            obj = json.loads(data) if isinstance(data, bytes | str) else dict(data)
            fields = {k: obj[k] for k in cls.__dataclass_fields__}
        except (ValueError, TypeError, KeyError) as exc:
            raise EnvelopeError(_E.MALFORMED, f"not an envelope: {exc}") from exc
        ints, strs = ("v", "ts"), [k for k in fields if k not in ("v", "ts")]
        if any(type(fields[k]) is not int for k in ints) or any(
            not isinstance(fields[k], str) for k in strs
        ):
            raise EnvelopeError(_E.MALFORMED, "field types")
        return cls(**fields)


@dataclass(frozen=True)
class OpenedRequest:
    """A verified, decrypted request body and who sent it."""

    client_id: str
    ts: int
    nonce: str
    body: bytes
    body_sm3: str
    sig_alg: str

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def _aad(
    method: str, path: str, client_id: str, key_id: str, ts: int, nonce: str, alg: str
) -> bytes:
    # One field per line; tokens are checked for separators, and path may not contain newlines.
    return "\n".join(
        ["ORGCARBON-SM-ENVELOPE/1", method.upper(), path, client_id, key_id, str(ts), nonce, alg]
    ).encode()


def string_to_sign(aad: bytes, wrapped_key: bytes, body: bytes, body_sm3: str | None = None) -> bytes:
    """Header lines, then the SM3 of the wrapped key and of the plaintext body (``body_sm3`` when
    the caller has it already)."""
    return aad + b"\n" + sm3_hex(wrapped_key).encode() + b"\n" + (body_sm3 or sm3_hex(body)).encode()


def _check_header(method: str, path: str, client_id: str, key_id: str, nonce: str) -> None:
    if not _TOKEN.match(client_id) or (key_id and not _TOKEN.match(key_id)):
        raise EnvelopeError(_E.MALFORMED, "client_id or key_id")
    if not _TOKEN.match(nonce) or len(nonce) < 16:
        raise EnvelopeError(_E.MALFORMED, "nonce must be 16-64 token characters")
    if not method.isalpha() or "\n" in path or not path.startswith("/"):
        raise EnvelopeError(_E.MALFORMED, "method or path")


def seal_request(
    *,
    method: str,
    path: str,
    body: bytes,
    client_id: str,
    server_public_key: str,
    key_id: str = "",
    hmac_secret: bytes | None = None,
    client_private_key: str | None = None,
    now: float | None = None,
    nonce: str | None = None,
    backend: sm2.Backend = sm2.DEFAULT_BACKEND,
) -> SealedRequest:
    """Encrypt and sign ``body`` for the server; sign with HMAC-SM3 or, if given, the SM2 key."""
    if (hmac_secret is None) == (client_private_key is None):
        raise ValueError("give exactly one of hmac_secret or client_private_key")
    alg: SignatureAlgorithm = "HMAC-SM3" if hmac_secret is not None else "SM2-SM3"
    ts = int(time.time() if now is None else now)
    nonce = nonce or secrets.token_hex(16)
    _check_header(method, path, client_id, key_id, nonce)
    session_key = secrets.token_bytes(KEY_SIZE)
    wrapped = sm2.encrypt(server_public_key, session_key, backend=backend)
    aad = _aad(method, path, client_id, key_id, ts, nonce, alg)
    ciphertext = sm4_gcm_encrypt(session_key, body, aad)
    to_sign = string_to_sign(aad, wrapped, body)
    if hmac_secret is not None:
        signature = hmac_sm3(hmac_secret, to_sign)
    else:
        assert client_private_key is not None
        signature = sm2.sign(client_private_key, to_sign, backend=backend)
    return SealedRequest(
        v=VERSION,
        client_id=client_id,
        key_id=key_id,
        ts=ts,
        nonce=nonce,
        wrapped_key=base64.b64encode(wrapped).decode(),
        ciphertext=base64.b64encode(ciphertext).decode(),
        sig_alg=alg,
        signature=signature.hex(),
    )


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(_E.MALFORMED, "base64") from exc


def open_request(
    envelope: SealedRequest | bytes | str | Mapping[str, Any],
    *,
    method: str,
    path: str,
    server_keys: Mapping[str, str],
    credentials: Callable[[str], ClientCredentials | None],
    nonce_store: NonceStore,
    max_skew_seconds: int = DEFAULT_MAX_SKEW_SECONDS,
    now: float | None = None,
    backend: sm2.Backend = sm2.DEFAULT_BACKEND,
) -> OpenedRequest:
    """Verify and decrypt a sealed request; raises :class:`EnvelopeError` with a stable code.

    ``server_keys`` maps key ids to SM2 private keys (hex) so keys can be rotated; the nonce is
    recorded only after every other check has passed, so forged requests cannot burn nonces.
    """
    env = envelope if isinstance(envelope, SealedRequest) else SealedRequest.from_json(envelope)
    if env.v != VERSION or env.sig_alg not in _SIG_ALGS:
        raise EnvelopeError(_E.MALFORMED, f"version {env.v} / algorithm {env.sig_alg}")
    _check_header(method, path, env.client_id, env.key_id, env.nonce)
    wrapped, ciphertext = _b64(env.wrapped_key), _b64(env.ciphertext)
    try:
        signature = bytes.fromhex(env.signature)
    except ValueError as exc:
        raise EnvelopeError(_E.MALFORMED, "signature hex") from exc

    client = credentials(env.client_id)
    if client is None:
        raise EnvelopeError(_E.UNKNOWN_CLIENT, env.client_id)
    current = time.time() if now is None else now
    if abs(current - env.ts) > max_skew_seconds:
        raise EnvelopeError(_E.STALE_TIMESTAMP, f"ts={env.ts} now={int(current)}")
    replay_key = f"{env.client_id}:{env.nonce}"
    if nonce_store.seen(replay_key, current):  # cheap refusal before any SM2 work
        raise EnvelopeError(_E.REPLAYED_NONCE, env.nonce)

    private_key = server_keys.get(env.key_id)
    if private_key is None:
        raise EnvelopeError(_E.WRONG_KEY, f"unknown server key id {env.key_id!r}")
    try:
        session_key = sm2.decrypt(private_key, wrapped, backend=backend)
    except sm2.Sm2Error as exc:
        raise EnvelopeError(_E.WRONG_KEY, str(exc)) from exc
    if len(session_key) != KEY_SIZE:
        raise EnvelopeError(_E.WRONG_KEY, "session key length")
    aad = _aad(method, path, env.client_id, env.key_id, env.ts, env.nonce, env.sig_alg)
    try:
        body = sm4_gcm_decrypt(session_key, ciphertext, aad)
    except Sm4DecryptionError as exc:
        raise EnvelopeError(_E.TAMPERED, str(exc)) from exc

    body_sm3 = sm3_hex(body)  # signed, and returned: hashed once
    to_sign = string_to_sign(aad, wrapped, body, body_sm3)
    if env.sig_alg == "HMAC-SM3":
        ok = client.hmac_secret is not None and hmac_sm3_verify(
            client.hmac_secret, to_sign, signature
        )
    else:
        ok = client.public_key is not None and sm2.verify(
            client.public_key, to_sign, signature, backend=backend
        )
    if not ok:
        raise EnvelopeError(_E.BAD_SIGNATURE, env.sig_alg)
    # Kept until the timestamp itself would be refused; after that the nonce cannot come back.
    if not nonce_store.remember(replay_key, env.ts + max_skew_seconds + 1, current):
        raise EnvelopeError(_E.REPLAYED_NONCE, env.nonce)
    return OpenedRequest(env.client_id, env.ts, env.nonce, body, body_sm3, env.sig_alg)
