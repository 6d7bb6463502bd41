"""Data key rotation (spec 8.4.3): a new SM4 field key, every encrypted column re-encrypted.

The key ring lives in a key file (``DATA_KEY_FILE``: ``<key_id> = <32 hex>`` lines and
``active = <key_id>``) or, with a single key, in ``DATA_KEY``. ``rotate`` writes the ring with a
new active key to the key file *first* (so no value is ever encrypted under a key that is not
saved), then re-encrypts every encrypted value in one transaction. Old keys stay in the file:
values in older backups, and values of a half-finished rotation, remain readable by their key id.

Encrypted columns are found two ways: columns of type ``EncryptedText`` in the metadata, and the
columns below that modules encrypt by hand with ``encrypt_field`` (their contexts must match).
"""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, MetaData, Table, Text, select, type_coerce

from orgcarbon.security.crypto import KeyRing, encrypt_field
from orgcarbon.security.crypto.fields import field_key_id, reencrypt_field
from orgcarbon.security.encrypted import EncryptedText, is_token

# (table, column, context) of values encrypted by hand with ``encrypt_field``.
MANUAL_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("sec_user_security", "sm2_private_key", "sec_user_security.sm2_private_key"),
    ("cn_api_client", "hmac_secret", "api_client.secret"),
    ("cn_connector", "secret", "cn_connector.secret"),
)


@dataclass(frozen=True)
class EncryptedColumn:
    """One column holding encrypted values, and the context its values were encrypted with."""

    table: Table
    column: str
    context: str

    @property
    def label(self) -> str:
        return f"{self.table.name}.{self.column}"


def encrypted_columns(metadata: MetaData) -> list[EncryptedColumn]:
    """Every encrypted column present in ``metadata``."""
    found: list[EncryptedColumn] = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                found.append(EncryptedColumn(table, column.name, column.type.context))
    for table_name, column, context in MANUAL_COLUMNS:
        table = metadata.tables.get(table_name)
        if table is not None and column in table.columns:
            found.append(EncryptedColumn(table, column, context))
    return found


def _raw_values(conn: Connection, col: EncryptedColumn) -> Iterator[tuple[tuple[object, ...], str]]:
    pk = list(col.table.primary_key.columns)
    # type_coerce to Text: the stored text itself, not what EncryptedText would decrypt it to.
    raw = type_coerce(col.table.c[col.column], Text)
    for row in conn.execute(select(*pk, raw).where(col.table.c[col.column].is_not(None))):
        if row[-1]:
            yield tuple(row[:-1]), row[-1]


@dataclass
class KeyUsage:
    """How many values of each column are under each key id (``plain`` = not encrypted yet)."""

    by_column: dict[str, Counter[str]] = field(default_factory=dict)


def key_usage(conn: Connection, metadata: MetaData) -> KeyUsage:
    """Count stored values per column and key id."""
    usage = KeyUsage()
    for col in encrypted_columns(metadata):
        counts: Counter[str] = Counter()
        for _, value in _raw_values(conn, col):
            counts[field_key_id(value) if is_token(value) else "plain"] += 1
        usage.by_column[col.label] = counts
    return usage


def reencrypt_all(conn: Connection, metadata: MetaData, ring: KeyRing) -> dict[str, int]:
    """Re-encrypt every value not under the ring's active key (plain values are encrypted)."""
    changed: dict[str, int] = {}
    for col in encrypted_columns(metadata):
        pk = list(col.table.primary_key.columns)
        count = 0
        for key, value in list(_raw_values(conn, col)):
            new = reencrypt_field(ring, value, col.context) if is_token(value) else encrypt_field(ring, value, col.context)
            if new == value:
                continue
            where = [c == k for c, k in zip(pk, key, strict=True)]
            conn.execute(col.table.update().where(*where).values({col.column: type_coerce(new, Text)}))
            count += 1
        changed[col.label] = count
    return changed


def write_key_file(path: Path, ring: KeyRing) -> None:
    """Write the ring atomically with owner-only permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# orgcarbon field-encryption keys (SM4). Keep apart from the database and its backups.\n")
        handle.write(ring.to_text())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def new_ring(ring: KeyRing) -> KeyRing:
    """``ring`` with a fresh random key added and made active."""
    return ring.with_new_key(secrets.token_bytes(16))
