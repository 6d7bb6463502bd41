"""Apply a validated mapping to a batch of records, column by column (pandas/NumPy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from orgcarbon.rules.expressions import Expression
from orgcarbon.rules.units import UnitError

if TYPE_CHECKING:
    from orgcarbon.connectors.base import Record
    from orgcarbon.connectors.mapping import Condition, FieldSource, Mapping

__all__ = ["OUTPUT_COLUMNS", "MappedBatch", "RejectedRow", "apply_mapping"]

OUTPUT_COLUMNS = (
    "record_key",
    "organization",
    "sub_process",
    "material",
    "quantity",
    "unit",
    "time",
    "tags",
    "source",
    "connector_id",
    "batch_id",
    "received_at",
    "reference",
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RejectedRow:
    """A record the mapping could not turn into a staging row, with the Chinese reason."""

    record_key: str
    reference: str
    reason: str


@dataclass(frozen=True)
class MappedBatch:
    """The mapped rows (``OUTPUT_COLUMNS`` plus derived fields), rejected rows and counts."""

    frame: pd.DataFrame
    rejected: tuple[RejectedRow, ...] = ()
    filtered_out: int = 0
    total: int = 0
    derived_columns: tuple[str, ...] = field(default=())

    @property
    def accepted(self) -> int:
        """Number of rows ready for staging."""
        return len(self.frame)


class _Columns:
    """Source columns as text or as numbers, converted once per batch and cached."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.size = len(records)
        self.frame = pd.DataFrame.from_records(
            [dict(r.payload) for r in records], index=range(self.size)
        )
        self._numeric: dict[str, FloatArray] = {}
        self.derived: dict[str, FloatArray] = {}

    def text(self, name: str) -> pd.Series:
        if name not in self.frame:
            return pd.Series([""] * self.size, dtype=object)
        column = self.frame[name]
        return column.where(column.notna(), "").astype(str)

    def numeric(self, name: str) -> FloatArray:
        if name in self.derived:
            return self.derived[name]
        if name not in self._numeric:
            if name in self.frame:
                # OData decimals arrive as text ("12.345") or Decimal; both become float64 here.
                values = pd.to_numeric(self.frame[name].map(_number_or_none), errors="coerce")
                self._numeric[name] = values.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                self._numeric[name] = np.full(self.size, np.nan)
        return self._numeric[name]

    def evaluate(self, expression: Expression) -> npt.NDArray[Any]:
        env = {name: self.numeric(name) for name in expression.variables}
        return expression.evaluate_vector(env, size=self.size)


def _number_or_none(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return (value or "").strip() or None
    try:
        return float(value)  # Decimal, int, bool, NumPy scalars
    except (TypeError, ValueError):
        return None  # a date or an object is not a number; the row is rejected, not guessed


def _mask(columns: _Columns, condition: Condition) -> BoolArray:
    if condition.expression is not None:
        result = columns.evaluate(condition.expression)
        # NaN (a missing number) is not "true": a condition on an absent value does not match.
        return np.asarray(np.nan_to_num(result.astype(np.float64), nan=0.0) != 0, dtype=bool)
    assert condition.field is not None
    text = columns.text(condition.field)
    values = list(condition.values)
    if condition.op == "eq":
        series = text == values[0]
    elif condition.op == "ne":
        series = text != values[0]
    elif condition.op == "in":
        series = text.isin(values)
    elif condition.op == "not_in":
        series = ~text.isin(values)
    elif condition.op == "contains":
        series = text.str.contains(values[0], regex=False)
    else:
        series = text.str.startswith(values[0])
    return series.to_numpy(dtype=bool)


def _text_target(columns: _Columns, source: FieldSource | None) -> list[str | None]:
    if source is None:
        return [None] * columns.size
    if source.field is not None:
        return [v or None for v in columns.text(source.field).str.strip()]
    return [None if source.value is None else str(source.value)] * columns.size


def apply_mapping(mapping: Mapping, records: Sequence[Record]) -> MappedBatch:
    """Filter, derive, convert and tag ``records``; every input row is accepted, filtered or rejected."""
    columns = _Columns(records)
    n = columns.size
    for derived in mapping.derived:
        columns.derived[derived.name] = columns.evaluate(derived.expression).astype(np.float64)

    keep = np.ones(n, dtype=bool)
    for condition in mapping.filters:
        keep &= _mask(columns, condition)
    reasons: list[str | None] = [None] * n

    quantity_source = mapping.sources["quantity"]
    if quantity_source.expression is not None:
        quantity = columns.evaluate(quantity_source.expression).astype(np.float64)
        raw_quantity = quantity.astype(str)
    elif quantity_source.field is not None:
        quantity = columns.numeric(quantity_source.field).copy()
        raw_quantity = columns.text(quantity_source.field).to_numpy(dtype=object)
    else:
        quantity = np.full(n, _to_float(quantity_source.value))
        raw_quantity = np.full(n, str(quantity_source.value), dtype=object)
    for i in np.flatnonzero(keep & ~np.isfinite(quantity)):
        reasons[i] = f"数量“{raw_quantity[i]}”不是有效数字"

    unit_codes = _text_target(columns, mapping.sources["unit"])
    units = [mapping.unit_aliases.get(code or "", code or "") for code in unit_codes]
    factors = np.ones(n)
    canonical: list[str] = [""] * n
    for symbol in set(units):
        rows = [i for i, u in enumerate(units) if u == symbol]
        try:
            target = mapping.target_unit or mapping.units.canonical(symbol)
            factor = mapping.units.factor(symbol, target) if symbol else None
        except UnitError as exc:
            target, factor, message = "", None, str(exc)
        else:
            message = "缺少单位"
        for i in rows:
            if factor is None:
                reasons[i] = reasons[i] or message
            else:
                factors[i], canonical[i] = factor, target
    quantity = quantity * factors * mapping.scale * mapping.sign

    received = pd.to_datetime(
        pd.Series([r.provenance.received_at for r in records], dtype=object), utc=True
    )
    time_source = mapping.sources.get("time")
    if time_source is not None and time_source.field is not None:
        raw_time = (
            columns.frame[time_source.field]
            if time_source.field in columns.frame
            else pd.Series([None] * n)
        )
        times = pd.to_datetime(raw_time, utc=True, errors="coerce", format="mixed")
        for i in np.flatnonzero(keep & times.isna().to_numpy()):
            reasons[i] = reasons[i] or f"时间“{raw_time.iloc[i]}”无法识别"
    elif time_source is not None and time_source.value is not None:
        times = pd.Series(pd.to_datetime([time_source.value] * n, utc=True))
    else:
        times = received

    tag_masks = [
        (rule.tag, _mask(columns, rule.when) if rule.when else np.ones(n, bool))
        for rule in mapping.tags
    ]
    tags = [
        tuple(dict.fromkeys([*r.tags, *(tag for tag, mask in tag_masks if mask[i])]))
        for i, r in enumerate(records)
    ]

    ok = keep & np.array([reason is None for reason in reasons], dtype=bool)
    rows = np.flatnonzero(ok)
    data: dict[str, Any] = {
        "record_key": [records[i].key for i in rows],
        "organization": _pick(_text_target(columns, mapping.sources.get("organization")), rows),
        "sub_process": _pick(_text_target(columns, mapping.sources.get("sub_process")), rows),
        "material": _pick(_text_target(columns, mapping.sources.get("material")), rows),
        "quantity": quantity[rows],
        "unit": [canonical[i] for i in rows],
        "time": times.iloc[rows].reset_index(drop=True),
        "tags": [tags[i] for i in rows],
        "source": [records[i].provenance.source for i in rows],
        "connector_id": [records[i].provenance.connector_id for i in rows],
        "batch_id": [records[i].provenance.batch_id for i in rows],
        "received_at": received.iloc[rows].reset_index(drop=True),
        "reference": [records[i].provenance.reference for i in rows],
    }
    for derived in mapping.derived:
        data[derived.name] = columns.derived[derived.name][rows]
    rejected = tuple(
        RejectedRow(records[i].key, records[i].provenance.reference, reasons[i] or "")
        for i in np.flatnonzero(keep & ~ok)
    )
    return MappedBatch(
        frame=pd.DataFrame(data),
        rejected=rejected,
        filtered_out=int((~keep).sum()),
        total=n,
        derived_columns=tuple(d.name for d in mapping.derived),
    )


def _pick(values: list[str | None], rows: npt.NDArray[np.intp]) -> list[str | None]:
    return [values[i] for i in rows]


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
