"""What the evaluators produce: findings, the cleaning action log, and Chinese message rendering."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orgcarbon.rules.quality.definitions import SEVERITY_ZH, RuleDefinition

__all__ = ["ActionEntry", "Finding", "render_message", "severity_rank"]


@dataclass(frozen=True)
class Finding:
    """A rule fired: on which rows (or which fact's rows), how severe, and the message in Chinese."""

    rule_id: str
    rule_version: int
    severity: str
    row_ids: tuple[int, ...]
    message: str
    dimension: str = "accuracy"
    key: str = ""  # the fact's key for aggregate rules: organisation/process/…/month

    @property
    def severity_zh(self) -> str:
        """提示 / 警告 / 错误."""
        return SEVERITY_ZH.get(self.severity, self.severity)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule_id,
            "version": self.rule_version,
            "severity": self.severity,
            "rows": list(self.row_ids),
            "message": self.message,
            "dimension": self.dimension,
            "key": self.key,
        }

    def sort_key(self) -> tuple[Any, ...]:
        """Deterministic order: rows, then rule."""
        return (self.row_ids[:1] or (0,), self.rule_id, self.key, self.row_ids)


@dataclass(frozen=True)
class ActionEntry:
    """One change a cleaning rule made; ``field`` "*" for a whole row added or removed."""

    rule_id: str
    rule_version: int
    row_id: int
    field: str
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule_id,
            "version": self.rule_version,
            "row_id": self.row_id,
            "field": self.field,
            "before": _plain(self.before),
            "after": _plain(self.after),
        }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return None if math.isnan(number) else number


def severity_rank(severity: str) -> int:
    """info < warning < error."""
    return {"info": 0, "warning": 1, "error": 2}.get(severity, 0)


class _Values(dict[str, Any]):
    """Missing placeholders render as "—" rather than failing one message of a million."""

    def __missing__(self, key: str) -> str:
        return "—"


def _show(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return int(value) if value.is_integer() and abs(value) < 1e15 else round(value, 6)
    return value


_formatter = string.Formatter()


def render_message(rule: RuleDefinition, values: Mapping[str, Any]) -> str:
    """Fill the rule's Chinese template from a row/fact's values and the rule's params."""
    env = _Values({k: _show(v) for k, v in rule.params.items()})
    env.update({k: _show(v) for k, v in values.items()})
    env["rule"] = rule.name or rule.id
    try:
        return _formatter.vformat(rule.message, (), env)
    except (ValueError, TypeError, KeyError, IndexError):
        # A format spec that does not suit the value ({x:.2f} on "—"): show the raw template.
        return rule.message
