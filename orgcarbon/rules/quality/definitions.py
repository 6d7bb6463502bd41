"""Cleaning and validation rules as plain data: dataclasses that load from and dump to dicts/JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACTIONS",
    "CLEANING_ACTIONS",
    "DIMENSIONS",
    "KINDS",
    "LEVELS",
    "SEVERITIES",
    "VALIDATION_ACTIONS",
    "RuleDefinition",
    "RuleTestCase",
    "Scope",
    "rule_from_dict",
    "rule_to_dict",
]

KINDS = ("cleaning", "validation")
SEVERITIES = ("info", "warning", "error")
SEVERITY_ZH = {"info": "提示", "warning": "警告", "error": "错误"}
# record: one row of staging/activity data (vectorised). The others are facts aggregated per
# binding, process or organisation and month, evaluated on experta.
LEVELS = ("record", "binding_month", "process_month", "organization_month")
CLEANING_ACTIONS = (
    "fill",
    "correct",
    "clamp",
    "convert_unit",
    "deduplicate",
    "split",
    "merge",
    "mask",
    "smooth",
)
VALIDATION_ACTIONS = ("flag", "reject", "completeness")
ACTIONS = CLEANING_ACTIONS + VALIDATION_ACTIONS
DIMENSIONS = (
    "completeness",
    "accuracy",
    "consistency",
    "timeliness",
    "accessibility",
    "traceability",
)
_SCOPE_KEYS = ("processes", "materials", "sources", "tags", "categories")


@dataclass(frozen=True)
class Scope:
    """Which records a rule looks at; an empty tuple means "all"."""

    processes: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def items(self) -> list[tuple[str, tuple[str, ...]]]:
        """Non-empty filters as (key, allowed values)."""
        return [(k, getattr(self, k)) for k in _SCOPE_KEYS if getattr(self, k)]


@dataclass(frozen=True)
class RuleTestCase:
    """Input records and what the rule must do to them: hit these rows, or leave these values."""

    name: str
    rows: tuple[Mapping[str, Any], ...]
    expect_findings: tuple[int, ...] | None = None  # row ids the rule must report, exactly
    expect_values: tuple[Mapping[str, Any], ...] = ()  # {"row_id", "field", "value"} after cleaning
    expect_row_count: int | None = None  # rows left after cleaning (dedupe, split, merge, reject)


@dataclass(frozen=True)
class RuleDefinition:
    """One rule. ``condition`` selects the rows/facts it applies to ("" means every one in scope)."""

    id: str
    kind: str
    action: str
    name: str = ""
    condition: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    severity: str = "warning"
    message: str = ""
    level: str = "record"
    scope: Scope = field(default_factory=Scope)
    join: str | None = None  # a coarser fact level matched on organisation and month
    dimension: str = ""
    order: int = 0
    enabled: bool = True
    version: int = 1
    author: str = ""
    tests: tuple[RuleTestCase, ...] = ()

    @property
    def quality_dimension(self) -> str:
        """The scorecard dimension a finding of this rule counts against."""
        if self.dimension:
            return self.dimension
        if self.action == "completeness":
            return "completeness"
        return "accuracy" if self.level == "record" else "consistency"

    @property
    def label(self) -> str:
        """``id@version`` as the action log and findings name the rule."""
        return f"{self.id}@{self.version}"


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _test_from_dict(data: Mapping[str, Any], index: int) -> RuleTestCase:
    expect = data.get("expect_findings")
    count = data.get("expect_row_count")
    return RuleTestCase(
        name=str(data.get("name") or f"用例 {index + 1}"),
        rows=tuple(dict(r) for r in data.get("rows") or ()),
        expect_findings=None if expect is None else tuple(int(x) for x in expect),
        expect_values=tuple(dict(v) for v in data.get("expect_values") or ()),
        expect_row_count=None if count is None else int(count),
    )


def rule_from_dict(data: Mapping[str, Any]) -> RuleDefinition:
    """Build a definition from a dict (JSON); ``validate_rule_definition`` checks its meaning."""
    scope = data.get("scope") or {}
    return RuleDefinition(
        id=str(data.get("id") or ""),
        kind=str(data.get("kind") or ""),
        action=str(data.get("action") or ""),
        name=str(data.get("name") or ""),
        condition=str(data.get("condition") or ""),
        params=dict(data.get("params") or {}),
        severity=str(data.get("severity") or "warning"),
        message=str(data.get("message") or ""),
        level=str(data.get("level") or "record"),
        scope=Scope(**{k: _strings(scope.get(k)) for k in _SCOPE_KEYS}),
        join=str(data["join"]) if data.get("join") else None,
        dimension=str(data.get("dimension") or ""),
        order=int(data.get("order") or 0),
        enabled=bool(data.get("enabled", True)),
        version=int(data["version"]) if data.get("version") is not None else 1,
        author=str(data.get("author") or ""),
        tests=tuple(_test_from_dict(t, i) for i, t in enumerate(data.get("tests") or ())),
    )


def rule_to_dict(rule: RuleDefinition) -> dict[str, Any]:
    """The JSON form of a definition (round-trips through ``rule_from_dict``)."""
    return {
        "id": rule.id,
        "version": rule.version,
        "kind": rule.kind,
        "action": rule.action,
        "name": rule.name,
        "level": rule.level,
        "scope": {k: list(v) for k, v in rule.scope.items()},
        "condition": rule.condition,
        "params": dict(rule.params),
        "severity": rule.severity,
        "message": rule.message,
        "join": rule.join,
        "dimension": rule.dimension,
        "order": rule.order,
        "enabled": rule.enabled,
        "author": rule.author,
        "tests": [
            {
                "name": t.name,
                "rows": [dict(r) for r in t.rows],
                "expect_findings": None if t.expect_findings is None else list(t.expect_findings),
                "expect_values": [dict(v) for v in t.expect_values],
                "expect_row_count": t.expect_row_count,
            }
            for t in rule.tests
        ],
    }


def sort_rules(rules: Sequence[RuleDefinition]) -> list[RuleDefinition]:
    """Enabled rules in execution order: cleaning before validation, then ``order``, then id."""
    kind_rank = {"cleaning": 0, "validation": 1}
    return sorted(
        (r for r in rules if r.enabled), key=lambda r: (kind_rank.get(r.kind, 2), r.order, r.id)
    )
