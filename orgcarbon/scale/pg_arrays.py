"""PostgreSQL: one plant × month of staged readings as a few arrays, built by the server in one pass.

``COPY … TO STDOUT`` sends one protocol message per reading, and the client pays for each (psycopg
≈1.6 µs a row, pandas' CSV parse more): at 186,000 readings a partition that cost more than the
rules. Here the server aggregates the partition's columns into arrays (``array_agg``) and sends
each as one ``bytea`` in PostgreSQL's binary array format (``array_send``), which numpy reads
without a copy per element. All arrays come from one scan, so they are aligned row by row
(parallel aggregation is switched off for the statement's transaction so no plan could reorder them).

- dense columns: id, sub-process and material (one int8: ``sub << 32 | material``), timestamp,
  quantity, and a 64-bit hash (``hashtextextended``) of each text column the rules can read
  (unit, source, tags; batch and note only when a rule names them);
- sparse columns: ncv, carbon content, oxidation factor, purity, ef and the row's own category are
  empty on hourly readings; the first query names the rows that have any of them, and only if
  there are such rows a second one sends their values;
- labels: the text of each distinct hash comes from one look-up of a representative row per hash
  (``id = ANY(…)``, a few hundred ids). Equal text gives equal hashes, so distinct hashes are distinct
  texts; two different texts of one partition sharing a 64-bit hash (odds about d²/2⁶⁵ for d
  distinct values: 10⁻¹⁵ for 250 tags) would read as one.

NULL and "" read as "" in text columns and as NaN in numbers, as in the record frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy.orm import Session

from orgcarbon.collection.staging_sql import read_array

# Frame name → SQL of a text column hashed on every row.
DENSE_TEXT = {"unit": "unit", "source": "source", "tags": "tags", "batch": "batch_id",
              "note": "coalesce(reference, request_id)"}
# Frame name → st_row column of a number that hourly readings usually leave empty.
SPARSE_NUMBERS = {"ncv": "ncv", "cc": "carbon_content", "of": "oxidation_factor", "purity": "purity", "ef": "ef"}
POSTGRES_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since 1970
NAT = np.iinfo(np.int64).min  # PostgreSQL's -infinity and pandas' NaT alike


@dataclass
class PartitionArrays:
    """The arrays of one partition, in the server's scan order (``ordered`` sorts them by id)."""

    ids: npt.NDArray[np.int64]
    pairs: npt.NDArray[np.int64]  # sub-process id << 32 | material id (0 where missing)
    stamps: npt.NDArray[np.int64]  # ns since 1970 (UTC), NaT where missing
    quantity: npt.NDArray[np.float64]
    numbers: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)  # sparse ones, NaN-filled
    text: dict[str, tuple[npt.NDArray[np.intp], list[str]]] = field(default_factory=dict)  # codes, labels
    own_category: tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp], list[str]] | None = None

    def ordered(self) -> PartitionArrays:
        """The same arrays sorted by id (the scan order usually is already)."""
        if len(self.ids) < 2 or (np.diff(self.ids) > 0).all():
            return self
        order = np.argsort(self.ids, kind="stable")
        own = None
        if self.own_category is not None:
            has, codes, labels = self.own_category
            own = (has[order], codes[order], labels)
        return PartitionArrays(self.ids[order], self.pairs[order], self.stamps[order], self.quantity[order],
                               {k: v[order] for k, v in self.numbers.items()},
                               {k: (c[order], labels) for k, (c, labels) in self.text.items()}, own)


WINDOW_SQL = " FROM st_row WHERE organization_id = %s AND month = %s AND status = 'new' AND id > %s AND id <= %s"
# Rows with a value in any sparse column (or an own category): usually none of an hourly partition.
SPARSE_ROWS = ("(num_nonnulls(" + ", ".join(SPARSE_NUMBERS.values()) + ") > 0 OR category <> '')")


def _hash(sql: str) -> str:
    return f"array_send(array_agg(hashtextextended(coalesce({sql}, ''), 0)))"


def _query(text_columns: tuple[str, ...]) -> str:
    parts = ["count(*)", "array_send(array_agg(id))",
             "array_send(array_agg((coalesce(subprocess_id, 0)::int8 << 32) | coalesce(material_id, 0)))",
             "array_send(array_agg(coalesce(\"timestamp\", '-infinity'::timestamptz)))",
             "array_send(array_agg(coalesce(quantity, 'NaN'::float8)))",
             f"array_send(array_agg(id) FILTER (WHERE {SPARSE_ROWS}))"]
    parts += [_hash(DENSE_TEXT[c]) for c in text_columns]
    return "SELECT " + ", ".join(parts) + WINDOW_SQL


def _sparse_query() -> str:
    parts = ["array_send(array_agg(id))"]
    parts += [f"array_send(array_agg(coalesce({c}, 'NaN'::float8)))" for c in SPARSE_NUMBERS.values()]
    parts += [_hash("category")]
    return "SELECT " + ", ".join(parts) + WINDOW_SQL + " AND " + SPARSE_ROWS


class _Changed(Exception):
    """The partition changed between the statements of one fetch (a concurrent write committed)."""


@dataclass(frozen=True)
class _Hashed:
    """One text column: codes per row, and per code its hash and a row id that has it."""

    codes: npt.NDArray[np.intp]
    hashes: npt.NDArray[np.int64]
    representative: npt.NDArray[np.int64]


def _codes(hashes: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> _Hashed:
    """Codes 0..d-1 of the distinct hashes and one row id per distinct hash (any row will do)."""
    codes, uniques = pd.factorize(hashes)
    representative = np.empty(len(uniques), dtype=np.int64)
    representative[codes] = ids
    return _Hashed(codes.astype(np.intp), np.asarray(uniques, dtype=np.int64), representative)


def _labels(cursor: Any, wanted: dict[str, _Hashed]) -> dict[str, list[str]]:
    """The text of each column at its representative rows (one query), checked against its hash."""
    ids = sorted({int(i) for column in wanted.values() for i in column.representative})
    if not ids:
        return {name: [] for name in wanted}
    names = list(wanted)
    texts = [f"coalesce({DENSE_TEXT.get(n, n)}, '')" for n in names]
    sql = ("SELECT id, " + ", ".join(f"{t}, hashtextextended({t}, 0)" for t in texts)
           + " FROM st_row WHERE id = ANY(%s)")
    cursor.execute(sql, (ids,))
    by_id = {int(row[0]): row[1:] for row in cursor.fetchall()}
    labels: dict[str, list[str]] = {}
    for k, name in enumerate(names):
        column, found = wanted[name], []
        for i, expected in zip(column.representative.tolist(), column.hashes.tolist(), strict=True):
            row = by_id.get(i)
            if row is None or int(row[2 * k + 1]) != expected:  # deleted or changed since the first query
                raise _Changed(name)
            found.append(str(row[2 * k]))
        labels[name] = found
    return labels


def fetch_arrays(session: Session, org_id: int, month: str, after: int, limit: int,
                 text_columns: tuple[str, ...], attempts: int = 3) -> PartitionArrays:
    """The partition's stored-``new`` rows with ids in (after, limit], as arrays (scan order).

    The arrays come from one statement; the lab values and the labels from one or two more, each
    checked against the first (same rows with lab values, each label's hash). A write that commits
    between them makes the fetch start again (each statement sees the newest commits).
    """
    connection = session.connection()
    connection.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    window = (int(org_id), month, int(after), int(limit))
    try:
        for _ in range(attempts):
            try:
                return _read(cursor, window, text_columns)
            except _Changed:
                continue
    finally:
        cursor.close()
    raise RuntimeError(f"组织 {org_id} {month} 的暂存数据在读取期间被反复修改，请稍后重试清洗")


def _read(cursor: Any, window: tuple[int, str, int, int], text_columns: tuple[str, ...]) -> PartitionArrays:
    cursor.execute(_query(text_columns), window, binary=True)
    row = cursor.fetchone()
    values = iter(row[1:])
    ids = read_array(next(values), "i4").astype(np.int64)
    pairs = read_array(next(values), "i8").astype(np.int64)
    raw = read_array(next(values), "i8").astype(np.int64)
    stamps = np.where(raw == NAT, NAT, (raw + POSTGRES_EPOCH_US) * 1000)
    quantity = read_array(next(values), "f8").astype(np.float64)
    sparse_ids = read_array(next(values), "i4").astype(np.int64)
    if not len(ids) == len(pairs) == len(stamps) == len(quantity) == int(row[0]):
        raise ValueError("分区数组长度不一致")
    wanted = {name: _codes(read_array(next(values), "i8").astype(np.int64), ids) for name in text_columns}
    numbers: dict[str, npt.NDArray[np.float64]] = {}
    own = None
    if len(sparse_ids):  # a second pass for the few rows with lab values or an own category
        cursor.execute(_sparse_query(), window, binary=True)
        sparse = iter(cursor.fetchone())
        where = read_array(next(sparse), "i4").astype(np.int64)
        if not np.array_equal(np.sort(where), np.sort(sparse_ids)):
            raise _Changed("sparse")
        positions = _Locator(ids)(where)
        for name in SPARSE_NUMBERS:
            column = np.full(len(ids), np.nan)
            column[positions] = read_array(next(sparse), "f8")
            numbers[name] = column
        wanted["category"] = _codes(read_array(next(sparse), "i8").astype(np.int64), where)
    labels = _labels(cursor, wanted)
    if len(sparse_ids):
        category, category_labels = wanted.pop("category"), labels.pop("category")
        own_codes = np.zeros(len(ids), dtype=np.intp)
        own_codes[positions] = category.codes
        has = np.zeros(len(ids), dtype=bool)
        has[positions] = np.asarray(category_labels, dtype=object)[category.codes] != ""
        own = (has, own_codes, category_labels)
    text = {name: (wanted[name].codes, labels[name]) for name in text_columns}
    return PartitionArrays(ids, pairs, stamps, quantity, numbers, text, own)


class _Locator:
    """Positions in ``ids`` (scan order) of some of its ids; sorts once, on first use."""

    def __init__(self, ids: npt.NDArray[np.int64]) -> None:
        self.ids = ids
        self.order: npt.NDArray[np.intp] | None = None

    def __call__(self, wanted: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        if self.order is None:
            self.order = np.argsort(self.ids, kind="stable")
        at = np.minimum(np.searchsorted(self.ids[self.order], wanted), max(len(self.ids) - 1, 0))
        found = self.order[at] if len(self.ids) else np.zeros(0, dtype=np.intp)
        if len(found) != len(wanted) or (self.ids[found] != wanted).any():
            raise ValueError("稀疏列的行号不在分区中")
        return found
