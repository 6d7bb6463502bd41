"""Facts for inference rules: records aggregated per binding, process and organisation and month.

Joins happen here, in pandas, before any fact reaches experta (whose joins are quadratic): the
previous month (``prev_*``) and the per-source totals are columns of the same fact.

* binding_month: one fact per organisation × process × subprocess × category × material × month;
  ``quantity`` in the material's unit (mean of the per-source totals), ``sources``,
  ``source_spread`` = (max − min) / |mean| of the per-source totals, ``count``, mean NCV/CC/OF/….
* process_month / organization_month: one column per material (exported energy excluded) and per
  energy/product category (购入电力, 输出电力, 购入热力, 输出热力, 固碳产品), and ``prev_`` of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from orgcarbon.rules.factor_pack import default_library
from orgcarbon.rules.model import CATEGORY_NAMES
from orgcarbon.rules.quality.frame import SUMMED_CATEGORIES, total_names
from orgcarbon.rules.units import UnitError, default_units

__all__ = ["JOIN_KEYS", "FactSet", "build_facts", "missing_binding_months"]

BINDING = ["organization", "process", "subprocess", "category", "material"]
LEVEL_KEYS = {
    "binding_month": [*BINDING, "month"],
    "process_month": ["organization", "process", "month"],
    "organization_month": ["organization", "month"],
}
JOIN_KEYS = {
    ("binding_month", "process_month"): ["organization", "process", "month"],
    ("binding_month", "organization_month"): ["organization", "month"],
    ("process_month", "organization_month"): ["organization", "month"],
}


@dataclass(frozen=True)
class FactSet:
    """One DataFrame of facts per level; each fact keeps the record ``row_ids`` behind it."""

    levels: dict[str, pd.DataFrame]

    def __getitem__(self, level: str) -> pd.DataFrame:
        return self.levels[level]

    def __len__(self) -> int:
        return sum(len(f) for f in self.levels.values())


def _to_material_unit(frame: pd.DataFrame) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    library, units = default_library(), default_units()
    factor = np.ones(len(frame))
    pairs = frame[["unit", "material"]].drop_duplicates()
    for unit, material in pairs.itertuples(index=False):
        known = library.materials.get(material)
        try:
            value = units.factor(unit, known.unit) if known is not None else units.get(unit).factor
        except UnitError:
            value = 1.0  # unknown unit: aggregate as given rather than drop the value
        factor[((frame["unit"] == unit) & (frame["material"] == material)).to_numpy()] = value
    quantity: np.ndarray[tuple[int], np.dtype[np.float64]] = frame["quantity"].to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return quantity * factor


def _add_previous(facts: pd.DataFrame, keys: list[str], columns: Sequence[str]) -> pd.DataFrame:
    base = [k for k in keys if k != "month"]
    prev = facts[[*keys, *columns]].copy()
    prev = prev[prev["month"] != ""]
    # Shift the earlier fact forward one month, so a left join puts it beside its successor.
    prev["month"] = _next_month(prev["month"])
    prev = prev.rename(columns={c: "prev_" + c for c in columns})
    return facts.merge(prev, on=[*base, "month"], how="left")


def _next_month(months: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(months, format="%Y-%m", errors="coerce")
    return (parsed + pd.offsets.MonthBegin(1)).dt.strftime("%Y-%m").fillna("")


def _row_ids(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    return frame.groupby(keys, sort=True)["row_id"].agg(lambda s: tuple(sorted(int(x) for x in s)))


def _binding_facts(frame: pd.DataFrame) -> pd.DataFrame:
    keys = LEVEL_KEYS["binding_month"]
    data = frame.assign(quantity=_to_material_unit(frame))
    per_source = data.groupby([*keys, "source"], sort=True)["quantity"].sum(min_count=1)
    grouped = per_source.groupby(level=keys, sort=True)
    facts = pd.DataFrame(
        {
            "quantity": grouped.mean(),
            "sources": grouped.size().astype(np.float64),
            "source_spread": (grouped.max() - grouped.min()) / grouped.mean().abs(),
        }
    )
    rows = data.groupby(keys, sort=True)
    facts["count"] = rows.size().astype(np.float64)
    for name in ("ncv", "cc", "of", "purity", "ef"):
        facts[name] = rows[name].mean()
    facts["row_ids"] = _row_ids(data, keys)
    facts = facts.reset_index()
    return _add_previous(facts, keys, ["quantity"])


def _total_facts(binding: pd.DataFrame, level: str) -> pd.DataFrame:
    keys = LEVEL_KEYS[level]
    names = set(total_names())
    consumed = binding[~binding["category"].str.startswith("exported_")]
    # Drop unknown values first: pivot_table would turn an all-NaN cell into a reported 0.
    consumed = consumed[consumed["material"].isin(names) & consumed["quantity"].notna()]
    totals = consumed.pivot_table(
        index=keys, columns="material", values="quantity", aggfunc="sum", observed=True
    )
    energy = binding[binding["category"].isin(SUMMED_CATEGORIES) & binding["quantity"].notna()]
    by_category = energy.pivot_table(
        index=keys, columns="category", values="quantity", aggfunc="sum", observed=True
    ).rename(columns=CATEGORY_NAMES)
    grouped = binding.groupby(keys, sort=True)
    facts = pd.DataFrame({"count": grouped["count"].sum()})
    facts = facts.join(totals, how="left").join(by_category, how="left")
    facts["row_ids"] = grouped["row_ids"].agg(lambda s: tuple(sorted(x for t in s for x in t)))
    facts = facts.reset_index()
    columns = [c for c in facts.columns if c in names]
    facts = _add_previous(facts, keys, columns)
    if level == "organization_month":
        facts.insert(1, "process", "*")
    return facts


def _with_keys(facts: pd.DataFrame, level: str) -> pd.DataFrame:
    parts = [facts[k].astype(str) for k in LEVEL_KEYS[level]]
    key = parts[0]
    for part in parts[1:]:
        key = key + "/" + part
    facts.insert(0, "key", key.to_numpy())
    facts.insert(0, "level", level)
    return facts.sort_values(LEVEL_KEYS[level], kind="stable").reset_index(drop=True)


def build_facts(frame: pd.DataFrame) -> FactSet:
    """Aggregate a (cleaned) record frame into the three fact levels, previous month joined."""
    binding = _binding_facts(frame)
    process = _total_facts(binding, "process_month")
    organization = _total_facts(binding, "organization_month")
    return FactSet(
        {
            "binding_month": _with_keys(binding, "binding_month"),
            "process_month": _with_keys(process, "process_month"),
            "organization_month": _with_keys(organization, "organization_month"),
        }
    )


def missing_binding_months(facts: FactSet, months: Sequence[str] | None = None) -> pd.DataFrame:
    """Bindings lacking a month: expected months are ``months`` or every month the org reported."""
    binding = facts["binding_month"]
    dated = binding[binding["month"] != ""]
    columns = [*BINDING, "month", "row_ids"]
    if dated.empty:
        return pd.DataFrame(columns=columns)
    out = []
    for _organization, group in dated.groupby("organization", sort=True):
        expected = sorted(months) if months is not None else sorted(group["month"].unique())
        for key, rows in group.groupby(BINDING, sort=True):
            present = set(rows["month"])
            ids = tuple(sorted(x for t in rows["row_ids"] for x in t))
            out += [(*key, m, ids) for m in expected if m not in present]
    return pd.DataFrame(out, columns=columns)
