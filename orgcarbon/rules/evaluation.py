"""Evaluate a model's formulas over columns: one call per formula, never one per record."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from orgcarbon.rules.expressions import Expression
from orgcarbon.rules.factor_resolution import PairTables
from orgcarbon.rules.factors import KIND_NAMES
from orgcarbon.rules.issues import Issue
from orgcarbon.rules.model import PARAMETERS, AccountingModel
from orgcarbon.rules.records import Records

__all__ = ["Evaluated", "evaluate_formulas"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_PARAM_NAMES = {**KIND_NAMES, "ef": "排放因子", "purity": "纯度", "quantity": "数量"}


@dataclass
class Evaluated:
    """Per-line activity, factor and their product."""

    activity: FloatArray
    ef: FloatArray
    tco2: FloatArray
    issues: list[Issue]


class _Group:
    """The records of one formula, with lazily gathered columns shared by both expressions."""

    def __init__(
        self,
        records: Records,
        tables: PairTables,
        pair: IntArray,
        quantity: FloatArray,
        idx: IntArray | None,
    ) -> None:
        self.records, self.tables, self.idx = records, tables, idx
        self.pair = pair if idx is None else pair[idx]
        self.quantity = quantity if idx is None else quantity[idx]
        self.size = len(self.pair)
        self._given: dict[str, tuple[FloatArray, BoolArray] | None] = {}
        self._columns: dict[str, FloatArray] = {}

    def given(self, name: str) -> tuple[FloatArray, BoolArray] | None:
        """Measured values of ``name`` in the group and where they are present, or None."""
        if name not in self._given:
            column = self.records.param(name)
            if column is not None and self.idx is not None:
                column = column[self.idx]
            present = None if column is None else ~np.isnan(column)
            self._given[name] = (
                None
                if column is None or present is None or not present.any()
                else (column, present)
            )
        return self._given[name]

    def column(self, name: str) -> FloatArray:
        """Full column of ``name`` for the group: measured where given, else the default."""
        if name not in self._columns:
            if name == "quantity":
                self._columns[name] = self.quantity
            elif name in PARAMETERS:
                values = self.tables.defaults[name][self.pair]
                measured = self.given(name)
                if measured is not None:  # measured values win over library defaults
                    values = np.where(measured[1], measured[0], values)
                self._columns[name] = values
            else:
                extra = self.records.param(name)
                self._columns[name] = (
                    np.full(self.size, np.nan)
                    if extra is None
                    else extra
                    if self.idx is None
                    else extra[self.idx]
                )
        return self._columns[name]

    def evaluate(self, expr: Expression) -> FloatArray:
        """Evaluate ``expr`` for every record of the group."""
        if not all(v in PARAMETERS for v in expr.variables):
            return expr.evaluate_vector({v: self.column(v) for v in expr.variables}, self.size)
        # Only defaults and sparse measurements: evaluate once per (rule, material) pair, then
        # re-evaluate just the records that carry a measured value.
        table = expr.evaluate_vector({v: self.tables.defaults[v] for v in expr.variables})
        values = np.broadcast_to(table, self.tables.defaults["ncv"].shape)[self.pair]
        measured = [g[1] for v in expr.variables if (g := self.given(v)) is not None]
        if measured:
            rows = np.flatnonzero(np.logical_or.reduce(measured))
            env = {v: self.column(v)[rows] for v in expr.variables}
            values[rows] = expr.evaluate_vector(env, len(rows))
        return values


# Below this share of the records a formula's rows are gathered; above it, evaluating the full
# columns and keeping the formula's rows is cheaper than gathering and scattering them.
_GATHER_SHARE = 0.2


def evaluate_formulas(
    model: AccountingModel,
    records: Records,
    tables: PairTables,
    rule_index: IntArray,
    pair: IntArray,
    quantity: FloatArray,
) -> Evaluated:
    """Evaluate each formula once over all of its records and report non-finite results."""
    n = len(records)
    formulas = model.formulas
    rule_formula = np.array([formulas.index(r.formula) for r in model.rules], dtype=np.int64)
    line_formula = rule_formula[rule_index] if len(formulas) > 1 else np.zeros(n, np.int64)
    counts = np.bincount(line_formula, minlength=len(formulas))
    full = _Group(records, tables, pair, quantity, None)  # shared by every full-length formula
    activity, ef = np.full(n, np.nan), np.full(n, np.nan)
    groups: list[tuple[_Group, int]] = []
    for f_index, formula in enumerate(formulas):
        count = int(counts[f_index])
        if count == 0:
            continue
        act_expr, fac_expr = formula.compiled(model.extra_variables)
        if count == n:
            activity, ef = full.evaluate(act_expr), full.evaluate(fac_expr)
            groups.append((full, f_index))
        elif count < _GATHER_SHARE * n:
            idx = np.flatnonzero(line_formula == f_index)
            group = _Group(records, tables, pair, quantity, idx)
            activity[idx], ef[idx] = group.evaluate(act_expr), group.evaluate(fac_expr)
            groups.append((group, f_index))
        else:
            mask = line_formula == f_index
            np.copyto(activity, full.evaluate(act_expr), where=mask)
            np.copyto(ef, full.evaluate(fac_expr), where=mask)
            groups.append((full, f_index))
    tco2 = activity * ef
    bad = ~np.isfinite(tco2)
    issues: list[Issue] = []
    if bad.any():
        for group, f_index in groups:
            act_expr, fac_expr = formulas[f_index].compiled(model.extra_variables)
            needed = act_expr.required_variables | fac_expr.required_variables
            required = [
                v for v in dict.fromkeys(act_expr.variables + fac_expr.variables) if v in needed
            ]
            mine = bad & (line_formula == f_index)
            issues += _missing(group, required, mine if group.idx is None else mine[group.idx])
    return Evaluated(activity, ef, tco2, issues)


def _missing(group: _Group, required: list[str], bad: BoolArray) -> list[Issue]:
    records = group.records
    rows = records.row_numbers() if group.idx is None else records.row_numbers()[group.idx]
    material = records.material if group.idx is None else records.material[group.idx]
    issues = []
    for j in np.flatnonzero(bad).tolist():
        absent = [v for v in required if np.isnan(group.column(v)[j])]
        name = records.materials[material[j]]
        if absent:
            listed = "、".join(f"{_PARAM_NAMES.get(v, v)}({v})" for v in absent)
            reason = f"物料“{name}”缺少{listed}：因子库和记录中都没有"
        else:
            reason = f"物料“{name}”的计算结果不是有限数值（请检查参数，如除数为零）"
        issues.append(Issue(int(rows[j]), "material", name, reason))
    return issues
