"""The staging writer's SQL: the duplicate look-up and the bulk insert of ``st_row``.

PostgreSQL gets one statement for each (a planner-proof key look-up and a binary ``COPY`` in the
caller's transaction); other databases get an ``IN`` list per 900 keys and one Core
``executemany``. The measured costs behind each choice are in docs/scaling-storage.md.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from orgcarbon.quality.models import StagingRow

__all__ = ["existing_rows", "insert_rows"]

TABLE = StagingRow.__table__
SEPARATOR = "\x1f"  # ASCII unit separator: joins the keys of the PostgreSQL look-up
CHUNK = 900  # keys per IN (...) look-up; below every database's parameter limit


def existing_rows(session: Session, source: str, keys: Sequence[str],
                  compared: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The staged rows of ``source`` with one of ``keys``: id, status and the compared values."""
    if not keys:
        return {}
    names = ["record_key", "id", "status", *compared]
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # One index probe per key, whatever the statistics say: the keys come as one array, and
        # the fence (OFFSET 0) keeps the planner from turning the probes into a scan of every row
        # of the source (what it chose for ``record_key = ANY(...)`` while st_row had no statistics:
        # 0.6 s per batch at 200,000 rows, growing with the table). Never prepared, so no generic
        # plan from the table's first minutes is kept.
        # The keys travel as one text split by the server (a text[] parameter costs the client a
        # conversion per element); a key holding the separator itself falls back to the array.
        joined = SEPARATOR.join(keys)
        if joined.count(SEPARATOR) == len(keys) - 1:
            key_list, parameter = "string_to_array(%s, E'\\x1f')", joined
        else:
            key_list, parameter = "%s::text[]", list(keys)  # type: ignore[assignment]
        sql = (f"SELECT {', '.join(f's.{n}' for n in names)} FROM unnest({key_list}) AS k(key) "
               f"CROSS JOIN LATERAL (SELECT {', '.join(names)} FROM {TABLE.name} "
               "WHERE source = %s AND record_key = k.key OFFSET 0) AS s")
        raw = connection.connection.dbapi_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(sql, (parameter, source), prepare=False)
            return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    found: dict[str, dict[str, Any]] = {}
    columns = [TABLE.c[n] for n in names]
    for i in range(0, len(keys), CHUNK):
        query = select(*columns).where(TABLE.c.source == source, TABLE.c.record_key.in_(keys[i : i + CHUNK]))
        for row in connection.execute(query).mappings():
            found[row["record_key"]] = dict(row)
    return found


def _copy_type(column: Any) -> str:
    """The PostgreSQL type name of a column for a binary ``COPY``."""
    from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer

    kind = column.type
    for sql_type, name in ((BigInteger, "int8"), (Integer, "int4"), (Float, "float8"), (DateTime, "timestamptz"),
                           (JSON, "json"), (Boolean, "bool")):
        if isinstance(kind, sql_type):
            return name
    return "text"


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk insert: binary ``COPY`` on PostgreSQL (same connection and transaction), else one
    Core ``executemany``."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(TABLE), rows)
        return
    import functools
    import json

    from psycopg.types.json import Json

    dumps = functools.partial(json.dumps, ensure_ascii=False, default=str)
    # Columns that are None in every row are left out: they are NULL all the same, and a reading
    # of the API fills about half of the columns.
    first = rows[0]
    columns = [c for c in TABLE.columns if c.name != "id" and (
        first[c.name] is not None or any(row[c.name] is not None for row in rows))]
    names = [c.name for c in columns]
    values_of = operator.itemgetter(*names)  # one tuple per row, in C
    json_at = names.index("raw") if "raw" in names else -1
    raw = connection.connection.dbapi_connection
    statement = f"COPY {TABLE.name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        copy.set_types([_copy_type(c) for c in columns])
        write = copy.write_row
        if json_at < 0:
            for row in rows:
                write(values_of(row))
            return
        for row in rows:
            values = list(values_of(row))
            if values[json_at] is not None:
                values[json_at] = Json(values[json_at], dumps)
            write(values)
