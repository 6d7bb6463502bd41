"""Incremental backups as a logical export: the rows of every id range that changed, as JSON Lines.

What "incremental" means here (docs/backup.md says the same to operators):

* Every backup's manifest keeps a keyed SM3 digest (HMAC-SM3 under a key derived from the backup
  key) of each table, per range of ``CHUNK`` ids. An incremental computes the digests again and
  carries every range whose digest changed — whatever changed it: the application, bulk inserts
  that bypass the ORM (staging rows, result lines, imported values), the stored logs (``sec_log``,
  interface logs), a key rotation that re-encrypted values, or hand-written SQL.
* Values are copied as stored (ciphertext stays ciphertext, under the key it was written with),
  so a restored database is identical to the source byte for byte, and is checked against the
  last manifest's digests after the restore.
* Tables without a single integer key (``mm_model_binding``) are digested whole and carried whole.

Payload: a zip holding ``order.json`` and one ``<table>.jsonl`` per table with changes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import zipfile
from collections.abc import Iterator
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Table,
    and_,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy import types as sqltypes
from sqlalchemy.types import TypeDecorator

from orgcarbon.security.crypto import hmac_sm3

CHUNK = 1000  # ids per digested range
WHOLE = "*"  # the digest key of a table digested as a whole

Digests = dict[str, dict[str, str]]  # table → range number (or WHOLE) → digest


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _decode(column: Column[Any], value: Any) -> Any:
    # Decoded by the column's type, not by tags in the JSON, so JSON columns pass unchanged.
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, sqltypes.DateTime):
        return dt.datetime.fromisoformat(value)
    if isinstance(kind, sqltypes.Date):
        return dt.date.fromisoformat(value)
    if isinstance(kind, sqltypes.Time):
        return dt.time.fromisoformat(value)
    if isinstance(kind, sqltypes.Numeric) and not isinstance(kind, sqltypes.Float):
        return decimal.Decimal(value)
    if isinstance(kind, sqltypes.LargeBinary):
        return bytes.fromhex(value)
    return value


@cache
def raw_table(table: Table) -> Table:
    """``table`` with its decorated types replaced by what the database stores.

    Read and written through this copy, an ``EncryptedText`` value is the stored ciphertext: it is
    neither decrypted on the way out nor encrypted a second time on the way in.
    """
    columns = [
        Column(c.name, c.type.impl_instance if isinstance(c.type, TypeDecorator) else c.type,
               primary_key=c.primary_key)
        for c in table.columns
    ]
    return Table(table.name, MetaData(), *columns)


def _int_key(table: Table) -> Column[Any] | None:
    pk = list(table.primary_key.columns)
    return pk[0] if len(pk) == 1 and isinstance(pk[0].type, sqltypes.Integer) else None


def _row(table: Table, mapping: Any) -> dict[str, Any]:
    return {c.name: _encode(mapping[c.name]) for c in table.columns}


def _line(row: dict[str, Any]) -> bytes:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode() + b"\n"


def present_tables(conn: Connection, metadata: MetaData) -> list[Table]:
    """The tables of ``metadata`` that exist in the database, parents first."""
    names = set(inspect(conn).get_table_names())
    return [t for t in metadata.sorted_tables if t.name in names]


def _ranges(conn: Connection, table: Table) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(range key, rows) of a table in key order; a table without an integer key is one range."""
    raw = raw_table(table)
    key = _int_key(table)
    if key is None:
        rows = [_row(raw, r) for r in conn.execute(select(raw)).mappings()]
        if rows:
            yield WHOLE, sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
        return
    current: int | None = None
    chunk: list[dict[str, Any]] = []
    result = conn.execution_options(stream_results=True).execute(select(raw).order_by(raw.c[key.name]))
    for mapping in result.mappings():
        number = int(mapping[key.name]) // CHUNK
        if number != current and chunk:
            yield str(current), chunk
            chunk = []
        current = number
        chunk.append(_row(raw, mapping))
    if chunk:
        yield str(current), chunk


def table_digests(conn: Connection, metadata: MetaData, key: bytes) -> Digests:
    """The keyed digest of every id range of every table (what a manifest keeps)."""
    return {
        table.name: {number: hmac_sm3(key, b"".join(map(_line, rows)))[:16].hex()
                     for number, rows in _ranges(conn, table)}
        for table in present_tables(conn, metadata)
    }


def _changed_lines(conn: Connection, table: Table, numbers: set[str]) -> list[dict[str, Any]]:
    if WHOLE in numbers:
        rows = dict(_ranges(conn, table)).get(WHOLE, [])
        return [{"op": "replace"}] + [{"op": "upsert", "row": r} for r in rows]
    raw, key = raw_table(table), _int_key(table)
    assert key is not None
    lines: list[dict[str, Any]] = []
    for number in sorted(numbers, key=int):
        low, high = int(number) * CHUNK, int(number) * CHUNK + CHUNK - 1
        column = raw.c[key.name]
        rows = [_row(raw, r) for r in conn.execute(
            select(raw).where(column.between(low, high)).order_by(column)).mappings()]
        lines.append({"op": "range", "low": low, "high": high, "keep": [r[key.name] for r in rows]})
        lines += [{"op": "upsert", "row": r} for r in rows]
    return lines


def collect_changes(
    conn: Connection, metadata: MetaData, previous: Digests, key: bytes
) -> tuple[bytes, Digests, dict[str, int]]:
    """Export every range whose digest differs from ``previous``.

    Returns the payload, the digests now (for the new manifest), and lines per table.
    """
    now = table_digests(conn, metadata, key)
    lines: dict[str, list[dict[str, Any]]] = {}
    for table in present_tables(conn, metadata):
        before, after = previous.get(table.name, {}), now.get(table.name, {})
        numbers = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
        if numbers:
            lines[table.name] = _changed_lines(conn, table, numbers)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        order = [t.name for t in metadata.sorted_tables if t.name in lines]
        archive.writestr("order.json", json.dumps(order))
        for name in order:
            archive.writestr(f"{name}.jsonl", b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n"
                                                      for x in lines[name]))
    return buffer.getvalue(), now, {k: len(v) for k, v in lines.items()}


def _where(table: Table, key: dict[str, Any]) -> Any:
    return and_(*(table.c[name] == value for name, value in key.items()))


def _upsert(conn: Connection, table: Table, row: dict[str, Any]) -> None:
    key = {c.name: row[c.name] for c in table.primary_key.columns}
    values = {k: v for k, v in row.items() if k not in key}
    # UPDATE, then INSERT if absent: a DELETE + INSERT would cascade to the child rows.
    if values and conn.execute(table.update().where(_where(table, key)).values(values)).rowcount:
        return
    if not values and conn.execute(select(func.count()).select_from(table).where(_where(table, key))).scalar_one():
        return
    conn.execute(insert(table).values(row))


def apply_changes(conn: Connection, metadata: MetaData, payload: bytes) -> None:
    """Apply one incremental payload inside the caller's transaction."""
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        order: list[str] = json.loads(archive.read("order.json"))
        lines = {
            name: [json.loads(x) for x in archive.read(f"{name}.jsonl").decode().splitlines() if x]
            for name in order
        }
    tables = [raw_table(metadata.tables[name]) for name in order]
    # Children are emptied before parents and filled after them, so foreign keys hold throughout.
    for table in reversed(tables):
        for line in lines[table.name]:
            if line["op"] == "replace":
                conn.execute(delete(table))
            elif line["op"] == "range":
                column = next(iter(table.primary_key.columns))
                gone = column.between(line["low"], line["high"]) & column.not_in(line["keep"])
                conn.execute(delete(table).where(gone))
    for table in tables:
        for line in lines[table.name]:
            if line["op"] == "upsert":
                _upsert(conn, table, {c.name: _decode(c, line["row"].get(c.name)) for c in table.columns})
    if conn.dialect.name == "postgresql":
        _advance_sequences(conn, tables)


def _advance_sequences(conn: Connection, tables: list[Table]) -> None:
    # Rows came in with explicit ids; without this the next insert would reuse one of them.
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, sqltypes.Integer):
            continue
        conn.execute(
            text(
                f'SELECT setval(pg_get_serial_sequence(:t, :c), COALESCE(MAX("{pk[0].name}"), 1), '
                f'MAX("{pk[0].name}") IS NOT NULL) FROM "{table.name}"'
            ),
            {"t": f'"{table.name}"', "c": pk[0].name},
        )
