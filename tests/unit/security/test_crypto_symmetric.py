"""SM4-CBC and SM4-GCM round trips and refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orgcarbon.security.crypto.sm4 import (
    Sm4DecryptionError,
    sm4_cbc_decrypt,
    sm4_cbc_encrypt,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)

KEY = bytes(range(16))


@given(st.binary(max_size=200), st.binary(max_size=50))
def test_gcm_round_trip_with_aad(plaintext: bytes, aad: bytes) -> None:
    sealed = sm4_gcm_encrypt(KEY, plaintext, aad)
    assert len(sealed) == 12 + len(plaintext) + 16
    assert sm4_gcm_decrypt(KEY, sealed, aad) == plaintext


@given(st.binary(max_size=200))
def test_cbc_round_trip_pads_to_blocks(plaintext: bytes) -> None:
    sealed = sm4_cbc_encrypt(KEY, plaintext)
    assert len(sealed) == 16 + (len(plaintext) // 16 + 1) * 16
    assert sm4_cbc_decrypt(KEY, sealed) == plaintext


def test_gcm_refuses_wrong_aad_key_and_flipped_bit() -> None:
    sealed = sm4_gcm_encrypt(KEY, b"reading", b"header")
    for key, data, aad in [
        (KEY, sealed, b"other"),
        (bytes(16), sealed, b"header"),
        (KEY, sealed[:-1] + bytes([sealed[-1] ^ 1]), b"header"),
        (KEY, sealed[:20], b"header"),
    ]:
        with pytest.raises(Sm4DecryptionError):
            sm4_gcm_decrypt(key, data, aad)


def test_gcm_fixed_iv_is_deterministic_and_fresh_iv_is_not() -> None:
    iv = bytes(12)
    assert sm4_gcm_encrypt(KEY, b"x", iv=iv) == sm4_gcm_encrypt(KEY, b"x", iv=iv)
    assert sm4_gcm_encrypt(KEY, b"x") != sm4_gcm_encrypt(KEY, b"x")


def test_bad_key_length_and_cbc_length_are_refused() -> None:
    with pytest.raises(ValueError):
        sm4_gcm_encrypt(b"short", b"x")
    with pytest.raises(Sm4DecryptionError):
        sm4_cbc_decrypt(KEY, bytes(17))
