"""Quality scorecard for the six dimensions of spec 6.2.3, with the row ids behind every score.

Per organisation, period (month; "" for whole-period values) and data set:

* completeness — expected binding-months present / expected. A binding is expected in every month
  in which the organisation reported any binding of that data set (or in every month given).
* accuracy — rows without an accuracy finding / rows (ranges, physical plausibility).
* consistency — rows without a consistency finding / rows (balances, cross-checks, sources).
* timeliness — rows with ``received_at`` ≤ ``due_at`` / rows that have a ``due_at``.
* accessibility — rows whose source was reachable / rows (``unreachable_sources`` names the others).
* traceability — rows with a ``source`` and a ``batch`` (file, request) / rows.

A score is None when nothing could be measured (no due dates, say); ``failing_rows`` and
``missing`` are what a UI drills down to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from orgcarbon.rules.quality.facts import BINDING
from orgcarbon.rules.quality.findings import Finding
from orgcarbon.rules.quality.frame import ensure_columns

__all__ = ["DimensionScore", "Scorecard", "scorecards"]


@dataclass(frozen=True)
class DimensionScore:
    """One dimension's score (0–1 or None), its counts and the rows/keys that lower it."""

    score: float | None
    checked: int
    passed: int
    failing_rows: tuple[int, ...] = ()
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scorecard:
    """The six dimensions for one organisation, period and data set."""

    organization: str
    period: str
    dataset: str
    dimensions: dict[str, DimensionScore] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "organization": self.organization,
            "period": self.period,
            "dataset": self.dataset,
            "dimensions": {
                name: {
                    "score": d.score,
                    "checked": d.checked,
                    "passed": d.passed,
                    "failing_rows": list(d.failing_rows),
                    "missing": list(d.missing),
                }
                for name, d in self.dimensions.items()
            },
        }


def _ratio(ids: np.ndarray[Any, Any], ok: np.ndarray[Any, Any]) -> DimensionScore:
    checked, passed = len(ids), int(ok.sum())
    failing = tuple(sorted(int(i) for i in ids[~ok]))
    return DimensionScore(passed / checked if checked else None, checked, passed, failing)


def _flagged(findings: Iterable[Finding], dimension: str) -> set[int]:
    return {r for f in findings if f.dimension == dimension for r in f.row_ids}


def _completeness(
    group: pd.DataFrame, everything: pd.DataFrame, month: str, months: Sequence[str] | None
) -> DimensionScore:
    if month == "" or (months is not None and month not in months):
        return DimensionScore(1.0 if len(group) else None, len(group), len(group))
    present = set(map(tuple, group[BINDING].drop_duplicates().to_numpy().tolist()))
    expected = set(map(tuple, everything[BINDING].drop_duplicates().to_numpy().tolist()))
    missing = tuple(sorted("/".join([*k, month]) for k in expected - present))
    return DimensionScore(
        (len(expected) - len(missing)) / len(expected) if expected else None,
        len(expected),
        len(expected) - len(missing),
        missing=missing,
    )


def scorecards(
    frame: pd.DataFrame,
    findings: Sequence[Finding],
    months: Sequence[str] | None = None,
    unreachable_sources: Iterable[str] = (),
) -> list[Scorecard]:
    """One scorecard per organisation × month × data set of ``frame`` (sorted)."""
    data = ensure_columns(frame)
    accuracy = _flagged(findings, "accuracy")
    consistency = _flagged(findings, "consistency")
    unreachable = set(unreachable_sources)
    out: list[Scorecard] = []
    keys = ["organization", "dataset"]
    for (org, dataset), everything in data.groupby(keys, sort=True):
        periods = sorted((set(everything["month"]) | set(months or ())) - {""})
        if (everything["month"] == "").any():
            periods = ["", *periods]
        for month in periods:
            group = everything[everything["month"] == month]
            ids = group["row_id"].to_numpy()
            due = group["due_at"].notna().to_numpy()
            on_time = (group["received_at"] <= group["due_at"]).to_numpy()
            dims = {
                "completeness": _completeness(group, everything, month, months),
                "accuracy": _ratio(ids, ~np.isin(ids, list(accuracy))),
                "consistency": _ratio(ids, ~np.isin(ids, list(consistency))),
                "timeliness": _ratio(ids[due], on_time[due]),
                "accessibility": _ratio(ids, ~group["source"].isin(unreachable).to_numpy()),
                "traceability": _ratio(
                    ids, ((group["source"] != "") & (group["batch"] != "")).to_numpy()
                ),
            }
            out.append(Scorecard(str(org), month, str(dataset), dims))
    return out
