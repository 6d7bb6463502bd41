"""The staging writer's hand-built binary ``COPY`` data is byte for byte what psycopg would send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from psycopg import postgres
from psycopg._copy_base import _binary_signature, _binary_trailer, format_row_binary
from psycopg.adapt import Transformer
from psycopg.types.json import Json

from orgcarbon.collection.staging_sql import copy_data

COLUMNS = [("name", "text"), ("number", "int4"), ("moment", "timestamptz"), ("value", "float8"),
           ("raw", "json"), ("big", "int8"), ("flag", "bool"), ("empty", "text")]


def _psycopg(rows: list[tuple[Any, ...]], names: list[str]) -> bytes:
    """What psycopg's own binary formatter (``Copy.write_row``) produces for the columns ``names``."""
    at = [[name for name, _ in COLUMNS].index(name) for name in names]
    rows = [tuple(row[i] for i in at) for row in rows]
    kinds = [COLUMNS[i][1] for i in at]
    transformer = Transformer()
    transformer.set_dumper_types([postgres.types[kind].oid for kind in kinds], 1)
    out = bytearray()
    dumps = lambda value: json.dumps(value, ensure_ascii=False, default=str)  # noqa: E731
    for row in rows:
        format_row_binary([Json(v, dumps) if k == "json" and v is not None else v for v, k in zip(row, kinds,
                                                                                                  strict=True)],
                          transformer, out)
    return _binary_signature + bytes(out) + _binary_trailer


def _rows(count: int) -> list[tuple[Any, ...]]:
    east = timezone(timedelta(hours=8))
    rows = []
    for i in range(count):
        rows.append((
            ["东区\t1#", "back\\slash\nline", "t"][i % 3] if i % 7 else None,
            i % 4 if i % 5 else None,
            datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) + timedelta(seconds=i * 3601)
            if i % 2 else datetime(2025, 3, 1, 8, tzinfo=east),
            [0.0, -0.0, 1e300, 123.456, -5][i % 5],
            {"k": "值", "n": i} if i % 3 == 0 else None,
            2**40,
            i % 2 == 0,
            None,
        ))
    return rows


def test_copy_data_matches_psycopg_with_repeats_and_nulls() -> None:
    """Repeated values (encoded once), NULLs, -0.0, tabs, newlines and backslashes, non-UTC times."""
    rows = _rows(40)
    names, data = copy_data(COLUMNS, rows)
    # Values the same in every row go first; the column NULL in every row is left out.
    assert names == ["big", "name", "number", "moment", "value", "raw", "flag"]
    assert data == _psycopg(rows, names)


def test_copy_data_of_distinct_values() -> None:
    """Columns without repeats take the direct path; a constant column goes first; same bytes."""
    rows = [(f"key-{i}", i, datetime(2025, 1, 1, tzinfo=UTC) + timedelta(microseconds=i), i / 7, {"i": i}, -i,
             False, f"x{i}") for i in range(10)]
    names, data = copy_data(COLUMNS, rows)
    assert names == ["flag", "name", "number", "moment", "value", "raw", "big", "empty"]
    assert data == _psycopg(rows, names)


def test_copy_data_layout() -> None:
    """Signature, a field count per row, -1 length for NULL, the trailer."""
    names, data = copy_data([("a", "int4"), ("b", "text")], [(7, None), (None, "é")])
    assert names == ["a", "b"]
    assert data == (b"PGCOPY\n\xff\r\n\x00" + bytes(8)
                    + b"\x00\x02" + b"\x00\x00\x00\x04\x00\x00\x00\x07" + b"\xff\xff\xff\xff"
                    + b"\x00\x02" + b"\xff\xff\xff\xff" + b"\x00\x00\x00\x02\xc3\xa9"
                    + b"\xff\xff")


def test_copy_data_keeps_encodings_of_equal_values() -> None:
    """-0.0 == 0.0 and {"a": 1} == {"a": 1.0}, but each row keeps its own encoding."""
    rows = [(0.0 if i else -0.0, {"a": 1} if i % 2 else {"a": 1.0}) for i in range(8)]
    columns = [("value", "float8"), ("raw", "json")]
    _, data = copy_data(columns, rows)
    assert data.count(b"\x00\x00\x00\x08\x80" + bytes(7)) == 1  # one -0.0
    assert data.count(b'{"a": 1.0}') == 4 and data.count(b'{"a": 1}') == 4
