"""API envelope: sealed requests open on the server; every refusal has its stable code."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orgcarbon.security.crypto import (
    ClientCredentials,
    EnvelopeError,
    EnvelopeErrorCode,
    InMemoryNonceStore,
    OpenedRequest,
    SealedRequest,
    generate_keypair,
    open_request,
    seal_request,
)

SERVER = generate_keypair()
CLIENT = generate_keypair()
SECRET = b"client-secret-0123456789abcdef"
NOW = 1_700_000_000.0
BODY = json.dumps({"readings": [{"meter": "M-01", "value": 12.5}]}).encode()
CLIENTS = {
    "plant-a": ClientCredentials("plant-a", hmac_secret=SECRET),
    "plant-b": ClientCredentials("plant-b", public_key=CLIENT.public_key),
}


def seal(**overrides: Any) -> SealedRequest:
    args: dict[str, Any] = dict(
        method="POST",
        path="/api/v1/ingest",
        body=BODY,
        client_id="plant-a",
        server_public_key=SERVER.public_key,
        key_id="srv1",
        hmac_secret=SECRET,
        now=NOW,
        backend="native",
    )
    args.update(overrides)
    return seal_request(**args)


def open_(
    envelope: Any, store: InMemoryNonceStore | None = None, **overrides: Any
) -> OpenedRequest:
    args: dict[str, Any] = dict(
        method="POST",
        path="/api/v1/ingest",
        server_keys={"srv1": SERVER.private_key},
        credentials=CLIENTS.get,
        nonce_store=store if store is not None else InMemoryNonceStore(),
        now=NOW + 10,
        backend="native",
    )
    args.update(overrides)
    return open_request(envelope, **args)


def refusal(envelope: Any, **overrides: Any) -> EnvelopeErrorCode:
    with pytest.raises(EnvelopeError) as info:
        open_(envelope, **overrides)
    assert info.value.message and info.value.to_response()["error"] == info.value.code.value
    return info.value.code


def test_hmac_envelope_round_trips_through_json_bytes() -> None:
    wire = seal().to_json()
    assert b"M-01" not in wire  # the body travels encrypted
    opened = open_(wire)
    assert opened.body == BODY and opened.json()["readings"][0]["value"] == 12.5
    assert opened.client_id == "plant-a" and opened.sig_alg == "HMAC-SM3"


@pytest.mark.parametrize("backend", ["gmssl", "native"])
def test_sm2_signed_envelope_round_trips_on_both_backends(backend: str) -> None:
    envelope = seal(
        client_id="plant-b",
        hmac_secret=None,
        client_private_key=CLIENT.private_key,
        backend=backend,
    )
    opened = open_(envelope.to_dict(), backend=backend)
    assert opened.body == BODY and opened.sig_alg == "SM2-SM3"


def test_malformed_envelopes_are_refused() -> None:
    good = seal().to_dict()
    assert refusal(b"not json") == EnvelopeErrorCode.MALFORMED
    assert refusal({**good, "v": 2}) == EnvelopeErrorCode.MALFORMED
    assert refusal({**good, "ts": "1700000000"}) == EnvelopeErrorCode.MALFORMED
    assert refusal({**good, "wrapped_key": "@@@"}) == EnvelopeErrorCode.MALFORMED
    assert refusal({k: v for k, v in good.items() if k != "nonce"}) == EnvelopeErrorCode.MALFORMED
    assert refusal({**good, "sig_alg": "NONE"}) == EnvelopeErrorCode.MALFORMED


def test_unknown_client_is_refused() -> None:
    assert refusal(seal(client_id="plant-x")) == EnvelopeErrorCode.UNKNOWN_CLIENT


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_timestamps_are_refused_and_skew_is_configurable(skew: int) -> None:
    envelope = seal(now=NOW + skew)
    assert refusal(envelope, now=NOW) == EnvelopeErrorCode.STALE_TIMESTAMP
    assert open_(envelope, now=NOW, max_skew_seconds=400).body == BODY


def test_wrong_server_key_or_key_id_is_refused() -> None:
    other = generate_keypair()
    assert refusal(seal(server_public_key=other.public_key)) == EnvelopeErrorCode.WRONG_KEY
    assert refusal(seal(key_id="srv0")) == EnvelopeErrorCode.WRONG_KEY


def test_tampered_body_or_header_is_refused() -> None:
    envelope = seal()
    raw = bytearray(base64.b64decode(envelope.ciphertext))
    raw[20] ^= 1
    flipped = replace(envelope, ciphertext=base64.b64encode(bytes(raw)).decode())
    assert refusal(flipped) == EnvelopeErrorCode.TAMPERED
    # The header is GCM associated data: the same ciphertext sent to another path fails too.
    assert refusal(envelope, path="/api/v1/results") == EnvelopeErrorCode.TAMPERED
    assert refusal(replace(envelope, ts=int(NOW) + 1)) == EnvelopeErrorCode.TAMPERED


def test_bad_signatures_are_refused() -> None:
    envelope = seal()
    forged = replace(envelope, signature="00" * 32)
    assert refusal(forged) == EnvelopeErrorCode.BAD_SIGNATURE
    wrong_secret = seal(hmac_secret=b"another-secret")
    assert refusal(wrong_secret) == EnvelopeErrorCode.BAD_SIGNATURE
    # plant-b is registered with an SM2 key only; an HMAC-signed request cannot pass as it.
    assert refusal(seal(client_id="plant-b")) == EnvelopeErrorCode.BAD_SIGNATURE
    impostor = generate_keypair()
    signed_by_other = seal(
        client_id="plant-b", hmac_secret=None, client_private_key=impostor.private_key
    )
    assert refusal(signed_by_other) == EnvelopeErrorCode.BAD_SIGNATURE


def test_replayed_nonce_is_refused_but_a_forged_request_does_not_burn_it() -> None:
    store = InMemoryNonceStore()
    envelope = seal(nonce="n" * 32)
    assert refusal(replace(envelope, signature="00" * 32), store=store) == (
        EnvelopeErrorCode.BAD_SIGNATURE
    )
    assert open_(envelope, store=store).body == BODY
    assert refusal(envelope, store=store) == EnvelopeErrorCode.REPLAYED_NONCE
    assert len(store) == 1
    # Same nonce from another client is a different nonce.
    other = seal(
        nonce="n" * 32, client_id="plant-b", hmac_secret=None, client_private_key=CLIENT.private_key
    )
    assert open_(other, store=store).client_id == "plant-b"


def test_nonce_store_forgets_expired_nonces() -> None:
    store = InMemoryNonceStore()
    assert store.remember("a", expires_at=10.0, now=0.0)
    assert not store.remember("a", expires_at=10.0, now=5.0)
    assert store.remember("a", expires_at=30.0, now=11.0)


def test_error_messages_are_chinese_and_codes_stable() -> None:
    assert {c.value for c in EnvelopeErrorCode} == {
        "envelope_malformed",
        "envelope_unknown_client",
        "envelope_stale_timestamp",
        "envelope_wrong_key",
        "envelope_tampered",
        "envelope_bad_signature",
        "envelope_replayed_nonce",
    }
    error = EnvelopeError(EnvelopeErrorCode.REPLAYED_NONCE, "nonce abc")
    assert error.http_status == 409 and "重放" in error.message
    assert "abc" not in json.dumps(error.to_response(), ensure_ascii=False)


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=2000))
def test_any_body_round_trips(body: bytes) -> None:
    assert open_(seal(body=body)).body == body
