"""Units of measure and conversions, described as data so the metamodel can feed them later."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_UNITS",
    "DIMENSION_NAMES",
    "UnitDef",
    "UnitError",
    "UnitTable",
    "convert",
    "default_units",
    "normalize_symbol",
]

# Chinese names of the base dimensions, for messages; unknown dimensions print as their key.
DIMENSION_NAMES: dict[str, str] = {
    "mass": "质量",
    "volume": "体积",
    "energy": "能量",
    "electric_energy": "电能",
    "co2_mass": "二氧化碳质量",
    "carbon_mass": "碳质量",
    "dimensionless": "无量纲",
}

# Electricity (MWh) and heat (GJ) are separate dimensions on purpose: the standard accounts them
# as different terms with different factors, so a silent MWh→GJ conversion would hide a data error.
# tC and tCO2 are separate too: turning carbon into CO2 is the 44/12 of a formula, not a unit change.
DEFAULT_UNITS: list[dict[str, Any]] = [
    {"symbol": "t", "dimension": "mass", "factor": 1.0, "name_zh": "吨", "aliases": ["吨"]},
    {"symbol": "kg", "dimension": "mass", "factor": 1e-3, "name_zh": "千克", "aliases": ["千克"]},
    {
        "symbol": "10^4Nm3",
        "dimension": "volume",
        "factor": 1e4,
        "name_zh": "万标准立方米",
        "aliases": ["万Nm3", "10000Nm3", "万Nm³", "10^4Nm³", "万标准立方米"],
    },
    {
        "symbol": "Nm3",
        "dimension": "volume",
        "factor": 1.0,
        "name_zh": "标准立方米",
        "aliases": ["Nm³", "标准立方米"],
    },
    {"symbol": "MWh", "dimension": "electric_energy", "factor": 1.0, "name_zh": "兆瓦时"},
    {"symbol": "kWh", "dimension": "electric_energy", "factor": 1e-3, "name_zh": "千瓦时"},
    {"symbol": "GJ", "dimension": "energy", "factor": 1.0, "name_zh": "吉焦"},
    {"symbol": "MJ", "dimension": "energy", "factor": 1e-3, "name_zh": "兆焦"},
    {"symbol": "TJ", "dimension": "energy", "factor": 1e3, "name_zh": "太焦"},
    {"symbol": "tCO2", "dimension": "co2_mass", "factor": 1.0, "name_zh": "吨二氧化碳"},
    {"symbol": "tC", "dimension": "carbon_mass", "factor": 1.0, "name_zh": "吨碳"},
]

ArrayOrFloat = TypeVar("ArrayOrFloat", float, npt.NDArray[np.float64])


class UnitError(ValueError):
    """A unit is unknown or two units cannot be converted; the message is Chinese."""


def normalize_symbol(symbol: str) -> str:
    """Return ``symbol`` without any whitespace (``"10^4 Nm3"`` → ``"10^4Nm3"``)."""
    return "".join(symbol.split())


@dataclass(frozen=True)
class UnitDef:
    """One unit: its symbol, dimension and factor to the dimension's base unit."""

    symbol: str
    dimension: str
    factor: float
    name_zh: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def dimension_zh(self) -> str:
        """Chinese name of the unit's dimension."""
        return DIMENSION_NAMES.get(self.dimension, self.dimension)


class UnitTable:
    """Lookup and conversion over a set of units built from plain data."""

    def __init__(self, units: Iterable[UnitDef]) -> None:
        self._units: dict[str, UnitDef] = {}
        self._lookup: dict[str, UnitDef] = {}
        for unit in units:
            if not unit.factor > 0:
                raise UnitError(f"单位“{unit.symbol}”的换算系数必须为正数")
            for name in (unit.symbol, *unit.aliases):
                key = normalize_symbol(name)
                if key in self._lookup:
                    raise UnitError(f"单位名称“{name}”重复定义")
                self._lookup[key] = unit
            self._units[unit.symbol] = unit

    @classmethod
    def from_records(cls, rows: Iterable[Mapping[str, Any]]) -> UnitTable:
        """Build a table from dicts with symbol, dimension, factor and optional name_zh/aliases."""
        units = [
            UnitDef(
                symbol=str(row["symbol"]),
                dimension=str(row["dimension"]),
                factor=float(row["factor"]),
                name_zh=str(row.get("name_zh") or ""),
                aliases=tuple(str(a) for a in row.get("aliases") or ()),
            )
            for row in rows
        ]
        return cls(units)

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and normalize_symbol(symbol) in self._lookup

    def __iter__(self) -> Iterator[UnitDef]:
        return iter(self._units.values())

    @property
    def symbols(self) -> tuple[str, ...]:
        """Canonical symbols of every unit in the table."""
        return tuple(self._units)

    def get(self, symbol: str) -> UnitDef:
        """Return the unit named ``symbol`` or one of its aliases; raise ``UnitError`` if unknown."""
        unit = self._lookup.get(normalize_symbol(symbol))
        if unit is None:
            known = "、".join(self._units)
            raise UnitError(f"未知单位“{symbol}”，可用单位：{known}")
        return unit

    def canonical(self, symbol: str) -> str:
        """Return the canonical symbol for ``symbol`` (aliases resolved)."""
        return self.get(symbol).symbol

    def factor(self, from_unit: str, to_unit: str) -> float:
        """Return the multiplier that turns a value in ``from_unit`` into ``to_unit``."""
        src, dst = self.get(from_unit), self.get(to_unit)
        if src.dimension != dst.dimension:
            raise UnitError(
                f"单位“{from_unit}”（{src.dimension_zh}）不能换算为“{to_unit}”（{dst.dimension_zh}）"
            )
        if src is dst:
            return 1.0
        return src.factor / dst.factor

    def convert(self, value: ArrayOrFloat, from_unit: str, to_unit: str) -> ArrayOrFloat:
        """Convert a number or a NumPy array from ``from_unit`` to ``to_unit``."""
        factor = self.factor(from_unit, to_unit)
        if isinstance(value, np.ndarray):
            return value * factor if factor != 1.0 else value.astype(np.float64, copy=True)
        return float(value) * factor


@lru_cache(maxsize=1)
def default_units() -> UnitTable:
    """Return the built-in unit table (t, kg, 10^4Nm3, Nm3, MWh, kWh, GJ, MJ, TJ, tCO2, tC)."""
    return UnitTable.from_records(DEFAULT_UNITS)


def convert(
    value: ArrayOrFloat, from_unit: str, to_unit: str, table: UnitTable | None = None
) -> ArrayOrFloat:
    """Convert ``value`` between units of one dimension; refuse cross-dimension conversions."""
    return (table or default_units()).convert(value, from_unit, to_unit)
