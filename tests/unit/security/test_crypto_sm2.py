"""SM2 wrapper: gmssl's key bug is worked around, both backends interoperate, bad input is refused."""

from __future__ import annotations

import pytest
from gmssl.sm2 import CryptSM2
from hypothesis import given, settings
from hypothesis import strategies as st

from orgcarbon.security.crypto import sm2


def _key_whose_x_starts_with(digit: str) -> sm2.Sm2KeyPair:
    """The first private key 1, 2, 3, … whose public x-coordinate's hex starts with ``digit``."""
    for d in range(1, 10_000):
        private = f"{d:064x}"
        public = sm2.public_key_from_private(private)
        if public[2] == digit:
            return sm2.Sm2KeyPair(private, public)
    raise AssertionError("no key found")


KEY_0 = _key_whose_x_starts_with("0")
KEY_4 = _key_whose_x_starts_with("4")


@pytest.mark.parametrize("pair", [KEY_0, KEY_4], ids=["x-starts-0", "x-starts-4"])
def test_plain_gmssl_corrupts_keys_starting_with_0_or_4(pair: sm2.Sm2KeyPair) -> None:
    """Documents the upstream bug the wrapper exists for (STACK-NOTES)."""
    naive = CryptSM2(private_key=pair.private_key, public_key=pair.public_key)
    assert naive.public_key != pair.public_key[2:]
    e = sm2.digest_to_sign(pair.public_key, b"msg")
    signature = sm2.sign(pair.private_key, b"msg", backend="native")
    try:
        verified = naive.verify(signature.hex(), e)
    except TypeError:  # a truncated key can also crash gmssl's point arithmetic
        verified = False
    assert not verified


@pytest.mark.parametrize("pair", [KEY_0, KEY_4], ids=["x-starts-0", "x-starts-4"])
@pytest.mark.parametrize("signer", ["gmssl", "native"])
@pytest.mark.parametrize("verifier", ["gmssl", "native"])
def test_signatures_verify_across_backends_for_0_and_4_keys(
    pair: sm2.Sm2KeyPair, signer: sm2.Backend, verifier: sm2.Backend
) -> None:
    assert sm2.gmssl_crypt(None, pair.public_key).public_key == pair.public_key[2:]
    signature = sm2.sign(pair.private_key, "排放报告".encode(), backend=signer)
    assert len(signature) == 64
    assert sm2.verify(pair.public_key, "排放报告".encode(), signature, backend=verifier)
    assert not sm2.verify(pair.public_key, "排放报告!".encode(), signature, backend=verifier)


@pytest.mark.parametrize("pair", [KEY_0, KEY_4], ids=["x-starts-0", "x-starts-4"])
def test_encryption_round_trips_across_backends_and_with_gmssl_own_format(
    pair: sm2.Sm2KeyPair,
) -> None:
    directions: list[tuple[sm2.Backend, sm2.Backend]] = [("gmssl", "native"), ("native", "gmssl")]
    for enc, dec in directions:
        ciphertext = sm2.encrypt(pair.public_key, b"session-key-16by", backend=enc)
        assert ciphertext[0] == 4 and len(ciphertext) == 1 + 64 + 32 + 16
        assert sm2.decrypt(pair.private_key, ciphertext, backend=dec) == b"session-key-16by"
    crypt = sm2.gmssl_crypt(pair.private_key, pair.public_key)
    # gmssl writes C1 without the 04 byte; both directions still interoperate.
    assert sm2.decrypt(pair.private_key, crypt.encrypt(b"from gmssl")) == b"from gmssl"
    assert crypt.decrypt(sm2.encrypt(pair.public_key, b"to gmssl")[1:]) == b"to gmssl"


def test_decrypt_with_wrong_key_or_tampered_data_raises() -> None:
    other = sm2.generate_keypair()
    ciphertext = sm2.encrypt(KEY_0.public_key, b"secret", backend="native")
    with pytest.raises(sm2.Sm2Error, match="C3"):
        sm2.decrypt(other.private_key, ciphertext, backend="native")
    tampered = ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])
    with pytest.raises(sm2.Sm2Error, match="C3"):
        sm2.decrypt(KEY_0.private_key, tampered, backend="native")
    off_curve = b"\x04" + bytes(63) + b"\x01" + ciphertext[65:]
    with pytest.raises(sm2.Sm2Error, match="not on the curve"):
        sm2.decrypt(KEY_0.private_key, off_curve)


def test_bad_keys_and_signatures_are_refused() -> None:
    with pytest.raises(sm2.Sm2Error):
        sm2.normalize_public_key("04" + "00" * 64)  # (0, 0) is not on the curve
    with pytest.raises(sm2.Sm2Error):
        sm2.public_key_from_private("00" * 32)
    with pytest.raises(sm2.Sm2Error):
        sm2.encrypt(KEY_4.public_key, b"")
    assert not sm2.verify(KEY_4.public_key, b"m", b"\x00" * 64)
    assert not sm2.verify(KEY_4.public_key, b"m", b"\xff" * 64)  # r, s >= n
    assert not sm2.verify("zz", b"m", b"\x01" * 64)
    assert sm2.normalize_public_key(KEY_4.public_key[2:].upper()) == KEY_4.public_key


def test_generated_keys_are_valid_and_distinct() -> None:
    a, b = sm2.generate_keypair(), sm2.generate_keypair()
    assert a != b and len(a.private_key) == 64 and len(a.public_key) == 130
    assert sm2.public_key_from_private(a.private_key) == a.public_key


def test_der_signature_round_trip() -> None:
    signature = sm2.sign(KEY_0.private_key, b"m", backend="native")
    der = sm2.signature_to_der(signature)
    assert der[0] == 0x30 and sm2.signature_from_der(der) == signature
    with pytest.raises(sm2.Sm2Error):
        sm2.signature_from_der(der + b"\x00")


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.binary(max_size=40))
def test_native_round_trips_for_any_message(message: bytes, user_id: bytes) -> None:
    ciphertext = sm2.encrypt(KEY_4.public_key, message, backend="native")
    assert sm2.decrypt(KEY_4.private_key, ciphertext, backend="native") == message
    sig = sm2.sign(KEY_4.private_key, message, user_id=user_id, backend="native")
    assert sm2.verify(KEY_4.public_key, message, sig, user_id=user_id, backend="native")
    assert not sm2.verify(KEY_4.public_key, message, sig, user_id=user_id + b"x", backend="native")
