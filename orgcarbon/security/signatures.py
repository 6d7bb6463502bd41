"""Non-repudiation (spec 8.2.3): submissions and approvals signed with the acting user's SM2 key.

Each user gets an SM2 key pair on first use; the public key is stored in ``sec_user_security``
and the private key is stored there encrypted with the data key (SM4-GCM, key id in the value, so
``orgcarbon keys rotate`` re-encrypts it). ``sign_action`` turns what was decided into canonical
JSON (sorted keys, no spaces, UTF-8), takes its SM3 digest and signs it with the user's key
(``crypto.signing``: the signed message binds the signer, the purpose ``<object_type>:<action>``,
the digest and the time). ``verify_signature`` recomputes the digest from the stored content and
checks the signature with the key registered for the user, never the key copied into the row
alone — and reports whether the content, the digest or the signature was changed.

For the forms workflow the content is
``{"submission_id", "version", "values": {field code: value}, "status", "user"}``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.security.crypto import (
    SignedDigest,
    decrypt_field,
    encrypt_field,
    generate_keypair,
    sign_digest,
    sm3_digest,
    verify_signed_digest,
)
from orgcarbon.security.encrypted import data_key_ring
from orgcarbon.security.models import Signature, UserSecurity, utcnow

PRIVATE_KEY_CONTEXT = "sec_user_security.sm2_private_key"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot sign a value of type {type(value).__name__}")


def canonical_content(content: dict[str, Any]) -> bytes:
    """The exact bytes that are hashed: JSON, sorted keys, no whitespace, UTF-8."""
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=_plain, allow_nan=False).encode()


def user_key(session: Session, user: Any) -> tuple[str, str]:
    """The user's (private, public) SM2 key, created and stored on first use (not committed)."""
    state = session.get(UserSecurity, user.id)
    if state is None:
        state = UserSecurity(user_id=user.id)
        session.add(state)
    if state.sm2_private_key and state.sm2_public_key:
        private = decrypt_field(data_key_ring(), state.sm2_private_key, PRIVATE_KEY_CONTEXT)
        return private, state.sm2_public_key
    pair = generate_keypair()
    state.sm2_private_key = encrypt_field(data_key_ring(), pair.private_key, PRIVATE_KEY_CONTEXT)
    state.sm2_public_key = pair.public_key
    state.key_created_at = utcnow()
    return pair.private_key, pair.public_key


def _record(signature: Signature) -> SignedDigest:
    data = json.loads(signature.signature)
    return SignedDigest.from_dict(data)


def sign_action(session: Session, user: Any, object_type: str, object_id: int, action: str,
                content: dict[str, Any]) -> Signature:
    """Sign ``content`` as ``user``'s ``action`` on ``object_type`` #``object_id``; the row is added
    to ``session`` and committed with the caller's transaction."""
    private, public = user_key(session, user)
    body = canonical_content(content)
    record = sign_digest(private, sm3_digest(body), signer_id=str(user.username),
                         purpose=f"{object_type}:{action}", public_key=public)
    signature = Signature(
        object_type=object_type, object_id=object_id, action=action, user_id=user.id,
        username=user.username, digest=record.digest,
        signature=json.dumps(record.to_dict(), sort_keys=True), public_key=record.public_key,
        content=json.loads(body), signed_at=dt.datetime.fromisoformat(record.signed_at),
    )
    session.add(signature)
    return signature


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of checking one signature; ``reason`` is Chinese when it failed."""

    ok: bool
    reason: str = ""


def check_signature(session: Session, signature: Signature) -> SignatureCheck:
    """Check one stored signature against its content and the signer's registered key."""
    digest = sm3_digest(canonical_content(signature.content or {})).hex()
    if digest != signature.digest:
        return SignatureCheck(False, "签名内容已被修改：内容的 SM3 摘要与签名时不一致")
    try:
        record = _record(signature)
    except (ValueError, TypeError):
        return SignatureCheck(False, "签名记录格式错误")
    if record.digest != digest or record.purpose != f"{signature.object_type}:{signature.action}":
        return SignatureCheck(False, "签名记录与其对象或摘要不符")
    state = session.get(UserSecurity, signature.user_id) if signature.user_id is not None else None
    trusted = state.sm2_public_key if state is not None else None
    if not trusted:
        return SignatureCheck(False, "找不到签名用户登记的公钥")
    if record.signer_id != signature.username:
        return SignatureCheck(False, "签名人与记录的用户不符")
    if not verify_signed_digest(record, trusted_public_key=trusted):
        return SignatureCheck(False, "SM2 签名验证失败：签名不是由该用户的密钥作出，或已被修改")
    return SignatureCheck(True)


def verify_signature(session: Session, signature: Signature) -> bool:
    """True when the signature is intact and made with the signer's registered key."""
    return check_signature(session, signature).ok


def signatures_of(session: Session, object_type: str | None = None, object_id: int | None = None) -> list[Signature]:
    """Stored signatures, optionally of one object type or object, oldest first."""
    query = select(Signature).order_by(Signature.id)
    if object_type:
        query = query.where(Signature.object_type == object_type)
    if object_id is not None:
        query = query.where(Signature.object_id == object_id)
    return list(session.scalars(query))
