"""Column chunks of staged readings (PostgreSQL): the columns bulk cleaning reads, written at ingest.

The staging writer already holds each batch's values as columns; on PostgreSQL it also stores them,
per plant × month of the batch, as one ``st_chunk`` row (``bytea``, uncompressed). Bulk cleaning
then reads a partition as some twenty chunks instead of having the server form 186,000 rows into
columns (docs/scaling-storage.md, "Column chunks"). A chunk is written in the same transaction as
its rows, so it exists exactly when they do; it holds the rows stored ``new`` with the values they
were inserted with.

Whether the chunks still tell the truth is kept by the database itself (migration 0012):

- any ``UPDATE`` or ``DELETE`` of ``st_row`` raises ``st_partition.unchunked_through_id`` of every
  partition it touched (old and new values) to the highest id it touched;
- any ``INSERT`` that does not come from this writer (it sets ``orgcarbon.chunked`` for its COPY
  only) raises ``st_chunk_state.unchunked_through_id`` to ``max(id)``.

A cleaning whose window (ids above its cleaned mark) reaches either mark reads the rows instead
(``scale/pg_arrays``); chunks at or below a cleaned mark are deleted with the mark.

Layout of ``data``: ``OCC1``, the header length (uint32, little-endian) and the JSON header
(row count, the labels of each text column, the width of its codes, the lab columns present), then
the arrays, little-endian: ids ``int32``, ``subprocess_id << 32 | material_id`` ``int64``,
timestamps in µs since 1970 UTC ``int64`` (``NAT`` where missing), quantity ``float64`` (NaN
where missing), the codes of each text column, then each lab column present ``float64``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

MAGIC = b"OCC1"
_HEADER = struct.Struct("<4sI")
NAT = np.iinfo(np.int64).min
# Text columns of a chunk: name → the st_row column(s) it comes from ("note" as the frame reads it).
TEXT = ("unit", "source", "tags", "batch", "note", "category")
# Lab columns, st_row names.
NUMBERS = ("ncv", "carbon_content", "oxidation_factor", "purity", "ef")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True)
class Chunk:
    """One decoded chunk: read-only views into its bytes (ids int32, codes of the stored width)."""

    ids: npt.NDArray[np.integer[Any]]
    pairs: npt.NDArray[np.int64]
    micros: npt.NDArray[np.int64]
    quantity: npt.NDArray[np.float64]
    text: dict[str, tuple[npt.NDArray[np.integer[Any]], list[str]]]
    numbers: dict[str, npt.NDArray[np.float64]]


def _width(count: int) -> str:
    return "u1" if count <= 0xFF else "u2" if count <= 0xFFFF else "i4"


def _factorize(values: Sequence[Any]) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Codes and labels of a text column; ``None`` reads as ""."""
    if values.count(values[0]) == len(values):  # the batch's own values: source, batch, one unit …
        return np.zeros(len(values), dtype=np.int64), ["" if values[0] is None else str(values[0])]
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    labels = [str(u) for u in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append("")
    return codes.astype(np.int64), labels


def _micros(values: Sequence[Any]) -> npt.NDArray[np.int64]:
    """µs since 1970 of aware datetimes (hourly readings repeat a few dozen instants per batch)."""
    table = {v: NAT if v is None else (v - _EPOCH) // _MICRO for v in set(values)}
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))


def _ints(values: Sequence[Any]) -> npt.NDArray[np.int64]:
    if None in values:
        return np.asarray([0 if v is None else v for v in values], dtype=np.int64)
    return np.asarray(values, dtype=np.int64)


def encode(ids: npt.NDArray[np.int64], columns: dict[str, Sequence[Any]]) -> bytes:
    """One chunk of rows given as columns (st_row names; ``note`` already coalesced)."""
    count = len(ids)
    header: dict[str, Any] = {"n": count, "labels": {}, "widths": {}, "numbers": []}
    pairs = (_ints(columns["subprocess_id"]) << 32) | _ints(columns["material_id"])
    parts = [ids.astype("<i4").tobytes(), pairs.astype("<i8").tobytes(),
             _micros(columns["timestamp"]).astype("<i8").tobytes(),
             np.asarray(columns["quantity"], dtype=np.float64).astype("<f8").tobytes()]
    for name in TEXT:
        codes, labels = _factorize(columns[name])
        width = _width(len(labels))
        header["labels"][name], header["widths"][name] = labels, width
        parts.append(codes.astype("<" + width).tobytes())
    for name in NUMBERS:
        values = columns[name]
        if values.count(None) != count:
            header["numbers"].append(name)
            parts.append(np.asarray(values, dtype=np.float64).astype("<f8").tobytes())
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    return b"".join([_HEADER.pack(MAGIC, len(head)), head, *parts])


def decode(data: bytes) -> Chunk:
    """A chunk from its bytes; refuses anything that is not one, in Chinese."""
    if len(data) < _HEADER.size:
        raise ValueError("列块数据过短")
    magic, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ValueError(f"列块格式不符：{magic!r}")
    header = json.loads(bytes(data[_HEADER.size:_HEADER.size + length]))
    count, offset = int(header["n"]), _HEADER.size + length

    def take(kind: str) -> npt.NDArray[Any]:
        nonlocal offset
        width = np.dtype(kind).itemsize * count
        if offset + width > len(data):
            raise ValueError("列块数据不完整")
        values = np.frombuffer(data, dtype=kind, count=count, offset=offset)
        offset += width
        return values

    # Views into ``data`` (read-only, possibly unaligned): the reader concatenates them into arrays
    # of its own, so each value is copied once.
    ids, pairs, micros, quantity = take("<i4"), take("<i8"), take("<i8"), take("<f8")
    text = {name: (take("<" + header["widths"][name]), list(header["labels"][name])) for name in TEXT}
    numbers = {name: take("<f8") for name in header["numbers"]}
    if offset != len(data):
        raise ValueError("列块数据长度不符")
    return Chunk(ids, pairs, micros, quantity, text, numbers)


def chunks_of(names: Sequence[str], columns: Sequence[Sequence[Any]],
              ids: npt.NDArray[np.int64]) -> list[tuple[int, str, int, int, int, bytes]]:
    """(organization, month, first id, last id, rows, data) per plant × month of a batch's rows.

    ``columns``: the batch's values per column of ``names`` (the writer's ``ROW_FIELDS``); only
    rows stored ``new`` with an organisation and a month are kept (no other row is ever cleaned).
    """
    count = len(ids)
    if not count:
        return []
    given = dict(zip(names, columns, strict=True))
    absent = [None] * count

    def column(name: str) -> Sequence[Any]:  # a column the caller left out is NULL in every row
        return given.get(name, absent)

    orgs, months, statuses = column("organization_id"), column("month"), column("status")
    references, requests = column("reference"), column("request_id")
    if references.count(None) == count:
        notes: Sequence[Any] = requests
    elif None not in references:
        notes = references
    else:
        notes = [r if r is not None else q for r, q in zip(references, requests, strict=True)]
    source = {"unit": column("unit"), "source": column("source"), "tags": column("tags"),
              "batch": column("batch_id"), "note": notes, "category": column("category"),
              **{n: column(n) for n in ("subprocess_id", "material_id", "timestamp", "quantity", *NUMBERS)}}
    keep = np.asarray([s == "new" for s in statuses]) if statuses.count("new") != count else None
    if orgs.count(orgs[0]) == count and months.count(months[0]) == count and keep is None:
        groups = {(orgs[0], months[0]): None}  # the common batch: one plant, one month
    else:
        group_of: dict[tuple[Any, Any], list[int]] = {}
        for i, key in enumerate(zip(orgs, months, strict=True)):
            if keep is None or keep[i]:
                group_of.setdefault(key, []).append(i)
        groups = {k: np.asarray(v, dtype=np.intp) for k, v in group_of.items()}  # type: ignore[misc]
    found = []
    for (org, month), rows in groups.items():
        if org is None or month is None:
            continue
        if rows is None:
            part_ids, part = ids, source
        else:
            part_ids = ids[rows]
            part = {k: [v[i] for i in rows.tolist()] for k, v in source.items()}
        found.append((int(org), str(month), int(part_ids.min()), int(part_ids.max()), len(part_ids),
                      encode(part_ids, part)))
    return found
