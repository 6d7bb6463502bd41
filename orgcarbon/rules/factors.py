"""Factor library: versioned, sourced factors and fuel parameters chosen by material, regime, region, date."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = [
    "C_TO_CO2",
    "GRID_REGIME",
    "GRID_REGIONS",
    "KIND_NAMES",
    "NATIONAL",
    "REGIME_GBT",
    "Factor",
    "FactorLibrary",
    "FactorNotFoundError",
    "FuelParameters",
    "GridChoice",
    "Material",
]

C_TO_CO2 = 44.0 / 12.0
REGIME_GBT = "GB/T 32151.5-2015"
GRID_REGIME = "MEE/NBS"
NATIONAL = "全国"
GRID_REGIONS = ("华北", "东北", "华东", "华中", "西北", "南方", "西南")

KIND_NAMES: dict[str, str] = {
    "ncv": "低位发热量",
    "cc": "单位热值含碳量",
    "of": "碳氧化率",
    "process": "过程排放因子",
    "fixed_carbon": "固碳产品排放因子",
    "electricity": "电网排放因子",
    "heat": "热力排放因子",
}


class FactorNotFoundError(LookupError):
    """No factor matches a request; never answered with a silent zero. Message is Chinese."""

    def __init__(self, message: str, kind: str = "", material: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.material = material

    def __str__(self) -> str:
        return self.message


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _version_key(version: str) -> tuple[int, ...] | tuple[str]:
    parts = version.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (version,)


@dataclass(frozen=True)
class Factor:
    """One published value with everything a result must record about where it came from."""

    id: str
    kind: str
    material: str
    value: float
    unit: str
    regime: str
    version: str = "1"
    source: str = ""
    grade: str = ""
    region: str | None = None
    year: int | None = None  # data year, for factors published per year (grid factors)
    valid_from: date | None = None
    valid_to: date | None = None
    references: tuple[str, ...] = ()
    measured: bool = False

    @classmethod
    def from_record(cls, row: Mapping[str, Any]) -> Factor:
        """Build from a plain dict (database row, JSON object)."""
        return cls(
            id=str(row["id"]),
            kind=str(row["kind"]),
            material=str(row["material"]),
            value=float(row["value"]),
            unit=str(row["unit"]),
            regime=str(row["regime"]),
            version=str(row.get("version") or "1"),
            source=str(row.get("source") or ""),
            grade=str(row.get("grade") or ""),
            region=row.get("region") or None,
            year=int(row["year"]) if row.get("year") not in (None, "") else None,
            valid_from=_date(row.get("valid_from")),
            valid_to=_date(row.get("valid_to")),
            references=tuple(str(r) for r in row.get("references") or ()),
            measured=bool(row.get("measured", False)),
        )

    def valid_on(self, on: date | None) -> bool:
        """True if the factor's validity period contains ``on`` (open ends allowed)."""
        if on is None:
            return True
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


@dataclass(frozen=True)
class Material:
    """A material or medium and the unit its activity data and default parameters refer to."""

    name: str
    unit: str
    name_en: str = ""
    state: str = ""


@dataclass(frozen=True)
class FuelParameters:
    """NCV, CC and OF of one fuel; the emission factor is always derived, never stored."""

    material: str
    ncv: Factor
    cc: Factor
    of: Factor

    @property
    def ef(self) -> float:
        """EF = CC × OF × 44/12, in tCO2/GJ."""
        return self.cc.value * self.of.value * C_TO_CO2

    @property
    def factors(self) -> tuple[Factor, Factor, Factor]:
        """The three parameter records, for lineage."""
        return (self.ncv, self.cc, self.of)


@dataclass(frozen=True)
class GridChoice:
    """The grid factor chosen for a region and year, and whether an earlier year stood in."""

    factor: Factor
    region: str
    requested_year: int
    used_year: int

    @property
    def fell_back(self) -> bool:
        """True when the requested year is not published and an earlier one was used."""
        return self.used_year != self.requested_year

    @property
    def note(self) -> str:
        """Chinese sentence saying which factor was used."""
        text = (
            f"电网排放因子：{self.region}电网 {self.used_year} 年 "
            f"{self.factor.value} {self.factor.unit}（{self.factor.source}）"
        )
        if self.fell_back:
            text += f"；{self.requested_year} 年因子尚未发布，沿用最近的 {self.used_year} 年因子"
        return text


@dataclass
class FactorLibrary:
    """An in-memory, immutable-by-convention set of factors and materials with selection rules."""

    factors: tuple[Factor, ...]
    materials: dict[str, Material] = field(default_factory=dict)
    default_regime: str = REGIME_GBT
    grid_regime: str = GRID_REGIME

    def __post_init__(self) -> None:
        self._by_key: dict[tuple[str, str], list[Factor]] = {}
        for factor in self.factors:
            self._by_key.setdefault((factor.kind, factor.material), []).append(factor)

    @classmethod
    def from_records(
        cls,
        factors: Iterable[Mapping[str, Any]],
        materials: Iterable[Mapping[str, Any]] = (),
        **options: str,
    ) -> FactorLibrary:
        """Build from plain dicts: factor rows (see ``Factor.from_record``) and material rows."""
        mats = {
            str(m["name"]): Material(
                name=str(m["name"]),
                unit=str(m["unit"]),
                name_en=str(m.get("name_en") or ""),
                state=str(m.get("state") or ""),
            )
            for m in materials
        }
        return cls(tuple(Factor.from_record(f) for f in factors), mats, **options)

    def material(self, name: str) -> Material | None:
        """Return the material called ``name``, or None."""
        return self.materials.get(name)

    def kinds_of(self, material: str) -> set[str]:
        """Kinds of factor the library holds for ``material`` (any regime)."""
        return {kind for (kind, mat) in self._by_key if mat == material}

    def find(
        self,
        kind: str,
        material: str,
        *,
        regime: str | None = None,
        region: str | None = None,
        on: date | None = None,
    ) -> Factor | None:
        """Return the best matching factor or None (see ``select``)."""
        regime = regime or self.default_regime
        matches = [
            f
            for f in self._by_key.get((kind, material), ())
            if f.regime == regime and f.valid_on(on) and f.region in (region, None)
        ]
        if not matches:
            return None
        # A regional value beats a general one; then the latest validity start; then the version.
        return max(
            matches,
            key=lambda f: (f.region is not None, f.valid_from or date.min, _version_key(f.version)),
        )

    def select(
        self,
        kind: str,
        material: str,
        *,
        regime: str | None = None,
        region: str | None = None,
        on: date | None = None,
    ) -> Factor:
        """Return the factor of ``kind`` for ``material``; raise ``FactorNotFoundError`` if none."""
        found = self.find(kind, material, regime=regime, region=region, on=on)
        if found is None:
            where = f"，地区：{region}" if region else ""
            when = f"，日期：{on.isoformat()}" if on else ""
            raise FactorNotFoundError(
                f"因子库中没有物料“{material}”的{KIND_NAMES.get(kind, kind)}"
                f"（方法：{regime or self.default_regime}{where}{when}）",
                kind,
                material,
            )
        return found

    def fuel(
        self,
        material: str,
        *,
        regime: str | None = None,
        region: str | None = None,
        on: date | None = None,
    ) -> FuelParameters:
        """Return NCV, CC and OF of ``material``; raise if any of the three is missing."""
        ncv, cc, of = (
            self.select(k, material, regime=regime, region=region, on=on)
            for k in ("ncv", "cc", "of")
        )
        return FuelParameters(material, ncv, cc, of)

    def grid_factor(
        self, region: str | None, year: int, *, regime: str | None = None
    ) -> GridChoice:
        """Grid factor for ``region`` and ``year``; falls back to the latest earlier published year."""
        if not region:
            raise FactorNotFoundError(
                "未指定电网区域（grid_region），无法选择电网排放因子", "electricity"
            )
        regime = regime or self.grid_regime
        published = [
            f
            for f in self._by_key.get(("electricity", "电力"), ())
            if f.regime == regime and f.region == region and f.year is not None and f.year <= year
        ]
        if not published:
            raise FactorNotFoundError(
                f"因子库中没有{region}电网 {year} 年及以前的排放因子（{regime}）",
                "electricity",
                "电力",
            )
        best = max(published, key=lambda f: (f.year or 0, _version_key(f.version)))
        return GridChoice(best, region, year, best.year or year)
