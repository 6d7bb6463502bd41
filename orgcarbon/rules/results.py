"""Accounting results: totals, roll-ups and per-record lines that carry their lineage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from orgcarbon.rules.factors import Factor
from orgcarbon.rules.model import PARAMETERS, TERMS, Formula
from orgcarbon.rules.products import ProcessIntensity, ProductLine
from orgcarbon.rules.records import Records

__all__ = ["FactorUse", "Intensity", "Result", "ResultLine", "ResultLines", "Rollup"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Rollup:
    """Signed tCO2 of one level (sub-process, process, site, organisation) per period."""

    level: str
    keys: tuple[tuple[str, ...], ...]
    periods: tuple[str, ...]  # "YYYY-MM" months, or "YYYY" years after ``by_year``
    net: FloatArray  # (keys, periods), including indirect emissions
    direct: FloatArray  # (keys, periods), direct emissions only

    def totals(self, direct: bool = False) -> dict[tuple[str, ...], float]:
        """Sum over periods for each key."""
        values = (self.direct if direct else self.net).sum(axis=1)
        return {k: float(v) for k, v in zip(self.keys, values, strict=True)}

    def by_period(self, direct: bool = False) -> dict[str, float]:
        """Sum over keys for each period."""
        values = (self.direct if direct else self.net).sum(axis=0)
        return {p: float(v) for p, v in zip(self.periods, values, strict=True)}

    def by_year(self) -> Rollup:
        """The same roll-up with months added up into years."""
        years = tuple(dict.fromkeys(p[:4] for p in self.periods))
        index = np.array([years.index(p[:4]) for p in self.periods], dtype=np.int64)
        net = np.zeros((len(self.keys), len(years)))
        direct = np.zeros_like(net)
        np.add.at(net.T, index, self.net.T)
        np.add.at(direct.T, index, self.direct.T)
        return Rollup(self.level, self.keys, years, net, direct)


@dataclass(frozen=True)
class FactorUse:
    """A factor some result line used, as the results must record it."""

    name: str
    value: float
    unit: str
    source: str
    id: str
    version: str
    grade: str

    @classmethod
    def of(cls, factor: Factor, name: str | None = None) -> FactorUse:
        """Describe ``factor``; ``name`` defaults to material and kind."""
        return cls(
            name=name or f"{factor.material}/{factor.kind}",
            value=factor.value,
            unit=factor.unit,
            source=factor.source,
            id=factor.id,
            version=factor.version,
            grade=factor.grade,
        )


@dataclass(frozen=True)
class ResultLine:
    """One record's result with its lineage: record, formula, factors, activity, EF, tCO2."""

    row: int
    record_id: str | None
    site: str
    process: str
    subprocess: str
    month: str
    category: str
    term: str
    material: str
    activity: float
    activity_unit: str
    ef: float
    ef_unit: str
    tco2: float  # the term's value as the standard computes it (activity × EF)
    net_tco2: float  # signed contribution to the total (deducted terms negative)
    formula: Formula
    factors: tuple[FactorUse, ...]
    measured: tuple[str, ...]  # parameters taken from the record instead of the library

    @property
    def factor_source(self) -> str:
        """Short source text: the default factors' sources, or 实测值 when all were measured."""
        sources = list(dict.fromkeys(f.source for f in self.factors))
        if self.measured:
            sources.append("实测值：" + "、".join(self.measured))
        return "；".join(sources)


@dataclass(frozen=True, eq=False)
class ResultLines:
    """All lines in columnar form; ``line(i)`` or iteration builds the lineage objects on demand."""

    records: Records
    rule_index: npt.NDArray[np.int64]  # per line: index into ``categories``
    categories: tuple[str, ...]  # category keys, by rule index
    terms: tuple[str, ...]
    signs: tuple[int, ...]  # +1 added, -1 deducted; by rule index
    formulas: tuple[Formula, ...]  # by rule index
    pair_factors: dict[tuple[int, int], tuple[Factor, ...]]  # (rule, material) → defaults
    pair_units: dict[tuple[int, int], tuple[str, str]]  # (rule, material) → (activity, EF) unit
    activity: FloatArray
    ef: FloatArray
    tco2: FloatArray

    @cached_property
    def net(self) -> FloatArray:
        """Signed contribution of each line to the total (deducted terms negative)."""
        return self.tco2 * np.array(self.signs, dtype=np.float64)[self.rule_index]

    def __len__(self) -> int:
        return len(self.tco2)

    def __iter__(self) -> Iterator[ResultLine]:
        return (self.line(i) for i in range(len(self)))

    def line(self, i: int) -> ResultLine:
        """Build line ``i`` with its lineage."""
        rec = self.records
        rule, material = int(self.rule_index[i]), int(rec.material[i])
        measured = tuple(
            p for p in PARAMETERS if (col := rec.param(p)) is not None and not np.isnan(col[i])
        )
        # A measured value replaces the default it stands for: ncv/cc/of by name, any EF by "ef".
        factors = tuple(
            FactorUse.of(f)
            for f in self.pair_factors.get((rule, material), ())
            if (f.kind if f.kind in ("ncv", "cc", "of") else "ef") not in measured
        )
        activity_unit, ef_unit = self.pair_units[(rule, material)]
        return ResultLine(
            row=int(rec.row_numbers()[i]),
            record_id=rec.ids[i] if rec.ids is not None else None,
            site=rec.sites[rec.site[i]],
            process=rec.processes[rec.process[i]],
            subprocess=rec.subprocesses[rec.subprocess[i]],
            month=rec.months[rec.month[i]],
            category=self.categories[rule],
            term=self.terms[rule],
            material=rec.materials[material],
            activity=float(self.activity[i]),
            activity_unit=activity_unit,
            ef=float(self.ef[i]),
            ef_unit=ef_unit,
            tco2=float(self.tco2[i]),
            net_tco2=float(self.tco2[i]) * self.signs[rule],
            formula=self.formulas[rule],
            factors=factors,
            measured=measured,
        )


@dataclass(frozen=True)
class Intensity:
    """Emissions per tonne of the intensity product (crude steel)."""

    product: str
    quantity_t: float
    total_per_t: float
    direct_per_t: float


@dataclass(frozen=True)
class Result:
    """Everything ``compute`` returns; plain values and arrays, no database objects."""

    standard: str
    model: str
    model_version: str
    total_tco2: float
    direct_tco2: float
    indirect_tco2: float
    by_category: dict[str, float]  # each term as the standard computes it (deductions positive)
    by_process: dict[str, float]  # signed, across sites; adds up to the total
    term_periods: tuple[str, ...]
    term_by_period: FloatArray  # (TERMS, months) magnitudes
    subprocesses: Rollup
    processes: Rollup
    sites: Rollup
    organization: Rollup
    lines: ResultLines
    factors_used: tuple[FactorUse, ...]
    notes: tuple[str, ...]
    intensity: Intensity | None
    products: tuple[ProductLine, ...] = ()  # product-output records (no emission), with lineage
    process_intensity: tuple[ProcessIntensity, ...] = ()  # tCO2 per t of each process's product

    def by_category_per_period(self) -> dict[str, dict[str, float]]:
        """Each term's magnitude per month."""
        return {
            term: dict(zip(self.term_periods, map(float, self.term_by_period[i]), strict=True))
            for i, term in enumerate(TERMS)
        }
