"""Record-level rules over plain column arrays: the fast path of ``evaluate_records`` for big data.

``evaluate_records`` works on a pandas frame and builds an action log entry per changed row; at
millions of readings its per-rule copies and Python objects dominate. Here each published rule is
compiled once (``compile_columnar``: scope as look-up tables over category codes, the condition
through the same expression compiler, ``evaluate_vector``) and evaluated over a partition's columns
with a boolean "alive" mask instead of copied frames. The result names the rows removed (dropped
duplicates and rejected rows), the final value of every changed numeric field, and how many rows
each rule hit, the same as ``evaluate_records`` gives on the same rows in the same order
(``tests/integration/scale/test_columnar.py`` checks it).

Supported: cleaning ``deduplicate`` (exact and near), ``correct``, ``clamp``; every validation
action (``reject`` removes the row, the others only count). Any other action raises
``NotColumnar``; the caller then uses ``evaluate_records``. Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from orgcarbon.rules.expressions import Expression, compile_expression
from orgcarbon.rules.quality.definitions import RuleDefinition, sort_rules
from orgcarbon.rules.quality.frame import KEY_COLUMNS, NUMERIC_COLUMNS, TEXT_COLUMNS

__all__ = ["ColumnarResult", "ColumnarRules", "NotColumnar", "RecordColumns", "columns_from_frame",
           "compile_columnar"]

Mask = npt.NDArray[np.bool_]
NAT = np.iinfo(np.int64).min  # how pandas stores NaT in int64
PROVENANCE = ("row_id", "batch", "received_at", "due_at", "note")  # as reshape._PROVENANCE
SCOPE_COLUMN = {"processes": "process", "materials": "material", "sources": "source", "tags": "tags",
                "categories": "category"}
SUPPORTED_CLEANING = ("deduplicate", "correct", "clamp")


class NotColumnar(ValueError):
    """A rule this evaluator does not implement; use ``evaluate_records`` for the partition."""


@dataclass
class RecordColumns:
    """One partition as arrays: ids ascending, text as categoricals, numbers, timestamp in ns.

    A text column that is absent counts as "" everywhere, a numeric one as NaN, the timestamp as
    NaT: the same as ``ensure_columns`` adds, and a constant column never separates duplicates.
    """

    row_id: npt.NDArray[np.int64]
    text: dict[str, pd.Categorical] = field(default_factory=dict)
    numbers: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    timestamp: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.row_id)

    def codes(self, name: str) -> tuple[npt.NDArray[np.int64], list[str]]:
        """Integer codes (int8/16/32) and their values of a text column (absent → all "")."""
        if name not in self.text:
            return np.zeros(len(self), dtype=np.int8), [""]
        column = self.text[name]
        return column.codes, [str(c) for c in column.categories]

    def number(self, name: str) -> npt.NDArray[np.float64]:
        """A numeric column as float64 (absent → NaN)."""
        values = self.numbers.get(name)
        return np.full(len(self), np.nan) if values is None else values

    def stamps(self) -> npt.NDArray[np.int64]:
        """Timestamps as int64 nanoseconds, NaT as the smallest int64 (absent → all NaT)."""
        return np.full(len(self), NAT, dtype=np.int64) if self.timestamp is None else self.timestamp

    def key_names(self) -> list[str]:
        """Columns that say something about the value (the default keys of exact duplicates)."""
        names = [c for c in TEXT_COLUMNS if c in self.text] + list(self.numbers) + ["timestamp"]
        return [n for n in names if n not in PROVENANCE]


def columns_from_frame(frame: pd.DataFrame) -> RecordColumns:
    """The columns of a record frame (``partition_frame``, ``ensure_columns``), in row-id order."""
    if not frame["row_id"].is_monotonic_increasing:
        frame = frame.sort_values("row_id", kind="stable")
    text = {c: pd.Categorical(frame[c] if isinstance(frame[c].dtype, pd.CategoricalDtype)
                              else frame[c].fillna("").astype(str)) for c in TEXT_COLUMNS if c in frame.columns}
    numbers = {c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in frame.columns
               if c in NUMERIC_COLUMNS or (c not in text and c != "row_id" and pd.api.types.is_numeric_dtype(frame[c]))}
    stamps = None
    if "timestamp" in frame.columns:
        stamps = frame["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return RecordColumns(frame["row_id"].to_numpy(dtype=np.int64), text, numbers, stamps)


@dataclass
class ColumnarResult:
    """What the rules did: rows removed, final values of changed fields, hits per rule id."""

    removed: npt.NDArray[np.int64]
    changes: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]
    counts: dict[str, int]


@dataclass
class _State:
    columns: RecordColumns
    alive: Mask
    changed: dict[str, Mask] = field(default_factory=dict)
    luts: dict[tuple[str, tuple[str, ...]], Mask] = field(default_factory=dict)


def _scope_lut(state: _State, column: str, values: tuple[str, ...]) -> Mask:
    """Rows whose ``column`` is one of ``values`` (tags: one of the comma-separated labels)."""
    key = (column, values)
    if key not in state.luts:
        codes, categories = state.columns.codes(column)
        labels = pd.Series(categories, dtype=object)
        if column == "tags":
            pattern = "|".join(f"(?:^|,)\\s*{v}\\s*(?:,|$)" for v in values)
            lut = labels.str.contains(pattern, regex=True).to_numpy(dtype=bool)
        else:
            lut = labels.isin(values).to_numpy(dtype=bool)
        state.luts[key] = lut[codes]
    return state.luts[key]


@dataclass(frozen=True)
class _Compiled:
    rule: RuleDefinition
    condition: Expression | None

    def mask(self, state: _State) -> Mask:
        """Alive rows in scope whose condition is true (NaN counts as false)."""
        mask = state.alive.copy()
        for key, values in self.rule.scope.items():
            mask &= _scope_lut(state, SCOPE_COLUMN[key], values)
        if self.condition is None:
            return mask
        result = self.condition.evaluate_vector(_env(state, self.condition, self.rule), len(mask))
        if result.dtype != np.bool_:
            result = (result != 0) & ~np.isnan(result)
        return cast("npt.NDArray[np.bool_]", mask & result)


def _env(state: _State, expr: Expression, rule: RuleDefinition) -> dict[str, Any]:
    env: dict[str, Any] = {}
    for name in expr.variables:
        if name in state.columns.numbers or name in NUMERIC_COLUMNS:
            env[name] = state.columns.number(name)
        elif name in rule.params:
            env[name] = float(rule.params[name])
        else:
            raise NotColumnar(f"规则 {rule.id} 的条件使用了非数值列 {name}")
    return env


def _set_values(state: _State, rule: RuleDefinition, mask: Mask, after: npt.NDArray[np.float64]) -> int:
    """Write ``after`` into ``params.field`` on ``mask``; rows whose value really changed."""
    name = str(rule.params.get("field") or "quantity")
    if name not in NUMERIC_COLUMNS and name not in state.columns.numbers:
        raise NotColumnar(f"规则 {rule.id} 修改的字段 {name} 不是数值列")
    before = state.columns.number(name)
    new = np.where(mask, after, before)
    changed = mask & ~((before == new) | (np.isnan(before) & np.isnan(new)))
    state.columns.numbers[name] = new
    state.changed[name] = state.changed.get(name, np.zeros(len(mask), dtype=bool)) | changed
    return int(changed.sum())


def _key_codes(columns: RecordColumns, name: str, positions: npt.NDArray[np.intp] | None) -> npt.NDArray[np.int64]:
    """Codes of one key column (at ``positions``, None = all rows): equal codes ⇔ equal values.

    NaN equals NaN and 0.0 equals -0.0, as in ``DataFrame.duplicated``.
    """
    if name == "timestamp":
        values = columns.stamps()
    elif name in TEXT_COLUMNS:
        values = columns.codes(name)[0].astype(np.int64)
    else:
        numbers = columns.number(name) + 0.0  # -0.0 → 0.0
        numbers[np.isnan(numbers)] = np.nan  # one NaN bit pattern
        values = numbers.view(np.int64)
    return values if positions is None else values[positions]


def _varies(columns: RecordColumns, name: str) -> bool:
    """Whether a key column can separate rows at all (an absent or one-valued column cannot)."""
    if name in TEXT_COLUMNS:
        return len(columns.codes(name)[1]) > 1
    if name == "timestamp":
        return columns.timestamp is not None
    return name in columns.numbers


def _candidates(digest: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
    """Positions whose digest may be shared: two rounds of bucket counts, then an exact hash set."""
    positions = np.arange(len(digest))
    for shift in (np.uint64(0), np.uint64(32)):
        if len(positions) < 4096:
            break
        size = np.uint64(4 * len(positions) + 1)
        bucket = ((digest[positions] >> shift) % size).astype(np.int64)
        positions = positions[np.bincount(bucket, minlength=int(size))[bucket] > 1]
    shared = pd.Series(digest[positions]).duplicated(keep=False).to_numpy()
    return cast("npt.NDArray[np.intp]", positions[shared])


def _exact_duplicates(state: _State, rule: RuleDefinition, mask: Mask) -> Mask:
    """Rows equal on every key to an earlier row in scope (``DataFrame.duplicated(keep="first")``)."""
    keys = list(rule.params.get("keys") or state.columns.key_names())
    positions = np.flatnonzero(mask)
    drop = np.zeros(len(mask), dtype=bool)
    if len(positions) < 2:
        return drop
    everyone = len(positions) == len(mask)
    codes = [_key_codes(state.columns, k, None if everyone else positions) for k in keys
             if _varies(state.columns, k)]
    codes = [c for c in codes if c.min() != c.max()]  # a constant column separates nothing
    # A hash of all keys: rows that share no hash with another row are no duplicates. Only
    # the few that do are compared exactly.
    digest = np.zeros(len(positions), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in codes:
            digest = digest * np.uint64(0x9E3779B97F4A7C15) + c.view(np.uint64)
            digest ^= digest >> np.uint64(29)
    candidates = _candidates(digest)
    if not len(candidates):
        return drop
    exact = pd.DataFrame({i: c[candidates] for i, c in enumerate(codes)}) if codes else \
        pd.DataFrame({0: np.zeros(len(candidates))})
    drop[positions[candidates[exact.duplicated(keep="first").to_numpy()]]] = True
    return drop


def _group_codes(state: _State, keys: Sequence[str], positions: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
    """One integer per distinct combination of ``keys`` (equal ⇔ equal on every key)."""
    group, size = np.zeros(len(positions), dtype=np.int64), 1
    for key in keys:
        if key in TEXT_COLUMNS:
            codes, labels = state.columns.codes(key)
            codes, card = codes[positions].astype(np.int64), len(labels)
        else:
            codes, uniques = pd.factorize(_key_codes(state.columns, key, positions))
            codes, card = codes.astype(np.int64), len(uniques)
        if card <= 1:
            continue
        if size * card >= 2**62:  # renumber before the product could overflow
            group, uniques = pd.factorize(group)
            group, size = group.astype(np.int64), len(uniques)
        group, size = group * card + codes, size * card
    return group


def _order(group: npt.NDArray[np.int64], stamps: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Stable order by (group, time): readings usually arrive in time order, so sort by group
    and check; else one combined key when it fits in 63 bits; else lexsort."""
    small = np.int16 if int(group.max(initial=0)) < 2**15 else np.int64  # int16: a radix sort
    order = np.argsort(group.astype(small), kind="stable")
    g, t = group[order], stamps[order]
    if ((g[1:] != g[:-1]) | (t[1:] >= t[:-1])).all():
        return order
    if (stamps != NAT).all():
        low = int(stamps.min())
        span = int(stamps.max()) - low + 1
        if (int(group.max(initial=0)) + 1) * span < 2**62:
            return np.argsort(group * span + (stamps - low), kind="stable")
    return np.lexsort((stamps, group))


def _near_duplicates(state: _State, rule: RuleDefinition, mask: Mask) -> Mask:
    """Rows within ``tolerance`` (and the time window) of the previous row of the same keys."""
    keys = list(rule.params.get("keys") or KEY_COLUMNS)
    tolerance = float(rule.params.get("tolerance") or 0.0)
    window = rule.params.get("window_seconds")
    positions = np.flatnonzero(mask)
    drop = np.zeros(len(mask), dtype=bool)
    if len(positions) < 2:
        return drop
    group = _group_codes(state, keys, positions)
    stamps = state.columns.stamps()[positions]
    timed = bool((stamps != NAT).any())
    # Order: keys, time, row id. Positions are in row-id order, so a stable sort keeps that last.
    order = _order(group, stamps) if timed else np.argsort(group, kind="stable")
    same = np.concatenate([[False], group[order][1:] == group[order][:-1]])
    values = state.columns.number(str(rule.params.get("field") or "quantity"))[positions][order]
    near = same & np.concatenate([[False], np.abs(np.diff(values)) <= tolerance])
    if window is not None and timed:
        seconds = stamps[order] / 1e9
        near &= np.concatenate([[False], np.abs(np.diff(seconds)) <= float(window)])
    drop[positions[order[near]]] = True
    return drop


@dataclass(frozen=True)
class ColumnarRules:
    """Record rules compiled once, in execution order; ``evaluate`` runs them on a partition."""

    rules: tuple[_Compiled, ...]

    @property
    def named_keys(self) -> frozenset[str]:
        """Columns that deduplication rules name as their keys (the provenance ones are read only then)."""
        return frozenset(str(k) for c in self.rules for k in (c.rule.params.get("keys") or ()))

    def evaluate(self, columns: RecordColumns) -> ColumnarResult:
        """Cleaning in order, then every validation on the cleaned rows (as ``evaluate_records``)."""
        if len(columns) > 1 and not (np.diff(columns.row_id) > 0).all():
            raise ValueError("row_id 必须严格递增")
        state = _State(columns, np.ones(len(columns), dtype=bool))
        counts: dict[str, int] = {}
        rejected = np.zeros(len(columns), dtype=bool)
        for compiled in self.rules:
            rule = compiled.rule
            mask = compiled.mask(state)
            if rule.kind == "validation":
                counts[rule.id] = int(mask.sum())
                if rule.action == "reject":
                    rejected |= mask
            elif rule.action == "deduplicate":
                drop = (_exact_duplicates if rule.params.get("mode") == "exact" else _near_duplicates)(
                    state, rule, mask)
                state.alive &= ~drop
                counts[rule.id] = int(drop.sum())
            else:
                counts[rule.id] = _set_values(state, rule, mask, _new_values(state, rule))
        removed = columns.row_id[~state.alive | rejected]
        changes = {name: (columns.row_id[m], columns.numbers[name][m]) for name, m in state.changed.items()}
        return ColumnarResult(removed, changes, counts)


def _new_values(state: _State, rule: RuleDefinition) -> npt.NDArray[np.float64]:
    name = str(rule.params.get("field") or "quantity")
    if rule.action == "correct":
        expr = compile_expression(str(rule.params["value"]))
        return expr.evaluate_vector(_env(state, expr, rule), len(state.alive)).astype(np.float64)
    low, high = rule.params.get("low"), rule.params.get("high")
    return np.clip(state.columns.number(name), -np.inf if low is None else float(low),
                   np.inf if high is None else float(high))


def compile_columnar(rules: Sequence[RuleDefinition]) -> ColumnarRules:
    """Compile the enabled record rules; ``NotColumnar`` if one needs ``evaluate_records``."""
    ordered = [r for r in sort_rules(rules) if r.level == "record"]
    compiled = []
    for rule in ordered:
        if rule.kind == "cleaning" and rule.action not in SUPPORTED_CLEANING:
            raise NotColumnar(f"规则 {rule.id} 的动作 {rule.action} 需要逐帧执行")
        if rule.kind not in ("cleaning", "validation"):
            continue  # evaluate_records runs neither loop for it
        condition = compile_expression(rule.condition) if rule.condition.strip() else None
        compiled.append(_Compiled(rule, condition))
    # Validations see the cleaned rows and never change them: after every cleaning rule.
    return ColumnarRules(tuple(sorted(compiled, key=lambda c: c.rule.kind != "cleaning")))
