"""SM4 (GB/T 32907) in CBC with PKCS#7 padding and in GCM with associated data, via OpenSSL.

Byte layouts (all raw bytes; callers choose hex or base64 for transport):

* CBC: ``iv (16) || ciphertext`` — a fresh random IV per message.
* GCM: ``iv (12) || ciphertext || tag (16)`` — a fresh random 96-bit IV per message.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_SIZE = 16
BLOCK_SIZE = 16
CBC_IV_SIZE = 16
GCM_IV_SIZE = 12
GCM_TAG_SIZE = 16


class Sm4DecryptionError(ValueError):
    """Ciphertext, tag, associated data or key do not match (GCM), or padding is invalid (CBC)."""


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError(f"SM4 key must be {KEY_SIZE} bytes, got {len(key)}")


def sm4_ecb_encrypt_block(key: bytes, block: bytes) -> bytes:
    """Encrypt exactly one 16-byte block (for the GB/T 32907 test vectors only; never for data)."""
    _check_key(key)
    if len(block) != BLOCK_SIZE:
        raise ValueError("SM4 block must be 16 bytes")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def sm4_cbc_encrypt(key: bytes, plaintext: bytes, iv: bytes | None = None) -> bytes:
    """Encrypt with SM4-CBC and PKCS#7; returns ``iv || ciphertext``."""
    _check_key(key)
    iv = os.urandom(CBC_IV_SIZE) if iv is None else iv
    if len(iv) != CBC_IV_SIZE:
        raise ValueError("SM4-CBC IV must be 16 bytes")
    padder = padding.PKCS7(BLOCK_SIZE * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return iv + enc.update(padded) + enc.finalize()


def sm4_cbc_decrypt(key: bytes, data: bytes) -> bytes:
    """Decrypt ``iv || ciphertext`` from :func:`sm4_cbc_encrypt`.

    CBC has no integrity: use it only where the bytes are authenticated some other way
    (an HMAC-SM3 over them, or a checksummed backup); prefer GCM.
    """
    _check_key(key)
    if len(data) < CBC_IV_SIZE + BLOCK_SIZE or (len(data) - CBC_IV_SIZE) % BLOCK_SIZE:
        raise Sm4DecryptionError("SM4-CBC data has a wrong length")
    dec = Cipher(algorithms.SM4(key), modes.CBC(data[:CBC_IV_SIZE])).decryptor()
    padded = dec.update(data[CBC_IV_SIZE:]) + dec.finalize()
    unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise Sm4DecryptionError("SM4-CBC padding is invalid") from exc


def sm4_gcm_encrypt(
    key: bytes, plaintext: bytes, aad: bytes = b"", iv: bytes | None = None
) -> bytes:
    """Encrypt with SM4-GCM; returns ``iv (12) || ciphertext || tag (16)``.

    ``iv`` is for test vectors only: reusing an IV under one key breaks GCM completely.
    """
    _check_key(key)
    iv = os.urandom(GCM_IV_SIZE) if iv is None else iv
    if len(iv) != GCM_IV_SIZE:
        raise ValueError("SM4-GCM IV must be 12 bytes")
    enc = Cipher(algorithms.SM4(key), modes.GCM(iv)).encryptor()
    if aad:
        enc.authenticate_additional_data(aad)
    body = enc.update(plaintext) + enc.finalize()
    return iv + body + enc.tag


def sm4_gcm_decrypt(key: bytes, data: bytes, aad: bytes = b"") -> bytes:
    """Decrypt and authenticate ``iv || ciphertext || tag``; raises :class:`Sm4DecryptionError`."""
    _check_key(key)
    if len(data) < GCM_IV_SIZE + GCM_TAG_SIZE:
        raise Sm4DecryptionError("SM4-GCM data is too short")
    iv, body, tag = data[:GCM_IV_SIZE], data[GCM_IV_SIZE:-GCM_TAG_SIZE], data[-GCM_TAG_SIZE:]
    dec = Cipher(algorithms.SM4(key), modes.GCM(iv, tag)).decryptor()
    if aad:
        dec.authenticate_additional_data(aad)
    try:
        return dec.update(body) + dec.finalize()
    except InvalidTag as exc:
        raise Sm4DecryptionError("SM4-GCM authentication failed") from exc
