"""The demo's quality rules: the shipped steel pack, published (called from the demo loader)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from orgcarbon.quality.pack_import import PackImport, import_pack, read_pack


def load_demo_rules(session: Session) -> PackImport:
    """Import the default steel pack (idempotent); the caller commits."""
    return import_pack(session, read_pack())
