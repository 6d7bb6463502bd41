"""The columns of a readings/records frame, the variables each rule level sees, and package → frame.

A record frame is a pandas DataFrame with one row per staging row or activity record:

=============  ========  ===========================================================
column         dtype     meaning
=============  ========  ===========================================================
row_id         int64     stable key of the row (staging row id, package row number)
organization   str       organisation node the value belongs to
process        str       工序; subprocess 子工序; category 类别; material 物料
month          str       ``YYYY-MM``; "" for a value that covers the whole period
timestamp      datetime  time of a reading (optional; orders series, near-duplicate window)
quantity       float     the value; ``unit`` its unit
ncv cc of      float     fuel parameters, NaN when not given; purity, ef likewise
source         str       system or connector the value came from; ``dataset`` its data set
batch          str       import batch / file / request; ``tags`` comma-separated labels
received_at    datetime  when the value arrived; ``due_at`` when it was due (timeliness)
=============  ========  ===========================================================

Missing optional columns are added by ``ensure_columns``; extra numeric columns are allowed and
become variables of record-level conditions.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from orgcarbon.rules.factor_pack import default_library
from orgcarbon.rules.model import CATEGORY_NAMES
from orgcarbon.rules.package import Package

__all__ = [
    "KEY_COLUMNS",
    "NUMERIC_COLUMNS",
    "TEXT_COLUMNS",
    "ensure_columns",
    "fact_variables",
    "package_frame",
    "record_variables",
]

TEXT_COLUMNS = (
    "organization",
    "process",
    "subprocess",
    "category",
    "material",
    "unit",
    "month",
    "source",
    "dataset",
    "batch",
    "tags",
    "note",
)
NUMERIC_COLUMNS = ("quantity", "ncv", "cc", "of", "purity", "ef")
TIME_COLUMNS = ("timestamp", "received_at", "due_at")
# The key of a binding's value in one month: what "the same value" means for duplicates/series.
KEY_COLUMNS = ("organization", "process", "subprocess", "category", "material", "month")
SERIES_COLUMNS = ("organization", "process", "subprocess", "category", "material", "source")
BINDING_VARIABLES = (
    "quantity",
    "prev_quantity",
    "count",
    "sources",
    "source_spread",
    "ncv",
    "cc",
    "of",
    "purity",
    "ef",
)
# Category totals that share one unit (MWh, GJ, t) and so can be added across materials.
SUMMED_CATEGORIES = (
    "purchased_electricity",
    "exported_electricity",
    "purchased_heat",
    "exported_heat",
    "fixed_carbon_product",
)
JOIN_PREFIX = {"process_month": "proc_", "organization_month": "org_"}


def record_variables(extra: Iterable[str] = ()) -> frozenset[str]:
    """Names a record-level condition may use."""
    return frozenset(NUMERIC_COLUMNS) | frozenset(extra)


@lru_cache(maxsize=1)
def _total_names() -> tuple[str, ...]:
    materials = [m for m in default_library().materials if m.isidentifier()]
    categories = [CATEGORY_NAMES[c] for c in SUMMED_CATEGORIES]
    return tuple(dict.fromkeys([*materials, *categories]))


def total_names() -> tuple[str, ...]:
    """Per-material (and energy/product category) totals of process- and organisation-month facts."""
    return _total_names()


def fact_variables(level: str, join: str | None = None) -> frozenset[str]:
    """Names a condition at ``level`` may use (with the joined level's names, prefixed)."""
    if level == "record":
        names = set(record_variables())
    elif level == "binding_month":
        names = set(BINDING_VARIABLES)
    else:
        totals = total_names()
        names = {"count", *totals, *("prev_" + t for t in totals)}
    if join is not None and join in JOIN_PREFIX:
        names |= {JOIN_PREFIX[join] + n for n in fact_variables(join)}
    return frozenset(names)


def ensure_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with every documented column present (empty text, NaN, NaT) and row ids."""
    out = frame.copy()
    n = len(out)
    if "row_id" not in out:
        out["row_id"] = np.arange(1, n + 1, dtype=np.int64)
    for name in TEXT_COLUMNS:
        if name not in out:
            out[name] = ""
        else:
            out[name] = out[name].fillna("").astype(str)
    for name in NUMERIC_COLUMNS:
        out[name] = (
            pd.to_numeric(out[name], errors="coerce").astype(np.float64) if name in out else np.nan
        )
    for name in TIME_COLUMNS:
        out[name] = pd.to_datetime(out[name]) if name in out else pd.NaT
    return out.reset_index(drop=True)


def package_frame(package: Package, source: str = "package", dataset: str = "") -> pd.DataFrame:
    """The record frame of an activity package: row ids are the package's row numbers."""
    rows: list[dict[str, Any]] = []
    for r in package.rows:
        rows.append(
            {
                "row_id": r.row,
                "organization": package.organization,
                "process": r.process,
                "subprocess": r.subprocess,
                "category": r.category,
                "material": r.material,
                "month": r.month,
                "quantity": r.quantity,
                "unit": r.unit,
                "ncv": r.ncv,
                "cc": r.cc,
                "of": r.of,
                "purity": r.purity,
                "ef": r.ef,
                "source": source,
                "dataset": dataset or package.organization,
                "batch": source,
                "note": r.id or "",
            }
        )
    return ensure_columns(pd.DataFrame(rows))
