"""Aggregate-level rules evaluated vectorised over fact frames (joins by pandas merge), completeness.

The same rules run on experta in ``inference``; this path exists so the two can be compared and so
completeness (a missing fact, which experta cannot see cheaply) has one implementation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from orgcarbon.rules.expressions import compile_expression
from orgcarbon.rules.quality.definitions import RuleDefinition, sort_rules
from orgcarbon.rules.quality.facts import JOIN_KEYS, FactSet, missing_binding_months
from orgcarbon.rules.quality.findings import Finding, render_message
from orgcarbon.rules.quality.frame import JOIN_PREFIX

__all__ = [
    "fact_env",
    "fact_scope_mask",
    "joined_facts",
    "completeness_findings",
    "evaluate_facts",
    "fact_finding",
]

_FACT_SCOPE = {"processes": "process", "materials": "material", "categories": "category"}


def joined_facts(facts: FactSet, rule: RuleDefinition) -> pd.DataFrame:
    """The rule's level, with the joined level's variables beside each fact (prefixed)."""
    left = facts[rule.level]
    if rule.join is None:
        return left
    keys = JOIN_KEYS[(rule.level, rule.join)]
    right = facts[rule.join]
    values = [c for c in right.columns if c not in ("level", "key", "row_ids", *keys, "process")]
    renamed = right[[*keys, *values]].rename(
        columns={c: JOIN_PREFIX[rule.join] + c for c in values}
    )
    # Inner join: experta fires only when both facts exist, so the vectorised path must agree.
    return left.merge(renamed, on=keys, how="inner")


def fact_scope_mask(
    rule: RuleDefinition, frame: pd.DataFrame
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Facts inside the rule's scope (sources and tags do not survive aggregation)."""
    mask = np.ones(len(frame), dtype=bool)
    for key, values in rule.scope.items():
        column = _FACT_SCOPE.get(key)
        if column is not None and column in frame.columns:
            mask &= frame[column].isin(values).to_numpy(dtype=bool)
    return mask


def fact_env(
    frame: pd.DataFrame, names: Sequence[str], params: Mapping[str, Any]
) -> dict[str, Any]:
    """Condition variables over facts; a total nobody reported is NaN, not an error."""
    env: dict[str, Any] = {}
    for name in names:
        if name in frame.columns:
            env[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        elif name in params:
            env[name] = float(params[name])
        else:
            env[name] = np.full(len(frame), np.nan)
    return env


def fact_finding(rule: RuleDefinition, values: Mapping[str, Any]) -> Finding:
    """The finding of one fact, rendered from its values (both evaluators call this)."""
    clean = {k: v for k, v in values.items() if k != "row_ids"}
    return Finding(
        rule.id,
        rule.version,
        rule.severity,
        tuple(values["row_ids"]),
        render_message(rule, clean),
        rule.quality_dimension,
        str(values.get("key", "")),
    )


def _evaluate(rule: RuleDefinition, frame: pd.DataFrame) -> list[Finding]:
    mask = fact_scope_mask(rule, frame)
    if rule.condition.strip():
        expr = compile_expression(rule.condition)
        result = expr.evaluate_vector(fact_env(frame, expr.variables, rule.params), len(frame))
        if result.dtype != np.bool_:
            result = (result != 0) & ~np.isnan(result)
        mask &= result
    rows = frame.loc[mask].to_dict("records")
    return [fact_finding(rule, r) for r in rows]


def completeness_findings(
    rule: RuleDefinition, facts: FactSet, months: Sequence[str] | None = None
) -> list[Finding]:
    """One finding per binding and expected month without any value."""
    missing = missing_binding_months(facts, months)
    missing = missing[fact_scope_mask(rule, missing)]
    out = []
    for values in missing.to_dict("records"):
        values["key"] = "/".join(
            str(values[k])
            for k in ("organization", "process", "subprocess", "category", "material", "month")
        )
        out.append(fact_finding(rule, values))
    return out


def evaluate_facts(
    facts: FactSet, rules: Sequence[RuleDefinition], months: Sequence[str] | None = None
) -> list[Finding]:
    """Every aggregate-level rule over the facts, vectorised; deterministic order."""
    out: list[Finding] = []
    for rule in sort_rules(rules):
        if rule.level == "record":
            continue
        if rule.action == "completeness":
            out += completeness_findings(rule, facts, months)
        else:
            out += _evaluate(rule, joined_facts(facts, rule))
    return sorted(out, key=Finding.sort_key)
