"""SM2 signatures for non-repudiation: report packages, submissions and approvals.

A :class:`SignedDigest` is stored next to what was signed; the signed message binds the
purpose, the signer's identity, the time and the SM3 digest, so none of them can be swapped later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from . import sm2
from .sm3 import sm3_digest

ALGORITHM = "SM2-SM3"


@dataclass(frozen=True)
class SignedDigest:
    """A detached SM2 signature over a 32-byte SM3 digest, with who signed, when and why."""

    signer_id: str
    purpose: str
    digest: str  # SM3 of the signed content, 64 hex digits
    signed_at: str  # ISO 8601, UTC, seconds
    public_key: str  # 130 hex digits with 04
    signature: str  # r || s, 128 hex digits
    algorithm: str = ALGORITHM

    def message(self) -> bytes:
        """The exact bytes that were signed (with SM2's default user ID)."""
        return signed_message(self.signer_id, self.purpose, self.digest, self.signed_at)

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict, e.g. for a signature column or a report package manifest."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedDigest:
        """Rebuild from :meth:`to_dict` output; unknown keys are refused."""
        return cls(**{k: str(v) for k, v in data.items()})


def signed_message(signer_id: str, purpose: str, digest_hex: str, signed_at: str) -> bytes:
    """Canonical text of a signature record; newlines in fields are refused to keep it unambiguous."""
    fields = [signer_id, purpose, digest_hex, signed_at]
    if any("\n" in f for f in fields):
        raise ValueError("signature fields must not contain newlines")
    return "\n".join(["ORGCARBON-SIGNATURE/1", *fields]).encode()


def sign_digest(
    private_key: str,
    digest: bytes,
    *,
    signer_id: str,
    purpose: str,
    public_key: str | None = None,
    signed_at: datetime | None = None,
    backend: sm2.Backend = sm2.DEFAULT_BACKEND,
) -> SignedDigest:
    """Sign an SM3 digest on behalf of ``signer_id`` (a user's or the platform's key)."""
    if len(digest) != 32:
        raise ValueError("digest must be the 32-byte SM3 of the content")
    public_key = sm2.normalize_public_key(public_key or sm2.public_key_from_private(private_key))
    when = (signed_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0).isoformat()
    message = signed_message(signer_id, purpose, digest.hex(), when)
    signature = sm2.sign(private_key, message, public_key=public_key, backend=backend)
    return SignedDigest(signer_id, purpose, digest.hex(), when, public_key, signature.hex())


def sign_content(private_key: str, content: bytes, **kwargs: Any) -> SignedDigest:
    """SM3 the content (e.g. a report package file), then :func:`sign_digest`."""
    return sign_digest(private_key, sm3_digest(content), **kwargs)


def verify_signed_digest(
    record: SignedDigest,
    *,
    trusted_public_key: str,
    content: bytes | None = None,
    backend: sm2.Backend = sm2.DEFAULT_BACKEND,
) -> bool:
    """True when the record's signature is valid, made by ``trusted_public_key`` and (if given)
    over ``content``.

    The public key stored in the record is never trusted on its own: the caller passes the key
    registered for ``record.signer_id``, else anyone could sign with a key of their own.
    """
    if record.algorithm != ALGORITHM:
        return False
    try:
        if sm2.normalize_public_key(record.public_key) != sm2.normalize_public_key(
            trusted_public_key
        ):
            return False
        signature = bytes.fromhex(record.signature)
        message = record.message()
    except ValueError:
        return False
    if content is not None and sm3_digest(content).hex() != record.digest.lower():
        return False
    return sm2.verify(trusted_public_key, message, signature, backend=backend)
