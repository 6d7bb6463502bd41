"""SM4-GCM encryption of sensitive columns, with a key id in every value so keys can rotate.

Stored format: ``<key_id>:<base64url, no padding, of iv (12) || ciphertext || tag (16)>``.
The associated data binds the key id and an optional ``context`` (e.g. ``"client.phone"``), so a
value copied into another column or relabelled with another key id fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .sm3 import sm3_hex
from .sm4 import KEY_SIZE, Sm4DecryptionError, sm4_gcm_decrypt, sm4_gcm_encrypt

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{38,}$")  # base64url of at least iv (12) + tag (16) bytes


class FieldDecryptionError(ValueError):
    """A stored value cannot be decrypted; ``code`` is stable, ``message`` is Chinese."""

    MESSAGES = {
        "field_malformed": "加密字段格式错误",
        "field_unknown_key": "加密字段使用的密钥不在密钥环中",
        "field_tampered": "加密字段已被篡改或上下文不符",
    }

    def __init__(self, code: str) -> None:
        self.code = code
        self.message = self.MESSAGES[code]
        super().__init__(f"{code}: {self.message}")


def _key_from_hex(text: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise ValueError("SM4 key must be hex") from exc
    if len(key) != KEY_SIZE:
        raise ValueError(f"SM4 key must be {KEY_SIZE * 2} hex digits")
    return key


def key_id_for(key: bytes) -> str:
    """A default key id: ``k`` + 8 hex digits of SM3(key), stable and safe to store."""
    return "k" + sm3_hex(b"orgcarbon-field-key-id\x00" + key)[:8]


@dataclass(frozen=True)
class KeyRing:
    """Field keys by id; new values use ``active_id``, old values decrypt with any listed key."""

    keys: Mapping[str, bytes] = field(repr=False)
    active_id: str

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            raise ValueError(f"active key id {self.active_id!r} is not in the key ring")
        for key_id, key in self.keys.items():
            if not _KEY_ID.match(key_id) or len(key) != KEY_SIZE:
                raise ValueError(f"bad key ring entry {key_id!r}")

    @classmethod
    def from_hex(cls, hex_key: str, key_id: str | None = None) -> KeyRing:
        """A ring of one key, e.g. the ``DATA_KEY`` setting (32 hex digits)."""
        key = _key_from_hex(hex_key)
        key_id = key_id or key_id_for(key)
        return cls({key_id: key}, key_id)

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """Parse key-file text: ``<key_id> = <32 hex>`` lines, optional ``active = <key_id>``
        (default: the last key listed), ``#`` comments."""
        keys: dict[str, bytes] = {}
        active: str | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            name, sep, value = (part.strip() for part in line.partition("="))
            if not sep:
                raise ValueError(f"key file line {number}: expected 'name = value'")
            if name == "active":
                active = value
            else:
                keys[name] = _key_from_hex(value)
        if not keys:
            raise ValueError("key file lists no keys")
        return cls(keys, active or list(keys)[-1])

    @classmethod
    def from_file(cls, path: str | Path) -> KeyRing:
        """Load a key file (keep it outside the database, readable by the service user only)."""
        return cls.parse(Path(path).read_text(encoding="utf-8"))

    def to_text(self) -> str:
        """Key-file text for :meth:`parse` (contains secrets)."""
        lines = [f"{key_id} = {key.hex()}" for key_id, key in self.keys.items()]
        return "\n".join([*lines, f"active = {self.active_id}", ""])

    def with_new_key(self, key: bytes, key_id: str | None = None) -> KeyRing:
        """A ring with ``key`` added and made active; old keys stay for decryption."""
        key_id = key_id or key_id_for(key)
        if key_id in self.keys and self.keys[key_id] != key:
            raise ValueError(f"key id {key_id!r} already names another key")
        return KeyRing({**self.keys, key_id: key}, key_id)


def _aad(key_id: str, context: str) -> bytes:
    return b"orgcarbon-field/1\x00" + key_id.encode() + b"\x00" + context.encode()


def encrypt_field(ring: KeyRing, plaintext: str, context: str = "") -> str:
    """Encrypt a column value with the active key; returns ``key_id:base64url``."""
    key_id = ring.active_id
    blob = sm4_gcm_encrypt(ring.keys[key_id], plaintext.encode(), _aad(key_id, context))
    return f"{key_id}:{base64.urlsafe_b64encode(blob).rstrip(b'=').decode()}"


def field_key_id(token: str) -> str:
    """The key id a stored value was encrypted with."""
    key_id, sep, _ = token.partition(":")
    if not sep or not _KEY_ID.match(key_id):
        raise FieldDecryptionError("field_malformed")
    return key_id


def decrypt_field(ring: KeyRing, token: str, context: str = "") -> str:
    """Decrypt a value from :func:`encrypt_field`; raises :class:`FieldDecryptionError`."""
    key_id = field_key_id(token)
    key = ring.keys.get(key_id)
    if key is None:
        raise FieldDecryptionError("field_unknown_key")
    payload = token.partition(":")[2]
    # urlsafe_b64decode silently skips foreign characters, so the alphabet is checked first.
    if not _PAYLOAD.match(payload):
        raise FieldDecryptionError("field_malformed")
    try:
        blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except (binascii.Error, ValueError) as exc:
        raise FieldDecryptionError("field_malformed") from exc
    try:
        return sm4_gcm_decrypt(key, blob, _aad(key_id, context)).decode()
    except (Sm4DecryptionError, UnicodeDecodeError) as exc:
        raise FieldDecryptionError("field_tampered") from exc


def needs_rotation(ring: KeyRing, token: str) -> bool:
    """True when the value is not encrypted with the ring's active key."""
    return field_key_id(token) != ring.active_id


def reencrypt_field(ring: KeyRing, token: str, context: str = "") -> str:
    """Re-encrypt a value under the active key (key rotation); values already current are kept."""
    if not needs_rotation(ring, token):
        return token
    return encrypt_field(ring, decrypt_field(ring, token, context), context)
