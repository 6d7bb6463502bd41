"""SM3 digest (GB/T 32905) and HMAC-SM3, both through OpenSSL via ``cryptography``."""

from __future__ import annotations

import hmac as _hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac

DIGEST_SIZE = 32


def sm3_digest(data: bytes) -> bytes:
    """Return the 32-byte SM3 digest of ``data``."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def sm3_hex(data: bytes) -> str:
    """Return the SM3 digest of ``data`` as 64 lowercase hex digits."""
    return sm3_digest(data).hex()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """Return the 32-byte HMAC-SM3 (RFC 2104 construction) of ``data`` under ``key``."""
    if not key:
        # An empty HMAC key authenticates nothing; refuse rather than silently accept.
        raise ValueError("HMAC-SM3 key must not be empty")
    mac = _crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def hmac_sm3_verify(key: bytes, data: bytes, tag: bytes) -> bool:
    """Check an HMAC-SM3 tag in constant time."""
    return _hmac.compare_digest(hmac_sm3(key, data), tag)
