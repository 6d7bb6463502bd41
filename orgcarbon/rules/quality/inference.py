"""The inference evaluator: stored rule definitions become an experta KnowledgeEngine at run time.

experta reads rules from class attributes, so the class is built with ``type()`` from the
definitions. Facts arrive aggregated and pre-joined (``facts``) and one engine runs per
organisation and month, which keeps its quadratic joins tiny. A fact carries its numeric values
in ``v``; the condition is the same compiled expression the vectorised path uses, evaluated on
scalars, so the two evaluators cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from experta import MATCH, TEST, Fact, KnowledgeEngine, P, Rule

from orgcarbon.rules.expressions import compile_expression
from orgcarbon.rules.quality.aggregate import fact_finding
from orgcarbon.rules.quality.definitions import RuleDefinition, sort_rules
from orgcarbon.rules.quality.facts import JOIN_KEYS, LEVEL_KEYS, FactSet
from orgcarbon.rules.quality.findings import Finding
from orgcarbon.rules.quality.frame import JOIN_PREFIX, NUMERIC_COLUMNS
from orgcarbon.rules.quality.vectorised import RuleHits

__all__ = ["build_engine_class", "run_inference", "run_record_rules_on_experta"]

_SCOPE_FIELD = {
    "processes": "process",
    "materials": "material",
    "categories": "category",
    "sources": "source",
    "tags": "tags",
}
_TEXT_FIELDS = ("organization", "process", "subprocess", "category", "material", "month")


class _Env(Mapping[str, Any]):
    """A fact's values, the rule's numeric params, and NaN for anything not reported."""

    def __init__(self, *layers: Mapping[str, Any]) -> None:
        self.layers = layers

    def __getitem__(self, key: str) -> Any:
        for layer in self.layers:
            if key in layer:
                return layer[key]
        return float("nan")

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter({k for layer in self.layers for k in layer})

    def __len__(self) -> int:
        return len(set(self))


def _predicate(rule: RuleDefinition) -> Callable[..., bool]:
    params = {k: float(v) for k, v in rule.params.items() if isinstance(v, int | float)}
    if not rule.condition.strip():
        return lambda *layers: True
    expr = compile_expression(rule.condition)

    def check(*layers: Mapping[str, Any]) -> bool:
        result = expr.evaluate_scalar(_Env(*layers, params))
        return bool(result) if isinstance(result, bool) else result == result and result != 0

    return check


def _scope_patterns(rule: RuleDefinition) -> dict[str, Any]:
    patterns: dict[str, Any] = {}
    for key, values in rule.scope.items():
        allowed = frozenset(values)
        if key == "tags":
            patterns["tags"] = P(lambda t, a=allowed: bool(a & {x.strip() for x in t.split(",")}))
        elif rule.level == "record" or key in ("processes", "materials", "categories"):
            patterns[_SCOPE_FIELD[key]] = P(lambda x, a=allowed: x in a)
    return patterns


def _engine_rule(index: int, rule: RuleDefinition) -> Any:
    check = _predicate(rule)
    first: dict[str, Any] = {"level": rule.level, "idx": MATCH.i, "v": MATCH.v}
    first.update(_scope_patterns(rule))
    if rule.join is None:

        def fire(engine: Any, i: int) -> None:
            engine.hits.append((index, i, {}))

        return Rule(Fact(**first), TEST(lambda v: check(v)))(fire)
    keys = JOIN_KEYS[(rule.level, rule.join)]
    prefix = JOIN_PREFIX[rule.join]
    first.update({k: getattr(MATCH, k) for k in keys if k not in first})
    second = Fact(level=rule.join, v=MATCH.w, **{k: getattr(MATCH, k) for k in keys})

    def fire_joined(engine: Any, i: int, w: Mapping[str, Any]) -> None:
        engine.hits.append((index, i, {prefix + k: x for k, x in w.items()}))

    def joined(v: Mapping[str, Any], w: Mapping[str, Any]) -> bool:
        return check(v, {prefix + k: x for k, x in w.items()})

    return Rule(Fact(**first), second, TEST(joined))(fire_joined)


def build_engine_class(rules: Sequence[RuleDefinition], name: str = "QualityEngine") -> type[Any]:
    """A KnowledgeEngine subclass with one experta rule per definition (order → salience)."""
    attrs: dict[str, Any] = {}
    for index, rule in enumerate(rules):
        attrs[f"rule_{index}"] = _engine_rule(index, rule)
    return type(name, (KnowledgeEngine,), attrs)


def _values(row: Mapping[str, Any], numeric: Sequence[str]) -> dict[str, float]:
    # NaN is left out: the condition sees it as NaN anyway, and frozen facts stay small.
    return {n: float(row[n]) for n in numeric if row[n] == row[n]}


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    skip = {"row_id", *LEVEL_KEYS["binding_month"]}
    return [c for c in frame.columns if c not in skip and frame[c].dtype.kind in "fi"]


def _declare(engine: Any, level: str, frame: pd.DataFrame) -> None:
    numeric = _numeric_columns(frame)
    texts = [c for c in (*_TEXT_FIELDS, "source", "tags") if c in frame.columns]
    engine.declare(
        *(
            Fact(level=level, idx=i, v=_values(row, numeric), **{c: row[c] for c in texts})
            for i, row in enumerate(frame.to_dict("records"))
        )
    )


def run_record_rules_on_experta(
    frame: pd.DataFrame, rules: Sequence[RuleDefinition]
) -> list[RuleHits]:
    """Record-level validation rules through experta, fact by fact (for comparison and tests)."""
    chosen = [r for r in sort_rules(rules) if r.level == "record" and r.kind == "validation"]
    engine = build_engine_class(chosen, "RecordEngine")()
    engine.reset()
    engine.hits = []
    _declare(engine, "record", frame[["row_id", *_TEXT_FIELDS, "source", "tags", *NUMERIC_COLUMNS]])
    engine.run()
    positions: dict[int, list[int]] = {i: [] for i in range(len(chosen))}
    for index, i, _joined in engine.hits:
        positions[index].append(i)
    return [
        RuleHits(rule, np.array(sorted(positions[k]), dtype=np.intp), frame)
        for k, rule in enumerate(chosen)
    ]


def _level_facts(level: str, frame: pd.DataFrame) -> tuple[list[dict[str, Any]], list[Fact]]:
    """Each fact of a level built once: the row as a dict (for messages) and the experta Fact."""
    numeric = _numeric_columns(frame)
    records = frame.to_dict("records")
    facts = [
        Fact(
            level=level,
            idx=i,
            v=_values(row, numeric),
            **{c: row[c] for c in _TEXT_FIELDS if c in row},
        )
        for i, row in enumerate(records)
    ]
    return records, facts


def run_inference(facts: FactSet, rules: Sequence[RuleDefinition]) -> list[Finding]:
    """Aggregate-level rules (not completeness) on experta, one run per organisation × month."""
    chosen = [r for r in sort_rules(rules) if r.level != "record" and r.action != "completeness"]
    if not chosen:
        return []
    # Building experta's network is the expensive part: build it once, reset it per partition.
    engine = build_engine_class(chosen, "InferenceEngine")()
    built = {level: _level_facts(level, frame) for level, frame in facts.levels.items()}
    groups = {
        level: frame.groupby(["organization", "month"], sort=True).indices
        for level, frame in facts.levels.items()
    }
    keys = sorted({key for g in groups.values() for key in g})
    out: list[Finding] = []
    for key in keys:
        engine.reset()
        engine.hits = []
        declared = [built[level][1][i] for level, g in groups.items() if key in g for i in g[key]]
        engine.declare(*declared)
        engine.run()
        for index, i, joined in engine.hits:
            rule = chosen[index]
            out.append(fact_finding(rule, {**built[rule.level][0][i], **joined}))
    return sorted(out, key=Finding.sort_key)
