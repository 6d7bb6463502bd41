"""Value-level cleaning actions: fill, correct, clamp, convert a unit, mask. Each is vectorised.

Every action takes the rule, the frame and the boolean mask of rows it applies to (scope and
condition already applied) and returns a ``Change``: the new frame and one log entry per change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from orgcarbon.rules.expressions import compile_expression
from orgcarbon.rules.quality.definitions import RuleDefinition
from orgcarbon.rules.quality.findings import ActionEntry
from orgcarbon.rules.quality.frame import SERIES_COLUMNS
from orgcarbon.rules.units import UnitError, default_units

__all__ = ["Change", "Mask", "numeric_env", "series_order"]

Mask = npt.NDArray[np.bool_]


@dataclass
class Change:
    """The frame after one rule, and what the rule changed (for the log and the findings)."""

    frame: pd.DataFrame
    entries: list[ActionEntry] = field(default_factory=list)


def numeric_env(frame: pd.DataFrame, names: tuple[str, ...], params: Any) -> dict[str, Any]:
    """Expression variables: frame columns as float arrays, numeric params as scalars."""
    env: dict[str, Any] = {}
    for name in names:
        if name in frame.columns:
            env[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            env[name] = float(params[name])
    return env


def log_changes(
    rule: RuleDefinition, frame: pd.DataFrame, name: str, before: Any, after: Any, mask: Mask
) -> list[ActionEntry]:
    """Entries for the rows in ``mask`` whose value really changed (NaN → NaN is no change)."""
    b = np.asarray(before)
    a = np.asarray(after)
    if b.dtype.kind == "f" or a.dtype.kind == "f":
        bf, af = b.astype(np.float64), a.astype(np.float64)
        changed = mask & ~((bf == af) | (np.isnan(bf) & np.isnan(af)))
    else:
        changed = mask & (b != a)
    ids = frame["row_id"].to_numpy()
    return [
        ActionEntry(rule.id, rule.version, int(ids[i]), name, _item(b[i]), _item(a[i]))
        for i in np.flatnonzero(changed)
    ]


def _item(value: Any) -> Any:
    value = value.item() if isinstance(value, np.generic) else value
    # None rather than NaN, so log entries compare equal and serialise as JSON null.
    return None if isinstance(value, float) and value != value else value


def series_order(frame: pd.DataFrame) -> npt.NDArray[np.intp]:
    """Positions sorted by series (binding and source), then month, time and row id."""
    keys = [frame["row_id"].to_numpy()]
    if frame["timestamp"].notna().any():
        keys.append(frame["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64))
    keys.append(frame["month"].to_numpy())
    keys += [frame[c].to_numpy() for c in reversed(SERIES_COLUMNS)]
    return np.lexsort(keys)


def _by_series(frame: pd.DataFrame, name: str, how: Callable[[Any], Any]) -> Any:
    """Apply ``how`` to each series' values in time order; return results in frame order."""
    order = series_order(frame)
    ordered = frame.iloc[order]
    values = ordered[name].astype(np.float64)
    result = how(values.groupby([ordered[c] for c in SERIES_COLUMNS], sort=False))
    out = np.empty(len(frame), dtype=np.float64)
    out[order] = np.asarray(result, dtype=np.float64)
    return out


def fill(rule: RuleDefinition, frame: pd.DataFrame, mask: Mask) -> Change:
    """Fill NaN values of ``params.field`` by previous value, interpolation, average or constant."""
    name, method = str(rule.params["field"]), str(rule.params["method"])
    before = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    target = mask & np.isnan(before)
    if not target.any():
        return Change(frame)
    if method == "constant":
        source = np.full(len(frame), float(rule.params["value"]))
    elif method == "previous":
        source = _by_series(frame, name, lambda g: g.ffill())
    elif method == "average":
        source = _by_series(frame, name, lambda g: g.transform("mean"))
    else:  # linear, between the known neighbours of the same series only
        source = _by_series(
            frame, name, lambda g: g.transform(lambda s: s.interpolate(limit_area="inside"))
        )
    after = np.where(target, source, before)
    out = frame.copy()
    out[name] = after
    return Change(out, log_changes(rule, frame, name, before, after, target))


def correct(rule: RuleDefinition, frame: pd.DataFrame, mask: Mask) -> Change:
    """Replace ``params.field`` by the expression ``params.value`` on the masked rows."""
    name = str(rule.params["field"])
    expr = compile_expression(str(rule.params["value"]))
    computed = expr.evaluate_vector(numeric_env(frame, expr.variables, rule.params), len(frame))
    before = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    after = np.where(mask, computed.astype(np.float64), before)
    out = frame.copy()
    out[name] = after
    return Change(out, log_changes(rule, frame, name, before, after, mask))


def clamp(rule: RuleDefinition, frame: pd.DataFrame, mask: Mask) -> Change:
    """Pull ``params.field`` into [low, high] on the masked rows; NaN stays NaN."""
    name = str(rule.params["field"])
    low = rule.params.get("low")
    high = rule.params.get("high")
    before = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    clipped = np.clip(
        before, -np.inf if low is None else float(low), np.inf if high is None else float(high)
    )
    after = np.where(mask, clipped, before)
    out = frame.copy()
    out[name] = after
    return Change(out, log_changes(rule, frame, name, before, after, mask))


def convert_unit(rule: RuleDefinition, frame: pd.DataFrame, mask: Mask) -> Change:
    """Convert ``params.field`` (default quantity) to ``params.to``; other dimensions are left."""
    name = str(rule.params.get("field") or "quantity")
    table = default_units()
    to = table.canonical(str(rule.params["to"]))
    units = frame["unit"].to_numpy(dtype=object)
    factors = np.full(len(frame), np.nan)
    for unit in pd.unique(units[mask]):
        try:
            factor = table.factor(str(unit), to)
        except UnitError:
            continue  # a unit of another dimension is not this rule's business
        factors[units == unit] = factor
    target = mask & ~np.isnan(factors) & (units != to)
    before = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    after = np.where(target, before * factors, before)
    new_units = np.where(target, to, units)
    out = frame.copy()
    out[name] = after
    out["unit"] = new_units
    entries = log_changes(rule, frame, name, before, after, target)
    entries += log_changes(rule, frame, "unit", units, new_units, target)
    return Change(out, entries)


def _mask_text(text: str, start: int, end: int, char: str) -> str:
    if len(text) <= start + end:
        return char * len(text)
    return (
        text[:start] + char * (len(text) - start - end) + (text[len(text) - end :] if end else "")
    )


def mask_text(rule: RuleDefinition, frame: pd.DataFrame, mask: Mask) -> Change:
    """Desensitise a text column, keeping ``keep_start``/``keep_end`` characters visible."""
    name = str(rule.params["field"])
    start = int(rule.params.get("keep_start") or 0)
    end = int(rule.params.get("keep_end") or 0)
    char = str(rule.params.get("char") or "*")[:1]
    before = frame[name].to_numpy(dtype=object)
    after = before.copy()
    for i in np.flatnonzero(mask):
        after[i] = _mask_text(str(before[i]), start, end, char)
    out = frame.copy()
    out[name] = after
    return Change(out, log_changes(rule, frame, name, before, after, mask))
