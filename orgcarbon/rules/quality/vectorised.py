"""The vectorised evaluator: record-level rules over a whole frame, one NumPy pass per rule."""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from orgcarbon.rules.expressions import compile_expression
from orgcarbon.rules.quality import cleaning, reshape
from orgcarbon.rules.quality.cleaning import Change, Mask, numeric_env
from orgcarbon.rules.quality.definitions import RuleDefinition, sort_rules
from orgcarbon.rules.quality.findings import ActionEntry, Finding, render_message
from orgcarbon.rules.quality.frame import (
    NUMERIC_COLUMNS,
    TEXT_COLUMNS,
    TIME_COLUMNS,
    ensure_columns,
)

__all__ = ["Evaluation", "RuleHits", "condition_mask", "evaluate_records", "scope_mask"]

Action = Callable[[RuleDefinition, pd.DataFrame, Mask], Change]
ACTIONS: dict[str, Action] = {
    "fill": cleaning.fill,
    "correct": cleaning.correct,
    "clamp": cleaning.clamp,
    "convert_unit": cleaning.convert_unit,
    "mask": cleaning.mask_text,
    "deduplicate": reshape.deduplicate,
    "split": reshape.split,
    "merge": reshape.merge,
    "smooth": reshape.smooth,
}


@dataclass(frozen=True)
class RuleHits:
    """Where one rule fired: positions in the frame as the rule saw it (rendered lazily)."""

    rule: RuleDefinition
    positions: np.ndarray[Any, np.dtype[np.intp]]
    frame: pd.DataFrame
    entries: tuple[ActionEntry, ...] = ()

    @property
    def row_ids(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Row ids the rule fired on."""
        return self.frame["row_id"].to_numpy()[self.positions]  # type: ignore[no-any-return]


@dataclass
class Evaluation:
    """Cleaned frame, action log and the hits behind the findings."""

    frame: pd.DataFrame
    actions: list[ActionEntry] = field(default_factory=list)
    hits: list[RuleHits] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Rows each rule fired on or changed, by rule id."""
        return {h.rule.id: len(h.positions) for h in self.hits}

    def findings(self) -> list[Finding]:
        """One finding per rule and row, message rendered in Chinese; deterministic order."""
        out: list[Finding] = []
        for hit in self.hits:
            out += _render(hit)
        return sorted(out, key=Finding.sort_key)


def _placeholders(template: str) -> list[str]:
    try:
        return [n for _, n, _, _ in string.Formatter().parse(template) if n]
    except ValueError:
        return []


def _render(hit: RuleHits) -> list[Finding]:
    rule = hit.rule
    names = [n for n in _placeholders(rule.message) if n in hit.frame.columns]
    rows = hit.frame.iloc[hit.positions]
    columns = {n: rows[n].to_numpy() for n in dict.fromkeys(["row_id", *names])}
    by_row: dict[int, ActionEntry] = {}
    for logged in hit.entries:
        by_row.setdefault(logged.row_id, logged)
    out = []
    for i in range(len(rows)):
        values: dict[str, Any] = {n: _py(c[i]) for n, c in columns.items()}
        entry = by_row.get(int(values["row_id"]))
        if entry is not None:
            values.update(field=entry.field, before=entry.before, after=entry.after)
        out.append(
            Finding(
                rule.id,
                rule.version,
                rule.severity,
                (int(values["row_id"]),),
                render_message(rule, values),
                rule.quality_dimension,
            )
        )
    return out


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class _MaskCache:
    """Scope masks and float columns for one frame version: rules share most of them."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.masks: dict[tuple[str, tuple[str, ...]], Mask] = {}

    def isin(self, column: str, values: tuple[str, ...]) -> Mask:
        key = (column, values)
        if key not in self.masks:
            series = self.frame[column]
            if column == "tags":
                pattern = "|".join(f"(?:^|,)\\s*{v}\\s*(?:,|$)" for v in values)
                self.masks[key] = series.str.contains(pattern, regex=True).to_numpy(dtype=bool)
            else:
                self.masks[key] = series.isin(values).to_numpy(dtype=bool)
        return self.masks[key]


_SCOPE_COLUMN = {
    "processes": "process",
    "materials": "material",
    "sources": "source",
    "tags": "tags",
    "categories": "category",
}


def scope_mask(rule: RuleDefinition, frame: pd.DataFrame, cache: _MaskCache | None = None) -> Mask:
    """Rows inside the rule's scope."""
    cache = cache or _MaskCache(frame)
    mask = np.ones(len(frame), dtype=bool)
    for key, values in rule.scope.items():
        mask &= cache.isin(_SCOPE_COLUMN[key], values)
    return mask


def condition_mask(
    rule: RuleDefinition, frame: pd.DataFrame, cache: _MaskCache | None = None
) -> Mask:
    """Rows in scope whose condition is true (NaN, i.e. unknown, counts as false)."""
    mask = scope_mask(rule, frame, cache)
    if not rule.condition.strip():
        return mask
    expr = compile_expression(rule.condition)
    result = expr.evaluate_vector(numeric_env(frame, expr.variables, rule.params), len(frame))
    if result.dtype != np.bool_:
        result = (result != 0) & ~np.isnan(result)
    combined: Mask = mask & result
    return combined


def _complete(frame: pd.DataFrame) -> bool:
    return all(
        c in frame.columns for c in ("row_id", *TEXT_COLUMNS, *NUMERIC_COLUMNS, *TIME_COLUMNS)
    )


def evaluate_records(frame: pd.DataFrame, rules: Sequence[RuleDefinition]) -> Evaluation:
    """Run the record-level rules: cleaning in order, then every validation on the cleaned frame."""
    current = frame if _complete(frame) else ensure_columns(frame)
    result = Evaluation(current)
    ordered = [r for r in sort_rules(rules) if r.level == "record"]
    for rule in (r for r in ordered if r.kind == "cleaning"):
        mask = condition_mask(rule, current)
        change = ACTIONS[rule.action](rule, current, mask)
        ids = {e.row_id for e in change.entries}
        touched = np.flatnonzero(current["row_id"].isin(ids).to_numpy())
        result.hits.append(RuleHits(rule, touched, current, tuple(change.entries)))
        result.actions += change.entries
        current = change.frame
    cache = _MaskCache(current)
    rejected = np.zeros(len(current), dtype=bool)
    for rule in (r for r in ordered if r.kind == "validation"):
        mask = condition_mask(rule, current, cache)
        result.hits.append(RuleHits(rule, np.flatnonzero(mask), current))
        if rule.action == "reject":
            rejected |= mask
    if rejected.any():
        # Every validation sees the same rows, so the order of rules cannot change the findings.
        ids = current["row_id"].to_numpy()
        quantity = current["quantity"].to_numpy()
        result.actions += [
            ActionEntry(r.id, r.version, int(ids[i]), "*", float(quantity[i]), None)
            for h in result.hits
            if (r := h.rule).action == "reject"
            for i in h.positions
        ]
        current = current.loc[~rejected].reset_index(drop=True)
    result.frame = current
    return result
