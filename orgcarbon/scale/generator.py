"""A deterministic synthetic steel group: plants, meter tags bound to bindings, hourly readings.

``GroupSpec`` describes the size; ``build_group`` creates the metamodel through the ORM (group,
plants, processes, sub-processes, published bindings and accounting model, and the published
reading rules of ``reading_rules``); ``chunks`` streams the readings of one plant, a few days at
a time, so that the year is never in memory. A chunk depends only on (seed, plant, day), so any
worker can generate any chunk and the result does not depend on how the work is split.

Planted defects, at the spec's rates: gaps (a reading that never arrives; never on the first
two tags of a binding, so every binding-hour keeps two readings), spikes (a meter glitch far
above the binding's physical maximum: the published ``reading-max-*`` rules reject it) and
duplicates (the same reading sent again under another id: ``dedupe-exact`` removes it). Tags of
one binding are at least 2 units apart and the noise is ±0.4, so ``dedupe-near`` (tolerance 0.5)
never fires on a genuine reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

# (process, sub-process, material, category, direction, unit sent, base per tag-hour, daily amplitude)
MATERIALS: tuple[tuple[str, str, str, str, str, str, float, float], ...] = (
    ("焦化", "炼焦", "洗精煤", "fuel_combustion", "in", "t", 40.0, 4.0),
    ("炼铁", "1#高炉", "焦炭", "fuel_combustion", "in", "t", 20.0, 1.0),
    ("炼铁", "喷煤", "烟煤", "fuel_combustion", "in", "t", 15.0, 1.0),
    ("烧结", "烧结机", "无烟煤", "fuel_combustion", "in", "t", 8.0, 0.5),
    ("轧钢", "加热炉", "天然气", "fuel_combustion", "in", "Nm3", 1500.0, 200.0),
    ("烧结", "配料", "石灰石", "process_flux", "in", "t", 30.0, 2.0),
    ("辅助系统", "机修", "电力", "purchased_electricity", "in", "kWh", 5000.0, 1500.0),
    ("连铸", "板坯连铸", "粗钢", "fixed_carbon_product", "out", "t", 150.0, 10.0),
    ("石灰窑", "石灰窑", "白云石", "process_flux", "in", "t", 10.0, 1.0),
)
# Unit sent by the meters → factor to the material's unit in mm_material (kWh → MWh, Nm3 → 10^4Nm3).
TO_MATERIAL_UNIT = {"t": 1.0, "kWh": 1e-3, "Nm3": 1e-4}
CHINA = timedelta(hours=8)
MAX_TAGS_PER_BINDING = 40
NORMAL, SPIKE, DUPLICATE = 0, 1, 2


@dataclass(frozen=True)
class GroupSpec:
    """Size and defect rates of a synthetic group; the defaults are the issue's full size."""

    plants: int = 20
    tags: int = 5000
    hours: int = 8760
    year: int = 2023
    seed: int = 2024
    gap_rate: float = 0.002
    spike_rate: float = 0.0005
    duplicate_rate: float = 0.001
    name: str = "合成钢铁集团"

    @property
    def tags_per_plant(self) -> int:
        """Tags of one plant (the spec's tags spread evenly)."""
        return max(1, self.tags // self.plants)

    @property
    def bindings_per_plant(self) -> int:
        """Bindings of one plant: every material, or fewer so each keeps at least three tags."""
        return max(1, min(len(MATERIALS), self.tags_per_plant // 3))

    @property
    def readings(self) -> int:
        """Readings the meters would send without gaps and duplicates."""
        return self.plants * self.tags_per_plant * self.hours

    def plant_name(self, plant: int) -> str:
        """Name of plant ``plant`` (0-based)."""
        return f"{self.name}{plant + 1:02d}厂"


@dataclass(frozen=True)
class Tag:
    """One meter tag: its plant, the binding template (index into MATERIALS) and its base value."""

    name: str
    plant: int
    material: int
    position: int  # index among the tags of its binding
    base: float


def plant_tags(spec: GroupSpec, plant: int) -> list[Tag]:
    """The tags of one plant, spread round-robin over the plant's bindings."""
    count, bindings = spec.tags_per_plant, spec.bindings_per_plant
    if -(-count // bindings) > MAX_TAGS_PER_BINDING:
        raise ValueError(f"每个绑定最多 {MAX_TAGS_PER_BINDING} 个测点：请增加工厂数或减少测点数")
    out = []
    for i in range(count):
        material, position = i % bindings, i // bindings
        out.append(Tag(f"P{plant + 1:02d}-T{i + 1:04d}", plant, material, position,
                       MATERIALS[material][6] * 0.7 + 2.0 * position))
    return out


def physical_max(material: int) -> float:
    """Upper bound of a genuine hourly reading of ``material`` per tag (the rule's ``high``)."""
    base, amplitude = MATERIALS[material][6], MATERIALS[material][7]
    return 3 * base + 3 * amplitude + 2.0 * MAX_TAGS_PER_BINDING + 10


@dataclass
class Chunk:
    """Readings of one plant over a few days, as columns (hour = hours since 1 Jan 00:00 UTC+8)."""

    plant: int
    tag: npt.NDArray[np.int64]  # index into plant_tags()
    hour: npt.NDArray[np.int64]
    quantity: npt.NDArray[np.float64]
    kind: npt.NDArray[np.int8]  # NORMAL, SPIKE or DUPLICATE
    gaps: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tag)


def day_chunk(spec: GroupSpec, plant: int, day: int, tags: list[Tag] | None = None) -> Chunk:
    """The readings of ``plant`` on ``day`` (0-based), deterministic in (seed, plant, day)."""
    tags = tags if tags is not None else plant_tags(spec, plant)
    first, last = day * 24, min(spec.hours, day * 24 + 24)
    hours = np.arange(first, last, dtype=np.int64)
    rng = np.random.default_rng([spec.seed, plant, day])
    n_tags = len(tags)
    base = np.array([t.base for t in tags])
    amplitude = np.array([MATERIALS[t.material][7] for t in tags])
    high = np.array([physical_max(t.material) for t in tags])
    shape = np.sin(2 * np.pi * (hours % 24) / 24)[:, None]
    values = base[None, :] + amplitude[None, :] * shape + rng.uniform(-0.4, 0.4, (len(hours), n_tags))
    gap = rng.random((len(hours), n_tags)) < spec.gap_rate
    gap &= np.array([t.position >= 2 for t in tags])[None, :]
    spike = (rng.random((len(hours), n_tags)) < spec.spike_rate) & ~gap
    values = np.where(spike, high[None, :] * rng.uniform(2.0, 5.0, (len(hours), n_tags)), values)
    dup = (rng.random((len(hours), n_tags)) < spec.duplicate_rate) & ~gap
    keep = ~gap
    tag_grid = np.broadcast_to(np.arange(n_tags, dtype=np.int64)[None, :], values.shape)
    hour_grid = np.broadcast_to(hours[:, None], values.shape)
    kind = np.where(spike, SPIKE, NORMAL).astype(np.int8)
    # Row order is hour-major, tags in order; the resent duplicates follow at the end.
    tag = np.concatenate([tag_grid[keep], tag_grid[dup]])
    return Chunk(plant, tag, np.concatenate([hour_grid[keep], hour_grid[dup]]),
                 np.round(np.concatenate([values[keep], values[dup]]), 4),
                 np.concatenate([kind[keep], np.full(int(dup.sum()), DUPLICATE, np.int8)]), int(gap.sum()))


def chunks(spec: GroupSpec, plant: int, first_day: int = 0, days: int | None = None) -> Iterator[Chunk]:
    """Stream the plant's readings one day at a time from ``first_day``."""
    tags = plant_tags(spec, plant)
    last = -(-spec.hours // 24) if days is None else min(-(-spec.hours // 24), first_day + days)
    for day in range(first_day, last):
        yield day_chunk(spec, plant, day, tags)


def local_time(spec: GroupSpec, hour: int) -> datetime:
    """The reading time of ``hour`` as an aware datetime in China Standard Time."""
    start = datetime(spec.year, 1, 1, tzinfo=UTC) - CHINA
    return start + timedelta(hours=int(hour))


def month_of(spec: GroupSpec, hours: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Calendar month (1–12, China time) of each hour."""
    local = np.datetime64(f"{spec.year}-01-01T00", "h") + hours.astype("timedelta64[h]")
    return (local.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int64)


def expected_totals(spec: GroupSpec) -> dict[tuple[int, str, int], float]:
    """(plant, material, month) → the cleaned sum in the material's unit, from the generator alone."""
    totals: dict[tuple[int, str, int], float] = {}
    for plant in range(spec.plants):
        tags = plant_tags(spec, plant)
        material = np.array([t.material for t in tags])
        for chunk in chunks(spec, plant):
            good = chunk.kind == NORMAL
            months = month_of(spec, chunk.hour[good])
            mats = material[chunk.tag[good]]
            for m in np.unique(mats):
                for month in np.unique(months[mats == m]):
                    mask = (mats == m) & (months == month)
                    name, unit = MATERIALS[m][2], MATERIALS[m][5]
                    key = (plant, name, int(month))
                    totals[key] = totals.get(key, 0.0) + float(chunk.quantity[good][mask].sum()) * TO_MATERIAL_UNIT[unit]
    return totals


def defect_counts(spec: GroupSpec) -> dict[str, int]:
    """Readings sent, gaps, spikes and duplicates planted over the whole spec."""
    out = {"sent": 0, "gaps": 0, "spikes": 0, "duplicates": 0}
    for plant in range(spec.plants):
        for chunk in chunks(spec, plant):
            out["sent"] += len(chunk)
            out["gaps"] += chunk.gaps
            out["spikes"] += int((chunk.kind == SPIKE).sum())
            out["duplicates"] += int((chunk.kind == DUPLICATE).sum())
    return out
