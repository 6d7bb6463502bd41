"""Sensitive-column encryption with key ids and rotation, and masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orgcarbon.security.crypto import (
    FieldDecryptionError,
    KeyRing,
    decrypt_field,
    encrypt_field,
    mask,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_secret,
    needs_rotation,
    reencrypt_field,
)

OLD_HEX = "00112233445566778899aabbccddeeff"
NEW_HEX = "ffeeddccbbaa99887766554433221100"


@given(st.text(max_size=100))
def test_field_round_trip_for_any_text(text: str) -> None:
    ring = KeyRing.from_hex(OLD_HEX)
    token = encrypt_field(ring, text, "client.phone")
    assert token.startswith(ring.active_id + ":")
    assert decrypt_field(ring, token, "client.phone") == text


def test_key_id_defaults_to_a_stable_fingerprint() -> None:
    ring = KeyRing.from_hex(OLD_HEX)
    assert ring.active_id == KeyRing.from_hex(OLD_HEX.upper()).active_id
    assert ring.active_id.startswith("k") and len(ring.active_id) == 9
    assert OLD_HEX not in repr(ring)


def test_refusals_have_codes() -> None:
    ring = KeyRing.from_hex(OLD_HEX, "k1")
    token = encrypt_field(ring, "13812345678", "client.phone")
    cases = {
        "field_tampered": [
            (ring, token, "user.id_number"),
            (ring, token[:-2] + "AA", "client.phone"),
        ],
        "field_unknown_key": [(KeyRing.from_hex(NEW_HEX, "k2"), token, "client.phone")],
        "field_malformed": [(ring, "no-separator", ""), (ring, "k1:!!!", "")],
    }
    for code, calls in cases.items():
        for args in calls:
            with pytest.raises(FieldDecryptionError) as info:
                decrypt_field(*args)
            assert info.value.code == code and info.value.message
    relabelled = KeyRing({"k1": bytes.fromhex(OLD_HEX), "k9": bytes.fromhex(OLD_HEX)}, "k1")
    with pytest.raises(FieldDecryptionError):  # the key id is authenticated too
        decrypt_field(relabelled, "k9:" + token.partition(":")[2], "client.phone")


def test_rotation_reencrypts_old_values_and_keeps_current_ones(tmp_path: Path) -> None:
    old = KeyRing.from_hex(OLD_HEX, "k1")
    token = encrypt_field(old, "110101199003071234", "user.id_number")
    rotated = old.with_new_key(bytes.fromhex(NEW_HEX), "k2")
    assert needs_rotation(rotated, token)
    fresh = reencrypt_field(rotated, token, "user.id_number")
    assert fresh.startswith("k2:") and not needs_rotation(rotated, fresh)
    assert reencrypt_field(rotated, fresh, "user.id_number") == fresh
    only_new = KeyRing.from_hex(NEW_HEX, "k2")
    assert decrypt_field(only_new, fresh, "user.id_number") == "110101199003071234"
    path = tmp_path / "field.keys"
    path.write_text("# field keys\n" + rotated.to_text(), encoding="utf-8")
    assert KeyRing.from_file(path) == rotated


def test_key_file_parsing() -> None:
    ring = KeyRing.parse(f"a = {OLD_HEX}\nb = {NEW_HEX}  # newest\n")
    assert ring.active_id == "b" and set(ring.keys) == {"a", "b"}
    assert KeyRing.parse(f"a = {OLD_HEX}\nb = {NEW_HEX}\nactive = a\n").active_id == "a"
    for bad in ["", f"a {OLD_HEX}", "a = 0011", f"a = {OLD_HEX}\nactive = z", f"a b = {OLD_HEX}"]:
        with pytest.raises(ValueError):
            KeyRing.parse(bad)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+86 13812345678", "+86138****5678"),
        ("010-12345678", "010-****5678"),
        ("0571-8765432", "0571-***5432"),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_mask_other_kinds() -> None:
    assert mask_id_number("110101199003071234") == "110101********1234"
    assert mask_id_number("11010119900307123X", keep_head=1, keep_tail=1) == "1****************X"
    assert mask_secret("sk-0123456789abcdefXYZW") == "********XYZW"
    assert mask_secret("short") == "********"
    assert mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧***"
    assert mask_email("zhangsan@example.com") == "z*******@example.com"
    assert mask(None, "phone") is None and mask("", "phone") == ""
    assert mask("13812345678", "phone") == "138****5678"
