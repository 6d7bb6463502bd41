"""PostgreSQL: one plant × month of staged readings from the column chunks the writer stored.

The staging writer stores each batch's columns per plant × month in ``st_chunk``
(``collection/chunks.py``). Reading a partition is then one statement returning some twenty
``bytea`` values, which numpy reads as they are — no row of ``st_row`` is visited. The same
statement reads the two marks that say whether the chunks may be trusted for this window: the
partition's ``unchunked_through_id`` (an UPDATE or DELETE touched a row up to that id) and
``st_chunk_state`` (an INSERT from outside the writer reached that id). If either lies above the
window's start, ``read_chunks`` returns ``None`` and the caller reads the rows
(``scale/pg_arrays``). One statement is one snapshot: the marks and the chunks agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy.orm import Session

from orgcarbon.collection.chunks import NUMBERS, Chunk, decode
from orgcarbon.scale.pg_arrays import NAT, SPARSE_NUMBERS, PartitionArrays

_SQL = """
SELECT m.partition_mark, m.insert_mark, c.data
FROM (SELECT coalesce((SELECT unchunked_through_id FROM st_partition
                       WHERE organization_id = %(org)s AND month = %(month)s), 0) AS partition_mark,
             coalesce((SELECT max(unchunked_through_id) FROM st_chunk_state), 0) AS insert_mark) AS m
LEFT JOIN LATERAL (SELECT data, first_id FROM st_chunk
                   WHERE organization_id = %(org)s AND month = %(month)s
                     AND last_id > %(after)s AND first_id <= %(limit)s) AS c ON true
ORDER BY c.first_id
"""
# st_row name → frame name of a lab column.
FRAME_NUMBER = {column: frame for frame, column in SPARSE_NUMBERS.items()}


def read_chunks(session: Session, org_id: int, month: str, after: int, limit: int,
                text_columns: tuple[str, ...]) -> PartitionArrays | None:
    """The partition's stored-``new`` rows with ids in (after, limit] from its chunks, or ``None``
    when a mark says the chunks may not match the rows of this window."""
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_SQL, {"org": int(org_id), "month": month, "after": int(after), "limit": int(limit)},
                       binary=True)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows or max(int(rows[0][0]), int(rows[0][1])) > after:
        return None
    chunks = [decode(bytes(data)) for _, _, data in rows if data is not None]
    return merge(chunks, after, limit, text_columns)


def _text(parts: list[tuple[npt.NDArray[Any], list[str]]]) -> tuple[npt.NDArray[np.intp], list[str]]:
    """One text column from the chunks' codes and labels (labels merged: categories are unique)."""
    if not parts:
        return np.zeros(0, dtype=np.intp), []
    first = parts[0][1]
    if all(labels == first for _, labels in parts) and len(set(first)) == len(first):
        return np.concatenate([c for c, _ in parts]).astype(np.intp), first  # the batches' tags in one order
    offsets = np.cumsum([0] + [len(labels) for _, labels in parts[:-1]])
    codes = np.concatenate([c.astype(np.intp) + o for (c, _), o in zip(parts, offsets, strict=True)])
    merged, uniques = pd.factorize(np.asarray([x for _, labels in parts for x in labels], dtype=object))
    return merged[codes].astype(np.intp), [str(u) for u in uniques]


def merge(chunks: list[Chunk], after: int, limit: int, text_columns: tuple[str, ...]) -> PartitionArrays:
    """The rows of ``chunks`` with ids in (after, limit], as ``pg_arrays`` would read them."""
    masks = []
    for chunk in chunks:
        low, high = (int(chunk.ids[0]), int(chunk.ids[-1])) if len(chunk.ids) else (0, 0)
        inside = after < min(low, high) and max(low, high) <= limit  # ids ascend within a chunk
        masks.append(None if inside else (chunk.ids > after) & (chunk.ids <= limit))

    def join(values: list[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
        parts = [v if mask is None else v[mask] for v, mask in zip(values, masks, strict=True)]
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)

    def column(name: str) -> tuple[npt.NDArray[np.intp], list[str]]:
        return _text([(c.text[name][0] if m is None else c.text[name][0][m], c.text[name][1])
                      for c, m in zip(chunks, masks, strict=True)])

    ids = join([c.ids for c in chunks], np.int64)
    micros = join([c.micros for c in chunks], np.int64)
    stamps = np.where(micros == NAT, NAT, micros * 1000)
    arrays = PartitionArrays(ids, join([c.pairs for c in chunks], np.int64), stamps,
                             join([c.quantity for c in chunks], np.float64), {},
                             {name: column(name) for name in text_columns}, None)
    # As pg_arrays: lab columns and the own category exist only where some row has one of them.
    if any(c.numbers for c in chunks) or any(c.text["category"][1] != [""] for c in chunks):
        numbers = {name: join([c.numbers.get(name, np.full(len(c.ids), np.nan)) for c in chunks], np.float64)
                   for name in NUMBERS}
        codes, labels = column("category")
        has = np.asarray(labels, dtype=object)[codes] != "" if len(ids) else np.zeros(0, dtype=bool)
        if has.any() or any((~np.isnan(v)).any() for v in numbers.values()):
            arrays.numbers = {FRAME_NUMBER[name]: values for name, values in numbers.items()}
            arrays.own_category = (has.astype(bool), codes, labels)
    return arrays
