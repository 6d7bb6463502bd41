"""碳比对: two selections compared line by line, and what-if scenarios computed in memory.

Driver decomposition (documented in docs/analysis.md). Lines are matched on a key: process,
sub-process, material, category and calendar month, plus the organisation node when both sides
cover the same nodes (period vs period); without it plants are compared by process name. Within a
key, A is the summed activity and EF the signed effective factor net/A, so A·EF is the key's signed
tCO2 exactly. For a key on both sides:

    Δ = A_new·EF_new − A_old·EF_old = (A_new − A_old)·EF_old  +  A_new·(EF_new − EF_old)
                                       activity effect             factor effect

A key on one side only (or with zero activity on a side) is the scope effect: +net_new or −net_old.
The three effects therefore add up to the total difference with no residual.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.analysis.ledger import COLUMNS, SOURCE
from orgcarbon.analysis.queries import Selection

Key = tuple[str, ...]


def fetch(session: Session, sel: Selection) -> list[dict[str, Any]]:
    """Every line of the selection with names (what comparisons and scenarios work on)."""
    return [dict(r._mapping) for r in session.execute(select(*COLUMNS).select_from(SOURCE).where(sel.where()))]


def _key(line: dict[str, Any], with_org: bool) -> Key:
    base = (line["process"] or "", line["subprocess"] or "", line["material"], line["category"], line["month"][5:])
    return ((line["organization"] or "",) if with_org else ()) + base


@dataclass
class Group:
    """Summed activity and signed tCO2 of one key on one side."""

    activity: float = 0.0
    net: float = 0.0
    unit: str = ""

    @property
    def ef(self) -> float:
        """Signed effective factor (net per unit of activity)."""
        return self.net / self.activity if self.activity else 0.0


def _groups(lines: Iterable[dict[str, Any]], with_org: bool) -> dict[Key, Group]:
    out: dict[Key, Group] = {}
    for line in lines:
        g = out.setdefault(_key(line, with_org), Group(unit=line["activity_unit"]))
        g.activity += line["activity"]
        g.net += line["net_tco2"]
    return out


@dataclass
class Comparison:
    """Totals of both sides, the three driver effects and the contributions per key."""

    total_old: float
    total_new: float
    activity_effect: float = 0.0
    factor_effect: float = 0.0
    scope_effect: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def difference(self) -> float:
        """New minus old."""
        return self.total_new - self.total_old

    def as_dict(self, limit: int | None = None) -> dict[str, Any]:
        """JSON-able, rows sorted by the size of their difference."""
        rows = sorted(self.rows, key=lambda r: -abs(r["difference"]))
        return {"total_old": self.total_old, "total_new": self.total_new, "difference": self.difference,
                "activity_effect": self.activity_effect, "factor_effect": self.factor_effect,
                "scope_effect": self.scope_effect, "rows": rows[:limit] if limit else rows}


def decompose(old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]], with_org: bool) -> Comparison:
    """Compare two sets of lines key by key into activity, factor and scope effects."""
    a, b = _groups(old, with_org), _groups(new, with_org)
    result = Comparison(sum(g.net for g in a.values()), sum(g.net for g in b.values()))
    for key in sorted(set(a) | set(b)):
        g_old, g_new = a.get(key), b.get(key)
        act = fac = scope = 0.0
        if g_old is not None and g_new is not None and g_old.activity and g_new.activity:
            act = (g_new.activity - g_old.activity) * g_old.ef
            fac = g_new.activity * (g_new.ef - g_old.ef)
            # A·EF reproduces net exactly up to rounding; keep the rounding out of the scope column.
            fac += (g_new.net - g_old.net) - (act + fac)
        else:
            scope = (g_new.net if g_new else 0.0) - (g_old.net if g_old else 0.0)
        result.activity_effect += act
        result.factor_effect += fac
        result.scope_effect += scope
        if act or fac or scope:
            result.rows.append({
                "key": list(key), "old": g_old.net if g_old else None, "new": g_new.net if g_new else None,
                "activity_old": g_old.activity if g_old else None, "activity_new": g_new.activity if g_new else None,
                "ef_old": g_old.ef if g_old else None, "ef_new": g_new.ef if g_new else None,
                "unit": (g_new or g_old).unit if (g_new or g_old) else "",
                "activity_effect": act, "factor_effect": fac, "scope_effect": scope, "difference": act + fac + scope,
            })
    return result


@dataclass(frozen=True)
class Change:
    """One what-if change: lines matching every given criterion get a new EF and/or scaled activity."""

    material: str | None = None
    category: str | None = None
    process: str | None = None
    organization: str | None = None
    month: str | None = None
    ef: float | None = None  # new emission factor, in the line's EF unit
    ef_scale: float | None = None
    activity_scale: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        """Read a change from request JSON; raise ValueError on bad numbers or no effect."""
        numbers = {k: float(data[k]) for k in ("ef", "ef_scale", "activity_scale") if data.get(k) not in (None, "")}
        texts = {k: str(data[k]) for k in ("material", "category", "process", "organization", "month")
                 if data.get(k) not in (None, "")}
        if not numbers:
            raise ValueError("需要 ef、ef_scale 或 activity_scale 之一")
        return cls(**texts, **numbers)

    def matches(self, line: dict[str, Any]) -> bool:
        """True when every criterion that is set equals the line's value."""
        return all(value is None or line[name] == value for name, value in (
            ("material", self.material), ("category", self.category), ("process", self.process),
            ("organization", self.organization), ("month", self.month)))

    def apply(self, line: dict[str, Any]) -> dict[str, Any]:
        """A changed copy of ``line`` (tCO2 = activity × EF, signed by the line's term)."""
        activity = line["activity"] * (self.activity_scale if self.activity_scale is not None else 1.0)
        ef = self.ef if self.ef is not None else line["ef"]
        ef *= self.ef_scale if self.ef_scale is not None else 1.0
        # Scale the stored figure rather than recompute it, so unchanged parts keep their exact value.
        if line["activity"] and line["ef"]:
            tco2 = line["tco2"] * (activity / line["activity"]) * (ef / line["ef"])
        else:
            tco2 = activity * ef
        return {**line, "activity": activity, "ef": ef, "tco2": tco2, "net_tco2": tco2 * line["sign"]}


def what_if(lines: Sequence[dict[str, Any]], changes: Sequence[Change]) -> dict[str, Any]:
    """The scenario against the baseline: totals, changed lines and the driver decomposition."""
    scenario, changed = [], []
    for line in lines:
        new = line
        for change in changes:
            if change.matches(new):
                new = change.apply(new)
        scenario.append(new)
        if new is not line and new["net_tco2"] != line["net_tco2"]:
            changed.append({"id": line["id"], "organization": line["organization"], "process": line["process"],
                            "material": line["material"], "month": line["month"], "before": line["net_tco2"],
                            "after": new["net_tco2"], "difference": new["net_tco2"] - line["net_tco2"]})
    comparison = decompose(lines, scenario, with_org=True)
    return {**comparison.as_dict(limit=50), "changed_lines": changed}
