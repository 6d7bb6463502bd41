"""Activity records in columnar form: one NumPy array per field, categorical fields as codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from orgcarbon.rules.model import PARAMETERS

__all__ = ["RecordRow", "Records", "encode"]

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RecordRow:
    """One activity record as plain values (a package row, a form submission)."""

    category: str
    material: str
    quantity: float
    unit: str
    process: str = "全厂"
    subprocess: str = ""
    site: str = ""
    month: str = ""
    ncv: float | None = None
    cc: float | None = None
    of: float | None = None
    purity: float | None = None
    ef: float | None = None
    row: int = 0
    id: str | None = None
    extra: Mapping[str, float] = field(default_factory=dict)


def encode(values: Sequence[str]) -> tuple[CodeArray, tuple[str, ...]]:
    """Return integer codes and the label table for a sequence of strings."""
    table: dict[str, int] = {}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), np.int64, len(values))
    return codes, tuple(table)


@dataclass(frozen=True, eq=False)
class Records:
    """A batch of activity records; ``params`` columns hold NaN where a value was not given."""

    category: CodeArray
    material: CodeArray
    unit: CodeArray
    quantity: FloatArray
    site: CodeArray
    process: CodeArray
    subprocess: CodeArray
    month: CodeArray
    categories: tuple[str, ...]
    materials: tuple[str, ...]
    units: tuple[str, ...]
    sites: tuple[str, ...]
    processes: tuple[str, ...]
    subprocesses: tuple[str, ...]
    months: tuple[str, ...]
    params: Mapping[str, FloatArray] = field(default_factory=dict)
    row: CodeArray | None = None  # row numbers as the source numbers them; default 1..n
    ids: Sequence[str | None] | None = None

    def __post_init__(self) -> None:
        n = len(self.quantity)
        columns: dict[str, Any] = {
            "category": self.category,
            "material": self.material,
            "unit": self.unit,
            "site": self.site,
            "process": self.process,
            "subprocess": self.subprocess,
            "month": self.month,
            **self.params,
        }
        if self.row is not None:
            columns["row"] = self.row
        for name, column in columns.items():
            if len(column) != n:
                raise ValueError(f"列 {name} 的长度 {len(column)} 与记录数 {n} 不一致")
        if self.ids is not None and len(self.ids) != n:
            raise ValueError("记录标识的数量与记录数不一致")

    def __len__(self) -> int:
        return len(self.quantity)

    def param(self, name: str) -> FloatArray | None:
        """The measured column ``name``, or None if no record gives it."""
        return self.params.get(name)

    def row_numbers(self) -> CodeArray:
        """Row numbers for lineage and messages (1-based positions if none were given)."""
        return self.row if self.row is not None else np.arange(1, len(self) + 1, dtype=np.int64)

    def subset(self, keep: npt.NDArray[np.bool_]) -> Records:
        """The records where ``keep`` is true, label tables reduced to the labels still used."""
        index = np.flatnonzero(keep)

        def recode(codes: CodeArray, labels: tuple[str, ...]) -> tuple[CodeArray, tuple[str, ...]]:
            picked = codes[index]
            used = np.zeros(len(labels), dtype=bool)
            used[picked] = True
            remap = np.cumsum(used) - 1
            return remap[picked].astype(np.int64), tuple(
                label for label, u in zip(labels, used, strict=True) if u
            )

        category, categories = recode(self.category, self.categories)
        material, materials = recode(self.material, self.materials)
        unit, units = recode(self.unit, self.units)
        site, sites = recode(self.site, self.sites)
        process, processes = recode(self.process, self.processes)
        subprocess, subprocesses = recode(self.subprocess, self.subprocesses)
        month, months = recode(self.month, self.months)
        return Records(
            category=category,
            material=material,
            unit=unit,
            quantity=self.quantity[index],
            site=site,
            process=process,
            subprocess=subprocess,
            month=month,
            categories=categories,
            materials=materials,
            units=units,
            sites=sites,
            processes=processes,
            subprocesses=subprocesses,
            months=months,
            params={name: column[index] for name, column in self.params.items()},
            row=self.row_numbers()[index],
            ids=[self.ids[i] for i in index.tolist()] if self.ids is not None else None,
        )

    @classmethod
    def from_rows(cls, rows: Sequence[RecordRow]) -> Records:
        """Build the columnar batch from plain rows."""

        def column(name: str) -> tuple[CodeArray, tuple[str, ...]]:
            return encode([getattr(r, name) for r in rows])

        params: dict[str, FloatArray] = {}
        names = list(PARAMETERS) + sorted({k for r in rows for k in r.extra})
        for name in names:
            values = [(getattr(r, name) if name in PARAMETERS else r.extra.get(name)) for r in rows]
            if any(v is not None for v in values):
                params[name] = np.array(
                    [np.nan if v is None else float(v) for v in values], dtype=np.float64
                )
        category, categories = column("category")
        material, materials = column("material")
        unit, units = column("unit")
        site, sites = column("site")
        process, processes = column("process")
        subprocess, subprocesses = column("subprocess")
        month, months = column("month")
        return cls(
            category=category,
            material=material,
            unit=unit,
            quantity=np.array([float(r.quantity) for r in rows], dtype=np.float64),
            site=site,
            process=process,
            subprocess=subprocess,
            month=month,
            categories=categories,
            materials=materials,
            units=units,
            sites=sites,
            processes=processes,
            subprocesses=subprocesses,
            months=months,
            params=params,
            row=np.array([r.row or i + 1 for i, r in enumerate(rows)], dtype=np.int64),
            ids=[r.id for r in rows] if any(r.id is not None for r in rows) else None,
        )
