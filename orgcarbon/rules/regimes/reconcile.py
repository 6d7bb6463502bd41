"""Reconcile GB/T, national carbon market and CBAM totals: every difference explained by driver.

Each regime accounts the same activity records, so a difference is the sum, over records, of
(the record's tCO2 under the target) − (its tCO2 under GB/T), plus what the target adds that is
no record's line (CBAM's waste-gas corrections and electricity per production process). Each
record's difference goes to one driver, by why it differs:

- ``indirect``    the record is electricity or heat, counted differently or not at all;
- ``deductions``  a fixed-carbon / carbon-bearing product, not deducted or deducted otherwise;
- ``boundaries``  the record lies outside the target's boundary (an excluded or unmapped process);
- ``factors``     the same record under another factor set (MEE-ETS 0.037 for crude steel …);
- ``waste_gases`` CBAM's waste-gas and measurable-heat rules.

The drivers therefore add up exactly to the difference (to floating-point rounding). For display
they are rounded as a waterfall in cents, so the shown figures add up to the shown difference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from orgcarbon.rules.model import CATEGORY_NAMES
from orgcarbon.rules.regimes.cbam import CbamResult
from orgcarbon.rules.regimes.definition import DRIVER_NAMES, GBT_KEY, GBT_NAME
from orgcarbon.rules.regimes.national_ets import EtsResult
from orgcarbon.rules.results import Result

__all__ = [
    "DRIVER_ORDER",
    "Comparison",
    "Driver",
    "Reconciliation",
    "cents",
    "gbt_contributions",
    "reconcile",
]

DRIVER_ORDER = ("indirect", "deductions", "boundaries", "factors", "waste_gases")


def cents(value: float) -> int:
    """``value`` rounded half up to whole cents (0.01 tCO2), as an integer."""
    return int((Decimal(repr(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Driver:
    """One driver of a difference: its tCO2, the cents shown, and the items it is made of."""

    key: str
    name: str
    tco2: float
    display_cents: int  # waterfall-rounded: the shown drivers add up to the shown difference
    items: tuple[tuple[str, float], ...]

    @property
    def display(self) -> float:
        """The shown value (two decimals)."""
        return self.display_cents / 100


@dataclass(frozen=True)
class Comparison:
    """From one regime's total to another's, driver by driver."""

    source: str
    target: str
    source_total: float
    target_total: float
    drivers: tuple[Driver, ...]

    @property
    def difference(self) -> float:
        """target − source."""
        return self.target_total - self.source_total

    @property
    def explained(self) -> float:
        """Σ drivers (equal to ``difference`` up to floating-point rounding)."""
        return sum(d.tco2 for d in self.drivers)

    @property
    def difference_cents(self) -> int:
        """The shown difference: cents(target) − cents(source)."""
        return cents(self.target_total) - cents(self.source_total)


@dataclass(frozen=True)
class Reconciliation:
    """Totals side by side and the comparisons between them."""

    totals: Mapping[str, float]
    names: Mapping[str, str]
    comparisons: tuple[Comparison, ...]

    def comparison(self, source: str, target: str) -> Comparison | None:
        """The comparison source → target, if both totals exist."""
        return next((c for c in self.comparisons if (c.source, c.target) == (source, target)), None)


def gbt_contributions(result: Result) -> tuple[dict[str, float], dict[str, str]]:
    """Signed tCO2 of each record under GB/T and a label per record (category and material)."""
    found: dict[str, float] = {}
    labels: dict[str, str] = {}
    for line in result.lines:
        key = line.record_id if line.record_id is not None else f"row:{line.row}"
        found[key] = found.get(key, 0.0) + line.net_tco2
        where = f"{line.site}/{line.process}" if line.site else line.process
        labels[key] = f"{CATEGORY_NAMES.get(line.category, line.category)}：{line.material}（{where}）"
    return found, labels


def _drivers(
    items: Mapping[str, Mapping[str, float]], source_total: float, target_total: float
) -> tuple[Driver, ...]:
    drivers = []
    cumulative, shown = source_total, cents(source_total)
    for i, key in enumerate(DRIVER_ORDER):
        parts = items.get(key, {})
        value = sum(parts.values())
        cumulative += value
        now = cents(target_total) if i == len(DRIVER_ORDER) - 1 else cents(cumulative)
        drivers.append(
            Driver(
                key,
                DRIVER_NAMES[key],
                value,
                now - shown,
                tuple(sorted(((k, v) for k, v in parts.items() if v), key=lambda kv: -abs(kv[1]))),
            )
        )
        shown = now
    return tuple(drivers)


def _compare(
    source: Mapping[str, float],
    target: Mapping[str, float],
    drivers: Mapping[str, str],
    adjustments: Iterable[tuple[str, str, float]],
    labels: Mapping[str, str],
) -> dict[str, dict[str, float]]:
    """Items per driver: each record's (target − source), plus the target's adjustments."""
    items: dict[str, dict[str, float]] = {}
    for key in dict.fromkeys([*source, *target]):
        diff = target.get(key, 0.0) - source.get(key, 0.0)
        if not diff:
            continue
        driver = drivers.get(key) or ("factors" if key in target else "boundaries")
        label = labels.get(key, key)
        bucket = items.setdefault(driver, {})
        bucket[label] = bucket.get(label, 0.0) + diff
    for driver, label, value in adjustments:
        bucket = items.setdefault(driver, {})
        bucket[label] = bucket.get(label, 0.0) + value
    return items


def _minus(
    a: Mapping[str, Mapping[str, float]], b: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for driver in DRIVER_ORDER:
        parts = dict(a.get(driver, {}))
        for label, value in b.get(driver, {}).items():
            parts[label] = parts.get(label, 0.0) - value
        found[driver] = parts
    return found


def reconcile(
    gbt: Result, ets: EtsResult | None = None, cbam: Sequence[CbamResult] = ()
) -> Reconciliation:
    """GB/T, the national carbon market and the CBAM installations of the same records, compared."""
    base, labels = gbt_contributions(gbt)
    totals: dict[str, float] = {GBT_KEY: gbt.total_tco2}
    names: dict[str, str] = {GBT_KEY: GBT_NAME}
    comparisons: list[Comparison] = []
    to_ets: dict[str, dict[str, float]] | None = None
    if ets is not None:
        drivers = {e.key: e.driver for e in ets.excluded}
        drivers.update(
            {line.key: "deductions" for line in ets.lines if line.action == "reclassified"}
        )
        to_ets = _compare(base, ets.contributions(), drivers, (), labels)
        totals[ets.regime.key], names[ets.regime.key] = ets.total_tco2, ets.regime.name
        comparisons.append(
            Comparison(
                GBT_KEY,
                ets.regime.key,
                gbt.total_tco2,
                ets.total_tco2,
                _drivers(to_ets, gbt.total_tco2, ets.total_tco2),
            )
        )
    if cbam:
        contributions: dict[str, float] = {}
        drivers = {}
        adjustments: list[tuple[str, str, float]] = []
        for installation in cbam:
            for key, value in installation.contributions().items():
                contributions[key] = contributions.get(key, 0.0) + value
            drivers.update({e.key: e.driver for e in installation.excluded})
            adjustments += installation.adjustments()
        key = cbam[0].regime.key
        total = sum(c.total_tco2 for c in cbam)
        totals[key], names[key] = total, cbam[0].regime.name
        to_cbam = _compare(base, contributions, drivers, adjustments, labels)
        comparisons.append(
            Comparison(
                GBT_KEY, key, gbt.total_tco2, total, _drivers(to_cbam, gbt.total_tco2, total)
            )
        )
        if ets is not None and to_ets is not None:
            comparisons.append(
                Comparison(
                    ets.regime.key,
                    key,
                    ets.total_tco2,
                    total,
                    _drivers(_minus(to_cbam, to_ets), ets.total_tco2, total),
                )
            )
    return Reconciliation(totals, names, tuple(comparisons))
