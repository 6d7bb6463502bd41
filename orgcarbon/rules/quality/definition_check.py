"""Refuse bad rule definitions before they are stored or published: every problem, with position."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orgcarbon.rules.expressions import ExpressionError, compile_expression
from orgcarbon.rules.quality.definitions import (
    CLEANING_ACTIONS,
    DIMENSIONS,
    KINDS,
    LEVELS,
    SEVERITIES,
    VALIDATION_ACTIONS,
    RuleDefinition,
    rule_from_dict,
)
from orgcarbon.rules.quality.facts import JOIN_KEYS
from orgcarbon.rules.quality.frame import NUMERIC_COLUMNS, TEXT_COLUMNS, fact_variables
from orgcarbon.rules.units import UnitError, default_units

__all__ = ["DefinitionProblem", "RuleDefinitionError", "load_rule", "validate_rule_definition"]

# Placeholders every message may use besides variables, params and text columns.
MESSAGE_NAMES = frozenset({"rule", "row_id", "field", "before", "after", "rows", "key"})
_FILL_METHODS = ("previous", "linear", "average", "constant")
_SMOOTH_METHODS = ("median", "hampel")
_MERGE_HOW = ("sum", "mean", "max", "min")
# Non-numeric params each action understands; numeric params are condition constants as well.
_TEXT_PARAMS: dict[str, frozenset[str]] = {
    "fill": frozenset({"field", "method"}),
    "correct": frozenset({"field", "value"}),
    "clamp": frozenset({"field"}),
    "convert_unit": frozenset({"field", "to"}),
    "deduplicate": frozenset({"mode", "keys", "field"}),
    "split": frozenset({"field", "parts"}),
    "merge": frozenset({"field", "keys", "how"}),
    "mask": frozenset({"field", "char"}),
    "smooth": frozenset({"field", "method"}),
}


@dataclass(frozen=True)
class DefinitionProblem:
    """One thing wrong with a definition: which field, where in it, and why (Chinese)."""

    rule_id: str
    field: str
    reason: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"第 {self.line} 行第 {self.column} 列：" if self.line is not None else ""
        return f"规则 {self.rule_id or '（无编号）'} 的 {self.field}：{where}{self.reason}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the rule editor."""
        return {
            "rule_id": self.rule_id,
            "field": self.field,
            "reason": self.reason,
            "line": self.line,
            "column": self.column,
        }


class RuleDefinitionError(ValueError):
    """A definition was refused; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[DefinitionProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Checker:
    def __init__(self, rule: RuleDefinition, extra: Iterable[str]) -> None:
        self.rule = rule
        self.problems: list[DefinitionProblem] = []
        params = rule.params
        self.numeric_params = {
            k for k, v in params.items() if isinstance(v, int | float) and not isinstance(v, bool)
        }
        self.variables = fact_variables(rule.level, rule.join) | frozenset(extra)
        if rule.level == "record":
            self.variables |= frozenset(extra)

    def bad(self, field: str, reason: str, line: int | None = None, col: int | None = None) -> None:
        self.problems.append(DefinitionProblem(self.rule.id, field, reason, line, col))

    def expression(self, field: str, source: str) -> None:
        try:
            compile_expression(source, self.variables | self.numeric_params)
        except ExpressionError as exc:
            self.bad(field, exc.reason, exc.line, exc.column)

    def param(self, name: str, kind: str, required: bool = True) -> Any:
        value = self.rule.params.get(name)
        if value is None:
            if required:
                self.bad(f"params.{name}", "缺少必填参数")
            return None
        ok = {
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "text": isinstance(value, str) and bool(value),
            "list": isinstance(value, list | tuple),
        }[kind]
        if not ok:
            zh = {"number": "数字", "int": "整数", "text": "非空文本", "list": "列表"}[kind]
            self.bad(f"params.{name}", f"应为{zh}")
            return None
        return value

    def numeric_field(self, name: str = "field", default: str | None = None) -> None:
        value = self.rule.params.get(name, default)
        if value is None:
            self.bad(f"params.{name}", "缺少必填参数")
        elif value not in self.variables:
            self.bad(f"params.{name}", f'未知的数值字段 "{value}"')

    def choice(self, name: str, allowed: tuple[str, ...]) -> Any:
        value = self.param(name, "text")
        if value is not None and value not in allowed:
            self.bad(f"params.{name}", f'"{value}" 不可用，可选：' + "、".join(allowed))
        return value


def _check_header(c: _Checker) -> None:
    rule = c.rule
    if not rule.id.strip():
        c.bad("id", "缺少规则编号")
    if rule.version < 1:
        c.bad("version", "版本号应为正整数")
    if rule.kind not in KINDS:
        c.bad("kind", f'未知的规则类型 "{rule.kind}"，可选：cleaning（清洗）、validation（校验）')
    elif rule.kind == "cleaning" and rule.action not in CLEANING_ACTIONS:
        c.bad(
            "action", f'动作 "{rule.action}" 不适用于清洗规则，可选：' + "、".join(CLEANING_ACTIONS)
        )
    elif rule.kind == "validation" and rule.action not in VALIDATION_ACTIONS:
        c.bad(
            "action",
            f'动作 "{rule.action}" 不适用于校验规则，可选：' + "、".join(VALIDATION_ACTIONS),
        )
    if rule.severity not in SEVERITIES:
        c.bad("severity", f'未知的严重程度 "{rule.severity}"，可选：info、warning、error')
    if rule.level not in LEVELS:
        c.bad("level", f'未知的层级 "{rule.level}"，可选：' + "、".join(LEVELS))
    elif rule.level != "record" and rule.action not in ("flag", "completeness"):
        c.bad("action", "汇总事实（按月/工序/组织）上的规则只能使用 flag 或 completeness")
    elif rule.action == "completeness" and rule.level != "binding_month":
        c.bad("level", "completeness 只适用于 binding_month 层级")
    if rule.join is not None and (rule.level, rule.join) not in JOIN_KEYS:
        c.bad(
            "join",
            f'不能关联 "{rule.join}"：只能从 binding_month/process_month 关联更粗的层级'
            "（process_month、organization_month）",
        )
    if rule.dimension and rule.dimension not in DIMENSIONS:
        c.bad("dimension", f'未知的质量维度 "{rule.dimension}"，可选：' + "、".join(DIMENSIONS))
    clash = sorted(c.numeric_params & c.variables)
    if clash:
        c.bad("params", "参数名与变量重名：" + "、".join(clash))


def _check_params(c: _Checker) -> None:
    action, params = c.rule.action, c.rule.params
    known = _TEXT_PARAMS.get(action, frozenset())
    for name in sorted(set(params) - c.numeric_params - known):
        c.bad(f"params.{name}", "未知参数（只有数字参数可以作为条件中的常量）")
    if action == "fill":
        c.numeric_field()
        if c.choice("method", _FILL_METHODS) == "constant":
            c.param("value", "number")
    elif action == "correct":
        c.numeric_field()
        value = c.param("value", "text")
        if value is not None:
            c.expression("params.value", value)
    elif action == "clamp":
        c.numeric_field()
        low, high = c.param("low", "number", False), c.param("high", "number", False)
        if low is None and high is None:
            c.bad("params", "clamp 至少需要 low 或 high")
        elif low is not None and high is not None and low > high:
            c.bad("params.low", f"下限 {low} 大于上限 {high}")
    elif action == "convert_unit":
        to = c.param("to", "text")
        if to is not None:
            try:
                default_units().get(to)
            except UnitError as exc:
                c.bad("params.to", str(exc))
    elif action == "deduplicate":
        mode = c.choice("mode", ("exact", "near"))
        for key in params.get("keys") or ():
            if key not in TEXT_COLUMNS and key not in NUMERIC_COLUMNS:
                c.bad("params.keys", f'未知的键字段 "{key}"')
        if mode == "near":
            c.numeric_field(default="quantity")
            for name in ("tolerance", "window_seconds"):
                value = c.param(name, "number", False)
                if value is not None and value < 0:
                    c.bad(f"params.{name}", "不能为负数")
    elif action == "split":
        c.numeric_field()
        parts = c.param("parts", "list")
        if parts is not None:
            shares: list[float] = [
                float(p["share"])
                for p in parts
                if isinstance(p, Mapping) and isinstance(p.get("share"), int | float)
            ]
            if len(parts) < 2 or len(shares) != len(parts) or min(shares) <= 0:
                c.bad("params.parts", "至少两部分，每部分需要正数 share")
            elif abs(sum(shares) - 1.0) > 1e-9:
                c.bad("params.parts", f"各部分 share 之和应为 1，实际 {sum(shares):g}")
    elif action == "merge":
        c.numeric_field()
        c.choice("how", _MERGE_HOW)
    elif action == "mask":
        name = c.param("field", "text")
        if name is not None and name not in TEXT_COLUMNS:
            c.bad("params.field", f'未知的文本字段 "{name}"')
        for key in ("keep_start", "keep_end"):
            value = c.param(key, "int", False)
            if value is not None and value < 0:
                c.bad(f"params.{key}", "不能为负数")
    elif action == "smooth":
        c.numeric_field()
        c.choice("method", _SMOOTH_METHODS)
        window = c.param("window", "int")
        if window is not None and window < 3:
            c.bad("params.window", "窗口至少为 3")


def _check_message(c: _Checker) -> None:
    names = c.variables | frozenset(c.rule.params) | frozenset(TEXT_COLUMNS) | MESSAGE_NAMES
    template = c.rule.message
    if not template.strip():
        c.bad("message", "缺少提示信息模板")
        return
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        c.bad("message", "模板中的花括号不成对（字面花括号请写成 {{ 或 }}）")
        return
    offset = 0
    for literal, name, _spec, _conv in parsed:
        offset += len(literal)
        if name is not None:
            if not name.isidentifier() or name not in names:
                c.bad("message", f'未知的占位符 "{{{name}}}"', 1, offset + 1)
            offset += len(name) + 2 + len(_spec or "") + (1 if _spec else 0)


def validate_rule_definition(
    rule: RuleDefinition | Mapping[str, Any], extra_variables: Iterable[str] = ()
) -> list[DefinitionProblem]:
    """Every problem of a definition (empty list: it can be stored); positions are 1-based."""
    if isinstance(rule, Mapping):
        data = rule
        try:
            rule = rule_from_dict(data)
        except (TypeError, ValueError) as exc:
            return [DefinitionProblem(str(data.get("id") or ""), "", f"定义结构无效：{exc}")]
    checker = _Checker(rule, extra_variables)
    _check_header(checker)
    if rule.condition.strip():
        if rule.action == "completeness":
            checker.bad("condition", "completeness 规则不使用条件")
        else:
            checker.expression("condition", rule.condition)
    _check_params(checker)
    _check_message(checker)
    return checker.problems


def load_rule(data: Mapping[str, Any], extra_variables: Iterable[str] = ()) -> RuleDefinition:
    """Build and check a definition; raise ``RuleDefinitionError`` listing every problem."""
    try:
        rule = rule_from_dict(data)
    except (TypeError, ValueError) as exc:
        problem = DefinitionProblem(str(data.get("id") or ""), "", f"定义结构无效：{exc}")
        raise RuleDefinitionError([problem]) from None
    problems = validate_rule_definition(rule, extra_variables)
    if problems:
        raise RuleDefinitionError(problems)
    return rule
