"""SM2 signatures on report packages and approvals can be verified later, bound to the signer."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from orgcarbon.security.crypto import (
    SignedDigest,
    generate_keypair,
    sign_content,
    sign_digest,
    sm2_verify,
    sm3_digest,
    verify_signed_digest,
)
from orgcarbon.security.crypto.sm2 import Backend

USER = generate_keypair()
PACKAGE = "2024年度温室气体排放报告".encode() * 10


@pytest.mark.parametrize("backend", ["gmssl", "native"])
def test_signed_package_verifies_later_from_its_stored_dict(backend: Backend) -> None:
    record = sign_content(
        USER.private_key,
        PACKAGE,
        signer_id="user:42",
        purpose="report_submission",
        signed_at=datetime(2025, 3, 1, 8, 30, 15, 999, tzinfo=UTC),
        backend=backend,
    )
    assert record.signed_at == "2025-03-01T08:30:15+00:00"
    assert record.digest == sm3_digest(PACKAGE).hex()
    stored = SignedDigest.from_dict(record.to_dict())
    assert verify_signed_digest(
        stored, trusted_public_key=USER.public_key, content=PACKAGE, backend=backend
    )
    # Any standard SM2 verifier with the default ID can check the canonical message.
    assert sm2_verify(USER.public_key, stored.message(), bytes.fromhex(stored.signature))


def test_changed_content_signer_purpose_time_or_key_fail() -> None:
    record = sign_digest(
        USER.private_key,
        sm3_digest(PACKAGE),
        signer_id="user:42",
        purpose="approval",
        backend="native",
    )
    key = USER.public_key
    assert verify_signed_digest(record, trusted_public_key=key, backend="native")
    assert not verify_signed_digest(record, trusted_public_key=key, content=PACKAGE + b"x")
    for changed in [
        replace(record, signer_id="user:43"),
        replace(record, purpose="report_submission"),
        replace(record, signed_at="2020-01-01T00:00:00+00:00"),
        replace(record, digest="00" * 32),
        replace(record, algorithm="RSA"),
        replace(record, signature="zz"),
    ]:
        assert not verify_signed_digest(changed, trusted_public_key=key, backend="native")
    # A record re-signed with someone else's key (and their key stored in it) is not trusted.
    mallory = generate_keypair()
    forged = sign_digest(
        mallory.private_key,
        sm3_digest(PACKAGE),
        signer_id="user:42",
        purpose="approval",
        backend="native",
    )
    assert not verify_signed_digest(forged, trusted_public_key=key)


def test_digest_must_be_32_bytes_and_fields_single_line() -> None:
    with pytest.raises(ValueError):
        sign_digest(USER.private_key, b"short", signer_id="u", purpose="p")
    with pytest.raises(ValueError):
        sign_digest(USER.private_key, bytes(32), signer_id="u\nv", purpose="p")
