"""A regime's factor set: the library's factors chosen regime by regime, fallbacks listed.

For each kind of factor the regime names the factor regimes to try in order (``MEE-ETS`` first,
then ``GB/T 32151.5-2015``). The result is an ordinary ``FactorLibrary`` whose factors all carry
the regime's own key, so the unchanged engine selects them; ``choices`` says for each factor
which regime it came from, whether it is a fallback, and its evidence grade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from orgcarbon.rules.factors import Factor, FactorLibrary
from orgcarbon.rules.regimes.definition import FactorGroup

__all__ = ["FactorChoice", "RegimeLibrary", "fallback_notes", "regime_library"]

GROUP_NAMES = {
    "fuel": "燃料参数",
    "process": "过程排放因子",
    "fixed_carbon": "固碳/含碳产品排放因子",
    "heat": "热力排放因子",
}
# Factor kind → the factor-set group that governs it.
GROUP_OF_KIND = {
    "ncv": "fuel",
    "cc": "fuel",
    "of": "fuel",
    "process": "process",
    "fixed_carbon": "fixed_carbon",
    "heat": "heat",
}


@dataclass(frozen=True)
class FactorChoice:
    """Which factor a regime uses for (kind, material), and from which factor regime."""

    kind: str
    material: str
    factor_id: str
    version: str
    value: float
    unit: str
    source_regime: str
    fallback: bool  # not from the first regime of the group
    grade: str
    source: str
    note: str

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "kind": self.kind,
            "material": self.material,
            "factor_id": self.factor_id,
            "version": self.version,
            "value": self.value,
            "unit": self.unit,
            "source_regime": self.source_regime,
            "fallback": self.fallback,
            "grade": self.grade,
            "source": self.source,
            "note": self.note,
        }


@dataclass(frozen=True)
class RegimeLibrary:
    """The regime's library (factors re-labelled with the regime key) and the choices made."""

    library: FactorLibrary
    choices: Mapping[tuple[str, str], FactorChoice]

    def choice(self, kind: str, material: str) -> FactorChoice | None:
        """The choice for (kind, material), or None if no regime of the group has the factor."""
        return self.choices.get((kind, material))


def regime_library(
    library: FactorLibrary, regime_key: str, factor_set: Mapping[str, FactorGroup]
) -> RegimeLibrary:
    """Choose, for every (kind, material) the groups govern, the first regime that has a factor.

    Among the factors of that regime every version and validity period is kept, so the engine
    still picks by date and region as it does for GB/T. Kinds no group names (electricity) are
    kept unchanged, for the grid-factor lookup.
    """
    by_key: dict[tuple[str, str], list[Factor]] = {}
    for factor in library.factors:
        by_key.setdefault((factor.kind, factor.material), []).append(factor)
    chosen: list[Factor] = []
    choices: dict[tuple[str, str], FactorChoice] = {}
    for (kind, material), factors in by_key.items():
        group = factor_set.get(GROUP_OF_KIND.get(kind, ""))
        if group is None:
            chosen.extend(factors)
            continue
        for position, source_regime in enumerate(group.regimes):
            matching = [f for f in factors if f.regime == source_regime]
            if not matching:
                continue
            chosen.extend(replace(f, regime=regime_key) for f in matching)
            best = max(matching, key=lambda f: (f.valid_from is not None, f.valid_from, f.version))
            choices[(kind, material)] = FactorChoice(
                kind=kind,
                material=material,
                factor_id=best.id,
                version=best.version,
                value=best.value,
                unit=best.unit,
                source_regime=source_regime,
                fallback=position > 0,
                grade=best.grade,
                source=best.source,
                note=group.note,
            )
            break
    derived = FactorLibrary(
        tuple(chosen),
        dict(library.materials),
        default_regime=regime_key,
        grid_regime=library.grid_regime,
    )
    return RegimeLibrary(derived, choices)


def fallback_notes(choices: Iterable[FactorChoice]) -> list[str]:
    """One Chinese sentence per fallback: which materials took which regime's factors, and why."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for c in choices:
        if c.fallback:
            names = groups.setdefault(
                (GROUP_OF_KIND.get(c.kind, c.kind), c.source_regime, c.note), []
            )
            if c.material not in names:
                names.append(c.material)
    return [
        f"{GROUP_NAMES.get(group, group)}沿用 {regime}（{'、'.join(materials)}）：{note}"
        for (group, regime, note), materials in groups.items()
    ]
