"""Sensitive columns encrypted at rest with SM4-GCM (spec 8.4.2, 8.4.3).

``EncryptedText(context, mask=...)`` is a SQLAlchemy column type: Python code reads and writes the
plain value, the database only ever holds ``<key_id>:<base64url>`` (``crypto/fields.py``). The
keys come from the data key ring — ``DATA_KEY_FILE`` or ``DATA_KEY``, i.e. a key file or the
environment, never the database. Every value names its key id, so after ``orgcarbon keys rotate``
old values stay readable while they are re-encrypted.

Encrypted columns cannot be searched or compared in SQL (every encryption uses a fresh IV); they
are for contact details, private keys and secrets, which nobody searches by.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from orgcarbon.security.crypto import KeyRing, decrypt_field, encrypt_field

# A stored value as ``encrypt_field`` writes it; anything else is a plain value from before the
# column was encrypted, which reads as it is until ``orgcarbon keys rotate`` encrypts it.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]{38,}$")

# The ring of the most recently built app: used where no app context exists (scripts that read
# rows through a bare engine). Inside an app context the app's own ring is used.
_fallback_ring: KeyRing | None = None


def data_key_ring(app: Any = None) -> KeyRing:
    """The field-encryption key ring of ``app`` (default: the current app), cached per app."""
    if app is None:
        from flask import current_app, has_app_context

        if not has_app_context():
            if _fallback_ring is None:
                raise RuntimeError("no data key ring: build the app first (create_app)")
            return _fallback_ring
        app = current_app._get_current_object()
    ring = app.extensions.get("orgcarbon_data_ring")
    if ring is None:
        settings = app.config["ORGCARBON"]
        path = settings.get("DATA_KEY_FILE")
        ring = KeyRing.from_file(path) if path else KeyRing.from_hex(settings["DATA_KEY"])
        install_ring(app, ring)
    return ring


def install_ring(app: Any, ring: KeyRing) -> None:
    """Make ``ring`` the key ring of ``app`` (at start-up, and after a rotation)."""
    global _fallback_ring
    app.extensions["orgcarbon_data_ring"] = ring
    # Modules that build their own ring from DATA_KEY encrypt with the active key too.
    app.config["ORGCARBON"]["DATA_KEY"] = ring.keys[ring.active_id].hex()
    _fallback_ring = ring


def is_token(value: str) -> bool:
    """True when ``value`` looks like an encrypted field value."""
    return bool(TOKEN.match(value))


class EncryptedText(TypeDecorator[str]):
    """A text column stored SM4-GCM encrypted; ``mask`` names the masking kind for display."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str, mask: str | None = None) -> None:
        super().__init__()
        self.context = context
        self.mask = mask

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None or value == "":
            return value
        return encrypt_field(data_key_ring(), str(value), self.context)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None or value == "" or not is_token(value):
            return value
        return decrypt_field(data_key_ring(), value, self.context)
