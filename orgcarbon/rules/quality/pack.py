"""Rule packs: a named, versioned list of rule definitions in one JSON file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from orgcarbon.rules.quality.definition_check import (
    DefinitionProblem,
    RuleDefinitionError,
    validate_rule_definition,
)
from orgcarbon.rules.quality.definitions import RuleDefinition, rule_from_dict, rule_to_dict

__all__ = ["DEFAULT_PACK", "RulePack", "default_pack", "load_pack", "pack_from_dict"]

DEFAULT_PACK = Path(__file__).with_name("packs") / "steel_default.json"


@dataclass(frozen=True)
class RulePack:
    """A pack as shipped or exported: its name, version and rules."""

    name: str
    version: int
    rules: tuple[RuleDefinition, ...]

    def rule(self, rule_id: str) -> RuleDefinition:
        """The rule with ``rule_id``; KeyError if absent."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "version": self.version,
            "rules": [rule_to_dict(r) for r in self.rules],
        }


def pack_from_dict(data: Mapping[str, Any]) -> RulePack:
    """Build and check a pack; raise ``RuleDefinitionError`` listing every problem of every rule."""
    raw = data.get("rules")
    if not isinstance(raw, list):
        raise RuleDefinitionError([DefinitionProblem("", "rules", "规则包缺少 rules 列表")])
    problems: list[DefinitionProblem] = []
    rules: list[RuleDefinition] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, Mapping):
            problems.append(DefinitionProblem("", "rules", "每条规则必须是一个对象"))
            continue
        found = validate_rule_definition(item)
        problems += found
        if not found:
            rule = rule_from_dict(item)
            if rule.id in seen:
                problems.append(DefinitionProblem(rule.id, "id", "规则编号重复"))
            seen.add(rule.id)
            rules.append(rule)
    if problems:
        raise RuleDefinitionError(problems)
    return RulePack(str(data.get("name") or ""), int(data.get("version") or 1), tuple(rules))


def load_pack(path: str | Path) -> RulePack:
    """Read a pack from a JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RuleDefinitionError([DefinitionProblem("", "", f"无法读取规则包：{exc}")]) from None
    if not isinstance(data, Mapping):
        raise RuleDefinitionError([DefinitionProblem("", "", "规则包顶层必须是一个对象")])
    return pack_from_dict(data)


@lru_cache(maxsize=1)
def default_pack() -> RulePack:
    """The shipped steel pack (``packs/steel_default.json``)."""
    return load_pack(DEFAULT_PACK)
