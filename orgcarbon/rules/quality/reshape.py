"""Row-level cleaning actions: remove (near-)duplicates, split and merge records, smooth series."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from orgcarbon.rules.quality.cleaning import Change, Mask, log_changes, series_order
from orgcarbon.rules.quality.definitions import RuleDefinition
from orgcarbon.rules.quality.findings import ActionEntry
from orgcarbon.rules.quality.frame import KEY_COLUMNS, SERIES_COLUMNS

__all__ = ["deduplicate", "merge", "smooth", "split"]

# Columns that say nothing about the value itself; two rows differing only here are duplicates.
_PROVENANCE = ("row_id", "batch", "received_at", "due_at", "note")


def _removed(rule: RuleDefinition, frame: pd.DataFrame, drop: Mask, name: str) -> Change:
    ids = frame["row_id"].to_numpy()
    values = frame[name].to_numpy()
    entries = [
        ActionEntry(rule.id, rule.version, int(ids[i]), "*", _num(values[i]), None)
        for i in np.flatnonzero(drop)
    ]
    return Change(frame.loc[~drop].reset_index(drop=True), entries)


def _num(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def deduplicate(rule: RuleDefinition, frame: pd.DataFrame, mask: Mask) -> Change:
    """Drop exact duplicates, or rows within tolerance/time window of the previous row of a key."""
    name = str(rule.params.get("field") or "quantity")
    if rule.params.get("mode") == "exact":
        keys = list(rule.params.get("keys") or [c for c in frame.columns if c not in _PROVENANCE])
        # Only rows in scope take part, so a duplicate outside it is neither kept nor dropped.
        scoped = frame.loc[mask, keys]
        drop = np.zeros(len(frame), dtype=bool)
        drop[np.flatnonzero(mask)[scoped.duplicated(keep="first").to_numpy()]] = True
        return _removed(rule, frame, drop, name)
    keys = list(rule.params.get("keys") or KEY_COLUMNS)
    tolerance = float(rule.params.get("tolerance") or 0.0)
    window = rule.params.get("window_seconds")
    positions = np.flatnonzero(mask)
    scoped = frame.iloc[positions]
    order = np.lexsort(
        [scoped["row_id"].to_numpy()]
        + (
            [scoped["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)]
            if scoped["timestamp"].notna().any()
            else []
        )
        + [scoped[k].to_numpy() for k in reversed(keys)]
    )
    ordered = scoped.iloc[order]
    same = np.ones(len(ordered), dtype=bool)
    for key in keys:
        column = ordered[key].to_numpy()
        same &= np.concatenate([[False], column[1:] == column[:-1]])
    values = ordered[name].to_numpy(dtype=np.float64, na_value=np.nan)
    close = np.concatenate([[False], np.abs(np.diff(values)) <= tolerance])
    near = same & close
    if window is not None and ordered["timestamp"].notna().any():
        stamps = ordered["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
        near &= np.concatenate([[False], np.abs(np.diff(stamps)) <= float(window)])
    drop = np.zeros(len(frame), dtype=bool)
    drop[positions[order[near]]] = True
    return _removed(rule, frame, drop, name)


def split(rule: RuleDefinition, frame: pd.DataFrame, mask: Mask) -> Change:
    """Split each masked row into parts (``share`` of the value, ``set`` columns); ids appended."""
    name = str(rule.params["field"])
    parts: list[Mapping[str, Any]] = list(rule.params["parts"])
    positions = np.flatnonzero(mask)
    if not len(positions):
        return Change(frame)
    next_id = int(frame["row_id"].max()) + 1
    pieces = [frame]
    entries: list[ActionEntry] = []
    base = frame.iloc[positions]
    ids = base["row_id"].to_numpy()
    values = base[name].to_numpy(dtype=np.float64, na_value=np.nan)
    first = parts[0]
    out = frame.copy()
    rows = out.index[positions]
    out.loc[rows, name] = values * float(first["share"])
    for column, value in dict(first.get("set") or {}).items():
        out.loc[rows, column] = value
    entries += log_changes(rule, frame, name, frame[name].to_numpy(), out[name].to_numpy(), mask)
    pieces = [out]
    for part in parts[1:]:
        extra = base.copy()
        extra[name] = values * float(part["share"])
        for column, value in dict(part.get("set") or {}).items():
            extra[column] = value
        new_ids = np.arange(next_id, next_id + len(extra), dtype=np.int64)
        next_id += len(extra)
        extra["row_id"] = new_ids
        pieces.append(extra)
        entries += [
            ActionEntry(rule.id, rule.version, int(n), "*", {"split_from": int(o)}, _num(v))
            for n, o, v in zip(new_ids, ids, extra[name].to_numpy(), strict=True)
        ]
    return Change(pd.concat(pieces, ignore_index=True), entries)


def merge(rule: RuleDefinition, frame: pd.DataFrame, mask: Mask) -> Change:
    """Merge masked rows with equal ``keys`` into the first (lowest row id) by sum/mean/max/min."""
    name = str(rule.params["field"])
    keys = list(rule.params.get("keys") or KEY_COLUMNS)
    how = str(rule.params.get("how") or "sum")
    positions = np.flatnonzero(mask)
    scoped = frame.iloc[positions]
    groups = scoped.groupby(keys, sort=False, dropna=False)
    combined = groups[name].transform(how).to_numpy(dtype=np.float64)
    first_id = groups["row_id"].transform("min").to_numpy()
    keep = scoped["row_id"].to_numpy() == first_id
    drop = np.zeros(len(frame), dtype=bool)
    drop[positions[~keep]] = True
    before = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    after = before.copy()
    after[positions] = combined
    kept = np.zeros(len(frame), dtype=bool)
    kept[positions[keep]] = True
    out = frame.copy()
    out[name] = np.where(kept, after, before)
    entries = log_changes(rule, frame, name, before, out[name].to_numpy(), kept)
    removed = _removed(rule, out, drop, name)
    return Change(removed.frame, entries + removed.entries)


def _rolling(values: npt.NDArray[np.float64], window: int) -> tuple[Any, Any]:
    """Centred rolling median and median absolute deviation from it, ignoring NaN."""
    half = window // 2
    padded = np.pad(values, (half, window - 1 - half), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window gives NaN, as wanted
        median = np.nanmedian(windows, axis=1)
        mad = np.nanmedian(np.abs(windows - median[:, None]), axis=1)
    return median, mad


def smooth(rule: RuleDefinition, frame: pd.DataFrame, mask: Mask) -> Change:
    """Rolling median per series; ``hampel`` replaces only points beyond n_sigmas × scaled MAD."""
    name = str(rule.params["field"])
    window = int(rule.params["window"])
    sigmas = float(rule.params.get("n_sigmas") or 3.0)
    hampel = rule.params.get("method") == "hampel"
    order = series_order(frame)
    ordered = frame.iloc[order]
    values = ordered[name].to_numpy(dtype=np.float64, na_value=np.nan)
    codes = ordered.groupby(list(SERIES_COLUMNS), sort=False).ngroup().to_numpy()
    bounds = np.flatnonzero(np.diff(codes)) + 1
    smoothed = values.copy()
    for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(values)], strict=True):
        median, mad = _rolling(values[start:end], window)
        if hampel:
            # 1.4826 x MAD estimates the standard deviation of normally distributed noise.
            spike = np.abs(values[start:end] - median) > sigmas * 1.4826 * mad
            smoothed[start:end] = np.where(spike, median, values[start:end])
        else:
            smoothed[start:end] = median
    result = np.empty(len(frame))
    result[order] = smoothed
    before = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    after = np.where(mask & ~np.isnan(before), result, before)
    out = frame.copy()
    out[name] = after
    return Change(out, log_changes(rule, frame, name, before, after, mask))
