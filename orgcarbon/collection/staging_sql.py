"""The staging writer's SQL: the duplicate look-up and the bulk insert of ``st_row``.

PostgreSQL gets one statement for each (a planner-proof key look-up and a binary ``COPY`` in the
caller's transaction); other databases get an ``IN`` list per 900 keys and one Core
``executemany``. The measured costs behind each choice are in docs/scaling-storage.md.
"""

from __future__ import annotations

import functools
import json
import operator
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from orgcarbon.collection.chunks import chunks_of
from orgcarbon.quality.models import StagingRow

__all__ = ["copy_columns", "copy_data", "existing_rows", "insert_rows", "read_array"]

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
    if column.foreign_keys and kind._isnull:  # a foreign key's type comes from its target column
        kind = next(iter(column.foreign_keys)).column.type
    for sql_type, name in ((BigInteger, "int8"), (Integer, "int4"), (Float, "float8"), (DateTime, "timestamptz"),
                           (JSON, "json"), (Boolean, "bool")):
        if isinstance(kind, sql_type):
            return name
    return "text"


# Binary COPY (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4): a signature,
# then per row a 16-bit field count and per field a 32-bit length (-1: NULL) and the value.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # no flags, no header extension
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_LENGTH = struct.Struct(">i")
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_FIXED = {"int4": struct.Struct(">ii"), "int8": struct.Struct(">iq"), "float8": struct.Struct(">id"),
          "timestamptz": struct.Struct(">iq"), "bool": struct.Struct(">i?")}


# Equal values whose encodings differ: -0.0 == 0.0; {"a": 1} == {"a": 1.0} (and dicts are unhashable).
_NOT_DEDUPLICATED = frozenset({"float8", "json"})


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _fields(kind: str, values: list[Any]) -> list[bytes]:
    """The binary COPY fields (length and value) of non-NULL ``values`` of one column.

    Every step is a ``map`` over a C function: a batch of 1,000 rows costs no Python loop here.
    """
    fixed = _FIXED.get(kind)
    if fixed is not None:
        if kind == "timestamptz":  # microseconds since 2000-01-01 UTC
            values = list(map(operator.floordiv, map(operator.sub, values, repeat(_PG_EPOCH)),
                              repeat(_MICROSECOND)))
        return list(map(fixed.pack, repeat(fixed.size - 4), values))
    if kind == "json":
        values = list(map(_dumps, values))
    data = list(map(str.encode, values))
    return list(map(operator.add, map(_LENGTH.pack, map(len, data)), data))


def _with_nulls(kind: str, values: list[Any]) -> list[bytes]:
    if None not in values:
        return _fields(kind, values)
    given = iter(_fields(kind, [v for v in values if v is not None]))
    return [_NULL if v is None else next(given) for v in values]


def _column(kind: str, values: list[Any]) -> list[bytes]:
    """The fields of one column, NULLs included.

    Most columns of a batch repeat a few values (source, batch, time received, names, units):
    those are encoded once each. Equal values have equal encodings (1 == 1.0, equal instants).
    """
    if kind not in _NOT_DEDUPLICATED:
        unique = list(set(values))
        if len(unique) * 4 <= len(values):
            encoded = dict(zip(unique, _with_nulls(kind, unique), strict=True))
            return list(map(encoded.__getitem__, values))
    return _with_nulls(kind, values)


def copy_data(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> tuple[list[str], bytes]:
    """(column names, binary ``COPY`` data) of ``rows`` (tuples in the order of ``columns``: name,
    type). Columns NULL in every row are left out: they are NULL all the same, and a reading of the
    API fills about half of the columns."""
    return copy_columns(columns, [list(c) for c in zip(*rows, strict=True)], len(rows))


def copy_columns(columns: Sequence[tuple[str, str]], values_by_column: Sequence[list[Any]],
                 count: int) -> tuple[list[str], bytes]:
    """``copy_data`` of rows given as columns (one list of ``count`` values per column)."""
    names: list[str] = []
    fields: list[list[bytes]] = []
    constant_names: list[str] = []
    constant = bytearray()
    for (name, kind), values in zip(columns, values_by_column, strict=True):
        if values.count(None) == count:
            continue
        if kind not in _NOT_DEDUPLICATED and values.count(values[0]) == count:  # the batch's own values
            constant_names.append(name)  # ... go first in each row, as one piece
            constant += _fields(kind, values[:1])[0]
            continue
        names.append(name)
        fields.append(_column(kind, values))
    header = struct.pack(">h", len(constant_names) + len(names)) + constant
    body = b"".join(chain.from_iterable(zip(repeat(header, count), *fields, strict=True)))
    return constant_names + names, b"".join((_SIGNATURE, body, _TRAILER))


@functools.cache
def _columns(names: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(name, _copy_type(TABLE.c[name])) for name in names]


def insert_rows(session: Session, names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert of ``rows`` (tuples of the columns ``names``): binary ``COPY`` on PostgreSQL
    (same connection and transaction) with the rows' column chunks (``collection/chunks``), else
    one Core ``executemany``."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(TABLE), [dict(zip(names, row, strict=True)) for row in rows])
        return
    count = len(rows)
    columns = [list(c) for c in zip(*rows, strict=True)]
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        # Ids are drawn under the lock an INSERT takes anyway, so that ``cleaning_limit``'s SHARE
        # lock still waits for every batch whose ids it could count; the setting tells the
        # insert trigger that these rows come with their chunks (migration 0012).
        cursor.execute(f"LOCK TABLE {TABLE.name} IN ROW EXCLUSIVE MODE")
        cursor.execute("SELECT set_config('orgcarbon.chunked', 'on', true), "
                       "array_send(array_agg(nextval('st_row_id_seq'))) FROM generate_series(1, %s)",
                       (count,), binary=True)
        ids = np.sort(read_array(cursor.fetchone()[1], "i8"))  # ascending as drawn; sorted, not trusted
        if len(ids) != count:
            raise ValueError(f"预留的暂存行号数量不符：{len(ids)} 个，应为 {count} 个")
        copied, data = copy_columns(_columns(("id", *names)), [ids.tolist(), *columns], count)
        statement = f"COPY {TABLE.name} ({', '.join(copied)}) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(statement) as copy:
            copy.write(data)
        found = chunks_of(names, columns, ids)
        if found:
            cursor.executemany("INSERT INTO st_chunk (organization_id, month, first_id, last_id, rows, data) "
                               "VALUES (%s, %s, %s, %s, %s, %b)", found)
        cursor.execute("SELECT set_config('orgcarbon.chunked', 'off', true)")


def read_array(data: bytes | None, kind: str) -> npt.NDArray[np.generic]:
    """A one-dimensional array without NULLs from ``array_send`` bytes (``kind``: i4, i8, f8)."""
    width = np.dtype(kind).itemsize
    if data is None:  # array_agg over no row
        return np.empty(0, dtype=kind)
    ndim, has_null, _ = struct.unpack_from(">iii", data)
    if ndim == 0:
        return np.empty(0, dtype=kind)
    if ndim != 1 or has_null:
        raise ValueError("数组格式不符：应为无空值的一维数组")
    count = struct.unpack_from(">i", data, 12)[0]
    if len(data) != 20 + count * (4 + width):
        raise ValueError(f"数组长度不符：{len(data)} 字节，{count} 个元素，每个 {width} 字节")
    records = np.frombuffer(data, dtype=[("length", ">i4"), ("value", ">" + kind)], count=count, offset=20)
    if (records["length"] != width).any():
        raise ValueError("数组元素长度不符")
    return records["value"].astype(kind)
