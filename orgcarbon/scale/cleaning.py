"""Cleaning one plant × month of staged readings in bulk: columns in, rule results out, few statements.

``fetch_columns`` reads the partition's new rows with one query (PostgreSQL: the server builds
one array per column, ``scale/pg_arrays``; SQLite: one SELECT) into ``RecordColumns``: ids
ascending, sub-process / material ids and text turned into name codes through small look-up
tables (no per-row Python). ``compile_columnar`` (``rules/quality/columnar``) evaluates the published rules.
``write_back`` marks the removed rows ``rejected`` and writes changed values (PostgreSQL: ids
COPYed into a temporary table and one ``UPDATE … FROM``); every other row is cleaned by the
partition's mark (``quality/partitions.mark_cleaned``), not by rewriting it. The partition's new
rows are those above its cleaned mark and at or below ``cleaning_limit`` (``Window``).
"""

from __future__ import annotations

import time
from dataclasses import astuple, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import Material, Organization, Process, SubProcess
from orgcarbon.metamodel.versioned import Binding
from orgcarbon.quality.models import StagingRow
from orgcarbon.quality.partitions import mark_cleaned, pending
from orgcarbon.rules.quality.columnar import ColumnarResult, RecordColumns
from orgcarbon.scale.pg_arrays import SPARSE_NUMBERS, PartitionArrays, fetch_arrays
from orgcarbon.scale.pg_chunks import read_chunks

# Raw columns of the query, in order; ``ts_us`` is the reading time in µs since 1970 (UTC).
RAW = ("id", "subprocess_id", "material_id", "category", "ts_us", "quantity", "unit", "ncv", "cc", "of",
       "purity", "ef", "source", "batch", "tags", "note")
RAW_NUMBERS = ("quantity", "ncv", "cc", "of", "purity", "ef")
# Database column of each changed field (the frame says cc/of, st_row carbon_content/…).
WRITABLE = {"quantity": "quantity", "ncv": "ncv", "cc": "carbon_content", "of": "oxidation_factor",
            "purity": "purity", "ef": "ef"}


@dataclass(frozen=True)
class Names:
    """What turns ids into the names the rules see: plant, sub-process → (name, process), bindings."""

    organization: str
    subprocesses: dict[int, tuple[str, str]]
    materials: dict[int, str]
    categories: dict[tuple[int, int], str]


def partition_names(session: Session, org_id: int) -> Names:
    """Names of one plant's sub-processes, of the materials and its published bindings' categories."""
    org = session.get(Organization, org_id)
    subs = {s: (name, proc) for s, name, proc in session.execute(
        select(SubProcess.id, SubProcess.name, Process.name).join(Process, SubProcess.process_id == Process.id)
        .where(SubProcess.organization_id == org_id))}
    materials = dict(session.execute(select(Material.id, Material.name)).all())
    categories = {(s, m): c for s, m, c in session.execute(select(
        Binding.subprocess_id, Binding.material_id, Binding.category).where(
        Binding.organization_id == org_id, Binding.status == "published"))}
    return Names(org.name if org else "", subs, materials, categories)


@dataclass(frozen=True)
class Window:
    """The rows of one plant × month that a cleaning sees: stored ``new``, ids in (after, limit]."""

    org_id: int
    month: str
    after: int
    limit: int


def _raw_sql(session: Session, window: Window) -> pd.DataFrame:
    """The partition through one SELECT (SQLite and other databases)."""
    t = StagingRow.__table__
    rows = session.connection().execute(select(
        t.c.id, t.c.subprocess_id, t.c.material_id, t.c.category, t.c.timestamp, t.c.quantity, t.c.unit,
        t.c.ncv, t.c.carbon_content, t.c.oxidation_factor, t.c.purity, t.c.ef, t.c.source, t.c.batch_id,
        t.c.tags, t.c.reference, t.c.request_id).where(pending(*astuple(window)))).fetchall()
    raw = pd.DataFrame(rows, columns=[*RAW[:-1], "reference", "request_id"])
    raw["note"] = raw.pop("reference").fillna(raw.pop("request_id"))
    stamps = pd.to_datetime(raw["ts_us"], utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]").astype(np.int64)
    raw["ts_us"] = np.where(stamps == np.iinfo(np.int64).min, np.nan, stamps // 1000)
    return raw


def _lookup(ids: npt.NDArray[np.int64], names: dict[int, str]) -> pd.Categorical:
    """Names of integer ids as a categorical, through a look-up over the distinct ids only."""
    uniques, inverse = np.unique(ids, return_inverse=True)
    return pd.Categorical(np.asarray([names.get(int(i), "") for i in uniques], dtype=object)[inverse])


def _text_columns(keys: frozenset[str]) -> tuple[str, ...]:
    return ("unit", "source", "tags") + tuple(c for c in ("batch", "note") if c in keys)


def fetch_partition(session: Session, window: Window, names: Names,
                    keys: frozenset[str] = frozenset()) -> tuple[RecordColumns, str]:
    """``fetch_columns``, from the writer's column chunks where they may be trusted
    (PostgreSQL, ``scale/pg_chunks``); with where the columns came from: chunks, arrays or rows."""
    if session.get_bind().dialect.name == "postgresql":
        arrays = read_chunks(session, window.org_id, window.month, window.after, window.limit, _text_columns(keys))
        if arrays is not None:
            return _from_arrays(arrays.ordered(), window, names), "chunks"
        return fetch_columns(session, window, names, keys), "arrays"
    return fetch_columns(session, window, names, keys), "rows"


def fetch_columns(session: Session, window: Window, names: Names, keys: frozenset[str] = frozenset()) -> RecordColumns:
    """The new rows of one plant × month as columns, in id order, with the frame's names.

    PostgreSQL: arrays built by the server (``scale/pg_arrays``); other databases: one SELECT.
    ``keys``: columns the rules name as keys; the provenance columns batch and note are read only
    when named (no rule can read them otherwise).
    """
    if session.get_bind().dialect.name == "postgresql":
        arrays = fetch_arrays(session, window.org_id, window.month, window.after, window.limit, _text_columns(keys))
        return _from_arrays(arrays.ordered(), window, names)
    return _from_frame(_raw_sql(session, window), window, names)


def _constant(n: int, value: str) -> pd.Categorical:
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [value])


def _by_code(codes: npt.NDArray[np.intp], labels: list[str]) -> pd.Categorical:
    """A categorical from codes into labels that may repeat (labels are merged)."""
    label_codes, uniques = pd.factorize(np.asarray(labels, dtype=object))
    if not len(codes):
        return pd.Categorical.from_codes(np.zeros(0, dtype=np.int8), [""])
    return pd.Categorical.from_codes(label_codes[codes], uniques)


def _from_arrays(arrays: PartitionArrays, window: Window, names: Names) -> RecordColumns:
    """``RecordColumns`` from the server's arrays: text through codes, never a Python object per row."""
    n = len(arrays.ids)
    pair_codes, pairs = pd.factorize(arrays.pairs)
    subs, mats = [int(p) >> 32 for p in pairs], [int(p) & 0xFFFFFFFF for p in pairs]
    derived = _by_code(pair_codes, [names.categories.get((s, m), "") for s, m in zip(subs, mats, strict=True)])
    if arrays.own_category is not None:  # the row's own category wins over its binding's
        has, codes, labels = arrays.own_category
        values = np.asarray(derived, dtype=object)
        values[has] = np.asarray(labels, dtype=object)[codes[has]]
        derived = pd.Categorical(values.astype(str))
    text = {
        "organization": _constant(n, names.organization),
        "process": _by_code(pair_codes, [names.subprocesses.get(s, ("", ""))[1] for s in subs]),
        "subprocess": _by_code(pair_codes, [names.subprocesses.get(s, ("", ""))[0] for s in subs]),
        "category": derived,
        "material": _by_code(pair_codes, [names.materials.get(m, "") for m in mats]),
        "month": _constant(n, window.month),
        "dataset": _constant(n, "staging"),
    }
    for name, (codes, labels) in arrays.text.items():
        text[name] = pd.Categorical.from_codes(codes, labels) if n else _constant(0, "")
    # Lab columns no row of the partition has stay absent: they read as NaN, and a column that is
    # NaN everywhere separates no duplicates (the generic path's all-NaN columns are dropped there too).
    numbers = {"quantity": arrays.quantity} | {k: v for k, v in arrays.numbers.items() if k in SPARSE_NUMBERS}
    return RecordColumns(arrays.ids, text, numbers, arrays.stamps)


def _from_frame(raw: pd.DataFrame, window: Window, names: Names) -> RecordColumns:
    """``RecordColumns`` from the generic SELECT's frame."""
    month = window.month
    ids = raw["id"].to_numpy(dtype=np.int64)
    if len(ids) > 1 and not (np.diff(ids) > 0).all():
        raw = raw.iloc[np.argsort(ids, kind="stable")]
        ids = raw["id"].to_numpy(dtype=np.int64)
    n = len(raw)
    subs = raw["subprocess_id"].fillna(0).to_numpy(dtype=np.int64)
    mats = raw["material_id"].fillna(0).to_numpy(dtype=np.int64)
    pairs = subs * (int(mats.max(initial=0)) + 1) + mats
    pair_names = {int(s) * (int(mats.max(initial=0)) + 1) + int(m): c for (s, m), c in names.categories.items()}
    own = raw["category"].where(raw["category"] != "", None).to_numpy(dtype=object, na_value=None)
    category = np.asarray(_lookup(pairs, pair_names), dtype=object)
    category = np.where(pd.isna(own), category, own)
    text = {
        "organization": _constant(n, names.organization),
        "process": _lookup(subs, {k: v[1] for k, v in names.subprocesses.items()}),
        "subprocess": _lookup(subs, {k: v[0] for k, v in names.subprocesses.items()}),
        "category": pd.Categorical(category.astype(str)),
        "material": _lookup(mats, names.materials),
        "month": _constant(n, month),
        "dataset": _constant(n, "staging"),
    }
    for name in ("unit", "source", "batch", "tags", "note"):
        text[name] = pd.Categorical(raw[name].fillna("").astype(str).to_numpy(dtype=object))
    numbers = {name: raw[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in RAW_NUMBERS}
    micro = raw["ts_us"].to_numpy(dtype=np.float64, na_value=np.nan)
    stamps = np.where(np.isnan(micro), np.iinfo(np.int64).min, np.nan_to_num(micro).astype(np.int64) * 1000)
    return RecordColumns(ids, text, numbers, stamps.astype(np.int64))


def write_back(session: Session, window: Window, result: ColumnarResult) -> int:
    """Rejected rows, changed values, then the partition's cleaned mark; values written.

    PostgreSQL: one ``UPDATE … FROM unnest(ids[, values])`` per kind of change (the ids travel as
    one array; no temporary table); elsewhere ``IN`` lists and ``executemany``.
    """
    t = StagingRow.__table__
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    written = 0
    for field, (ids, values) in result.changes.items():
        column = WRITABLE[field]
        written += len(ids)
        if postgres and len(ids):
            conn.exec_driver_sql(
                f"UPDATE st_row SET {column} = v.value "  # noqa: S608  (column from WRITABLE)
                "FROM unnest(%(ids)s::int4[], %(values)s::float8[]) AS v(id, value) WHERE st_row.id = v.id",
                {"ids": np.asarray(ids, dtype=np.int64).tolist(),
                 "values": [None if v != v else float(v) for v in np.asarray(values, dtype=np.float64).tolist()]})
        elif len(ids):
            conn.execute(update(t).where(t.c.id == bindparam("_id")).values({column: bindparam("value")}),
                         [{"_id": int(i), "value": None if v != v else float(v)} for i, v in zip(ids, values,
                                                                                                   strict=True)])
    removed = result.removed
    if postgres and len(removed):
        conn.exec_driver_sql("UPDATE st_row SET status = 'rejected' FROM unnest(%(ids)s::int4[]) AS r(id) "
                             "WHERE st_row.id = r.id", {"ids": np.asarray(removed, dtype=np.int64).tolist()})
    else:
        for start in range(0, len(removed), 5000):
            conn.execute(update(t).where(t.c.id.in_(removed[start:start + 5000].tolist())).values(status="rejected"))
    mark_cleaned(session, window.org_id, window.month, window.limit)
    return written


def timed(step: Any, *args: Any) -> tuple[Any, float, float]:
    """``step(*args)`` with its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = step(*args)
    return value, time.perf_counter() - wall, time.process_time() - cpu
