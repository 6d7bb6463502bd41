"""Incremental backups as a logical export: the rows the audit trail says changed, as JSON Lines.

What "incremental" means here (docs/backup.md says the same to operators):

* The audit trail (``audit_entry``) names every row inserted, updated or deleted through the
  application. An incremental holds, for each row named by an audit entry newer than the previous
  backup's watermark, its *current* values (``upsert``), or a ``delete`` if it no longer exists,
  plus the new audit entries themselves.
* Link tables without a model of their own (``ab_user_role`` ...) change through relationship
  collections, which the audit listener cannot see; they are small, so every incremental carries
  them whole (``replace``).
* Audit ids are taken from a sequence before the transaction commits, so an id below the
  watermark can still be in flight; such gaps are remembered in the manifest and looked at again
  next time.
* Changes made outside the application (hand-written SQL) are not in the audit trail and are
  therefore only in the next full backup.

Payload: a zip holding ``order.json`` and one ``<table>.jsonl`` per table.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import zipfile
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, and_, delete, func, insert, select, text
from sqlalchemy import types as sqltypes

AUDIT_TABLE = "audit_entry"
# Gaps further than this below the watermark are rolled-back ids, not transactions still running.
GAP_WINDOW = 10_000


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


def _row(table: Table, mapping: Any) -> dict[str, Any]:
    return {c.name: _encode(mapping[c.name]) for c in table.columns}


def mapped_tables() -> set[str]:
    """Names of the tables that have an ORM model (and so reach the audit trail)."""
    from flask_appbuilder import Model

    return {m.local_table.name for m in Model.registry.mappers}


def _parse_row_id(table: Table, row_id: str) -> dict[str, Any] | None:
    """The primary key of ``row_id`` as the audit listener wrote it, or None if ambiguous."""
    pk = list(table.primary_key.columns)
    parts = row_id.split(",")
    if len(parts) != len(pk):
        return None
    key: dict[str, Any] = {}
    for column, part in zip(pk, parts, strict=True):
        if isinstance(column.type, sqltypes.Integer):
            try:
                key[column.name] = int(part)
            except ValueError:
                return None
        else:
            key[column.name] = part
    return key


def _where(table: Table, key: dict[str, Any]) -> Any:
    return and_(*(table.c[name] == value for name, value in key.items()))


def _max_id(conn: Connection, audit: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(audit.c.id), 0))).scalar_one())


def audit_position(conn: Connection, metadata: MetaData) -> tuple[int, list[int]]:
    """The audit watermark of a full backup and the recent ids missing below it.

    On PostgreSQL an id below the watermark may belong to a transaction that commits after the
    snapshot; the next incremental looks at those ids again.
    """
    audit = metadata.tables[AUDIT_TABLE]
    watermark = _max_id(conn, audit)
    low = max(0, watermark - GAP_WINDOW)
    present = set(conn.scalars(select(audit.c.id).where(audit.c.id > low)))
    return watermark, [i for i in range(low + 1, watermark + 1) if i not in present]


def collect_changes(
    conn: Connection, metadata: MetaData, since: int, gaps: Iterable[int]
) -> tuple[bytes, int, list[int], dict[str, int]]:
    """Export what changed after audit id ``since`` (and in ``gaps``).

    Returns the payload, the new watermark, the ids still missing below it, and lines per table.
    """
    audit = metadata.tables[AUDIT_TABLE]
    watermark = max(since, _max_id(conn, audit))
    old_gaps = sorted(set(gaps))
    condition = audit.c.id > since
    if old_gaps:
        condition = condition | audit.c.id.in_(old_gaps)
    entries = conn.execute(select(audit).where(condition).order_by(audit.c.id)).mappings().all()
    seen = {int(e["id"]) for e in entries}
    missing = [i for i in old_gaps if i not in seen]
    missing += [i for i in range(since + 1, watermark + 1) if i not in seen]
    missing = sorted(i for i in set(missing) if i > watermark - GAP_WINDOW)

    lines: dict[str, list[dict[str, Any]]] = {
        AUDIT_TABLE: [{"op": "upsert", "row": _row(audit, e)} for e in entries]
    }
    touched: dict[str, set[str]] = {}
    for e in entries:
        if e["table_name"] in metadata.tables and e["row_id"] is not None:
            touched.setdefault(e["table_name"], set()).add(e["row_id"])
    mapped = mapped_tables()
    for table in metadata.sorted_tables:
        if table.name == AUDIT_TABLE:
            continue
        keys = [_parse_row_id(table, r) for r in sorted(touched.get(table.name, ()))]
        if table.name not in mapped or None in keys:
            rows = conn.execute(select(table)).mappings().all()
            lines[table.name] = [{"op": "replace"}] + [
                {"op": "upsert", "row": _row(table, r)} for r in rows
            ]
            continue
        out: list[dict[str, Any]] = []
        for key in keys:
            assert key is not None
            found = conn.execute(select(table).where(_where(table, key))).mappings().first()
            if found is None:
                out.append({"op": "delete", "key": key})
            else:
                out.append({"op": "upsert", "row": _row(table, found)})
        if out:
            lines[table.name] = out

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        order = [t.name for t in metadata.sorted_tables if t.name in lines]
        archive.writestr("order.json", json.dumps(order))
        for name in order:
            body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines[name])
            archive.writestr(f"{name}.jsonl", body)
    return buffer.getvalue(), watermark, missing, {k: len(v) for k, v in lines.items()}


def apply_changes(conn: Connection, metadata: MetaData, payload: bytes) -> None:
    """Apply one incremental payload inside the caller's transaction."""
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        order: list[str] = json.loads(archive.read("order.json"))
        lines = {
            name: [json.loads(x) for x in archive.read(f"{name}.jsonl").decode().splitlines() if x]
            for name in order
        }
    tables = [metadata.tables[name] for name in order]
    # Children are emptied before parents and filled after them, so foreign keys hold throughout.
    for table in reversed(tables):
        for line in lines[table.name]:
            if line["op"] == "replace":
                conn.execute(delete(table))
            elif line["op"] == "delete":
                conn.execute(delete(table).where(_where(table, line["key"])))
    for table in tables:
        for line in lines[table.name]:
            if line["op"] != "upsert":
                continue
            row = {c.name: _decode(c, line["row"].get(c.name)) for c in table.columns}
            key = {c.name: row[c.name] for c in table.primary_key.columns}
            # UPDATE, then INSERT if absent: a DELETE + INSERT would cascade to the child rows.
            values = {k: v for k, v in row.items() if k not in key}
            done = (
                conn.execute(table.update().where(_where(table, key)).values(values))
                if values
                else None
            )
            if done is None or done.rowcount == 0:
                exists = (
                    done is None
                    and conn.execute(
                        select(func.count()).select_from(table).where(_where(table, key))
                    ).scalar_one()
                )
                if not exists:
                    conn.execute(insert(table).values(row))
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
