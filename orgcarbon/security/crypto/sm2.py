"""SM2 keys, signatures (SM3 with Z-value) and encryption (C1C3C2), on gmssl or the native path.

Conventions (see docs/crypto.md):

* private key: 64 hex digits; public key: 130 hex digits ``04 || x || y`` (SEC1 uncompressed).
  Public keys are also accepted as 128 hex digits without ``04``.
* signature: 64 raw bytes ``r || s`` (gmssl's format; ``signature_to_der`` converts for GM/T 0009).
* ciphertext: ``04 || x1 || y1 || C3 (32) || C2`` (GB/T 32918.4 in C1C3C2 order); a C1 without
  the ``04`` byte, as gmssl writes it, is accepted too.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Final, Literal

from gmssl.sm2 import CryptSM2, default_ecc_table

from . import sm2_curve as curve
from .sm3 import sm3_digest

Backend = Literal["gmssl", "native"]
DEFAULT_BACKEND: Final[Backend] = "gmssl"
DEFAULT_USER_ID: Final = b"1234567812345678"  # GB/T 35276 §5.3 default signer ID
_C = curve.SM2_P256
_SIZE = 32


class Sm2Error(ValueError):
    """A malformed key, signature or ciphertext, or a ciphertext that fails its C3 check."""


@dataclass(frozen=True)
class Sm2KeyPair:
    """An SM2 key pair as hex: ``private_key`` 64 digits, ``public_key`` 130 digits with ``04``."""

    private_key: str
    public_key: str


def _parse_private(private_key: str) -> int:
    try:
        d = int(private_key, 16)
    except ValueError as exc:
        raise Sm2Error("SM2 private key is not hex") from exc
    # d = n - 1 is excluded: signing divides by (1 + d).
    if len(private_key) != 2 * _SIZE or not 0 < d < _C.n - 1:
        raise Sm2Error("SM2 private key must be 64 hex digits in [1, n-2]")
    return d


def _parse_public(public_key: str) -> curve.Affine:
    text = public_key.lower()
    if len(text) == 2 + 4 * _SIZE and text.startswith("04"):
        text = text[2:]
    if len(text) != 4 * _SIZE:
        raise Sm2Error("SM2 public key must be 130 hex digits (04||x||y) or 128 (x||y)")
    try:
        point = (int(text[: 2 * _SIZE], 16), int(text[2 * _SIZE :], 16))
    except ValueError as exc:
        raise Sm2Error("SM2 public key is not hex") from exc
    if not curve.is_on_curve(_C, point):
        raise Sm2Error("SM2 public key is not a point on the curve")
    return point


def _point_hex(point: curve.Affine) -> str:
    return f"{point[0]:064x}{point[1]:064x}"


def normalize_public_key(public_key: str) -> str:
    """Validate a public key and return it as 130 lowercase hex digits with the ``04`` prefix."""
    return "04" + _point_hex(_parse_public(public_key))


def public_key_from_private(private_key: str) -> str:
    """Derive the public key (130 hex digits) from a private key."""
    point = curve.mul_g(_C, _parse_private(private_key))
    assert point is not None  # d in [1, n-2] never gives infinity
    return "04" + _point_hex(point)


def generate_keypair() -> Sm2KeyPair:
    """Draw a new key pair from the operating system's CSPRNG."""
    d = secrets.randbelow(_C.n - 2) + 1
    private_key = f"{d:064x}"
    return Sm2KeyPair(private_key, public_key_from_private(private_key))


def gmssl_crypt(private_key: str | None, public_key: str) -> CryptSM2:
    """A gmssl ``CryptSM2`` (C1C3C2) with the public key set *after* construction.

    gmssl 3.2.2's ``__init__`` does ``public_key.lstrip("04")``, which strips every leading 0 or 4
    digit, so keys whose x starts with 0 or 4 silently fail (STACK-NOTES). Assigning the attribute
    afterwards bypasses that.
    """
    raw = normalize_public_key(public_key)[2:]
    crypt = CryptSM2(private_key=private_key, public_key=raw, mode=1)
    crypt.public_key = raw
    return crypt


def digest_to_sign(public_key: str, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """e = SM3(Z_A || M): the 32 bytes that SM2 actually signs for this signer and message."""
    e = curve.message_digest(_C, user_id, _parse_public(public_key), message)
    return e.to_bytes(_SIZE, "big")


def sign(
    private_key: str,
    message: bytes,
    *,
    user_id: bytes = DEFAULT_USER_ID,
    public_key: str | None = None,
    backend: Backend = DEFAULT_BACKEND,
) -> bytes:
    """Sign ``message`` (SM3 with Z-value); returns 64 bytes ``r || s``.

    ``public_key`` saves one scalar multiplication when the caller already has it.
    """
    d = _parse_private(private_key)
    public_key = public_key or public_key_from_private(private_key)
    e_bytes = digest_to_sign(public_key, message, user_id)
    e = int.from_bytes(e_bytes, "big")
    crypt = gmssl_crypt(private_key, public_key) if backend == "gmssl" else None
    while True:
        # The nonce comes from `secrets`: gmssl's own default uses `random.choice` (not a CSPRNG).
        k = secrets.randbelow(_C.n - 1) + 1
        if crypt is not None:
            sig_hex: str | None = crypt.sign(e_bytes, f"{k:064x}")
            if sig_hex is not None:
                return bytes.fromhex(sig_hex)
        else:
            rs = curve.sign_e(_C, d, e, k)
            if rs is not None:
                return rs[0].to_bytes(_SIZE, "big") + rs[1].to_bytes(_SIZE, "big")


def verify(
    public_key: str,
    message: bytes,
    signature: bytes,
    *,
    user_id: bytes = DEFAULT_USER_ID,
    backend: Backend = DEFAULT_BACKEND,
) -> bool:
    """True when ``signature`` (64 bytes ``r || s``) is valid for ``message`` and the signer."""
    if len(signature) != 2 * _SIZE:
        return False
    try:
        point = _parse_public(public_key)
    except Sm2Error:
        return False
    r, s = int.from_bytes(signature[:_SIZE], "big"), int.from_bytes(signature[_SIZE:], "big")
    if not (0 < r < _C.n and 0 < s < _C.n):  # gmssl does not check the ranges itself
        return False
    e = curve.message_digest(_C, user_id, point, message)
    if backend == "gmssl":
        crypt = gmssl_crypt(None, public_key)
        return bool(crypt.verify(signature.hex(), e.to_bytes(_SIZE, "big")))
    return curve.verify_e(_C, point, e, r, s)


def _mul(k: int, point: curve.Affine, backend: Backend) -> curve.Affine:
    if backend == "gmssl":
        # gmssl's scalar multiplication on hex strings; only the framing below is ours.
        engine = CryptSM2(private_key=None, public_key="", ecc_table=default_ecc_table)
        out = engine._kg(k, _point_hex(point))
        if out is None:
            raise Sm2Error("SM2 scalar multiplication gave the point at infinity")
        return int(out[: 2 * _SIZE], 16), int(out[2 * _SIZE :], 16)
    result = curve.mul(_C, k, point)
    if result is None:
        raise Sm2Error("SM2 scalar multiplication gave the point at infinity")
    return result


def _coords(point: curve.Affine) -> tuple[bytes, bytes]:
    return point[0].to_bytes(_SIZE, "big"), point[1].to_bytes(_SIZE, "big")


def encrypt(
    public_key: str, plaintext: bytes, *, backend: Backend = DEFAULT_BACKEND, k: int | None = None
) -> bytes:
    """Encrypt for ``public_key``; returns ``04 || C1 || C3 || C2``. ``k`` is for test vectors."""
    if not plaintext:
        raise Sm2Error("SM2 cannot encrypt an empty message")
    point = _parse_public(public_key)
    g = (_C.gx, _C.gy)
    while True:
        # gmssl's encrypt() draws k with `random.choice`; the nonce is drawn here instead.
        nonce = k if k is not None else secrets.randbelow(_C.n - 1) + 1
        x1, y1 = _coords(_mul(nonce, g, backend))
        x2, y2 = _coords(_mul(nonce, point, backend))
        t = curve.kdf(x2 + y2, len(plaintext))
        if any(t):
            break
        if k is not None:
            raise Sm2Error("SM2 KDF output is zero for this k")
    c2 = bytes(a ^ b for a, b in zip(plaintext, t, strict=True))
    c3 = sm3_digest(x2 + plaintext + y2)
    return b"\x04" + x1 + y1 + c3 + c2


def _split_ciphertext(data: bytes) -> tuple[curve.Affine, bytes, bytes]:
    for offset in (1, 0) if data[:1] == b"\x04" else (0,):
        body = data[offset:]
        if len(body) <= 3 * _SIZE:
            continue
        c1 = (int.from_bytes(body[:_SIZE], "big"), int.from_bytes(body[_SIZE : 2 * _SIZE], "big"))
        # Checking C1 is on the curve stops invalid-curve attacks on the private key (§7.1 B1).
        if curve.is_on_curve(_C, c1):
            return c1, body[2 * _SIZE : 3 * _SIZE], body[3 * _SIZE :]
    raise Sm2Error("SM2 ciphertext is malformed or C1 is not on the curve")


def decrypt(private_key: str, ciphertext: bytes, *, backend: Backend = DEFAULT_BACKEND) -> bytes:
    """Decrypt a C1C3C2 ciphertext; raises :class:`Sm2Error` if C3 does not match (wrong key)."""
    d = _parse_private(private_key)
    c1, c3, c2 = _split_ciphertext(ciphertext)
    x2, y2 = _coords(_mul(d, c1, backend))
    t = curve.kdf(x2 + y2, len(c2))
    if not any(t):
        raise Sm2Error("SM2 KDF output is zero")
    plaintext = bytes(a ^ b for a, b in zip(c2, t, strict=True))
    # gmssl's decrypt() computes this hash but never compares it; the comparison is the point.
    if not hmac.compare_digest(sm3_digest(x2 + plaintext + y2), c3):
        raise Sm2Error("SM2 ciphertext check (C3) failed: wrong key or tampered data")
    return plaintext


def signature_to_der(signature: bytes) -> bytes:
    """Encode 64-byte ``r || s`` as the DER SEQUENCE of two INTEGERs (GM/T 0009)."""
    if len(signature) != 2 * _SIZE:
        raise Sm2Error("SM2 signature must be 64 bytes")

    def integer(raw: bytes) -> bytes:
        body = raw.lstrip(b"\x00") or b"\x00"
        if body[0] & 0x80:
            body = b"\x00" + body
        return b"\x02" + bytes([len(body)]) + body

    seq = integer(signature[:_SIZE]) + integer(signature[_SIZE:])
    return b"\x30" + bytes([len(seq)]) + seq


def signature_from_der(der: bytes) -> bytes:
    """Decode a DER ``SEQUENCE { r INTEGER, s INTEGER }`` into 64-byte ``r || s``."""
    try:
        if der[0] != 0x30 or der[1] != len(der) - 2:
            raise Sm2Error("not a DER SEQUENCE")
        out, pos = b"", 2
        for _ in range(2):
            if der[pos] != 0x02 or der[pos + 1] > _SIZE + 1:
                raise Sm2Error("not a DER INTEGER")
            length = der[pos + 1]
            value = int.from_bytes(der[pos + 2 : pos + 2 + length], "big")
            out += value.to_bytes(_SIZE, "big")
            pos += 2 + length
    except (IndexError, OverflowError) as exc:
        raise Sm2Error("SM2 DER signature is malformed") from exc
    if pos != len(der):
        raise Sm2Error("SM2 DER signature has trailing bytes")
    return out
