"""Mapping as data: source fields → organisation, sub-process, material, quantity, unit, time.

A mapping is a JSON-able dict edited in the UI (format in docs/connectors.md). ``parse_mapping``
refuses a bad definition with a Chinese message naming its position (``filters[1].expression``);
``Mapping.apply`` then works on a whole batch at once with pandas/NumPy. Conditions and derived
fields use the one expression language of ``orgcarbon.rules.expressions`` (numbers only); text
conditions are plain data operators so that no second parser exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orgcarbon.connectors.mapping_apply import MappedBatch, apply_mapping
from orgcarbon.connectors.registry import ConfigError
from orgcarbon.rules.expressions import Expression, ExpressionError, compile_expression
from orgcarbon.rules.units import UnitError, UnitTable, default_units

__all__ = [
    "RESERVED_COLUMNS",
    "TARGETS",
    "TEXT_OPERATORS",
    "Condition",
    "DerivedField",
    "FieldSource",
    "MappedBatch",
    "Mapping",
    "MappingError",
    "TagRule",
    "parse_mapping",
]

# target → Chinese label (for messages); quantity and unit are required.
TARGETS: dict[str, str] = {
    "organization": "组织",
    "sub_process": "子工序",
    "material": "物料",
    "quantity": "数量",
    "unit": "单位",
    "time": "时间",
}
TEXT_OPERATORS: dict[str, str] = {
    "eq": "等于",
    "ne": "不等于",
    "in": "属于",
    "not_in": "不属于",
    "contains": "包含",
    "startswith": "开头是",
}
RESERVED_COLUMNS = frozenset(
    {
        *TARGETS,
        "record_key",
        "tags",
        "source",
        "connector_id",
        "batch_id",
        "received_at",
        "reference",
    }
)


class MappingError(ConfigError):
    """A mapping definition is invalid; ``field`` is the position, e.g. ``derived[0].name``."""


@dataclass(frozen=True)
class FieldSource:
    """Where a target's value comes from: a source field, a constant or a numeric expression."""

    field: str | None = None
    value: Any = None
    expression: Expression | None = None


@dataclass(frozen=True)
class Condition:
    """A filter or tag condition: an expression over numbers, or a text operator on one field."""

    expression: Expression | None = None
    field: str | None = None
    op: str = "eq"
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class DerivedField:
    """A new column computed from source fields and earlier derived fields."""

    name: str
    expression: Expression


@dataclass(frozen=True)
class TagRule:
    """Attach ``tag`` to every record, or only to those meeting ``when``."""

    tag: str
    when: Condition | None = None


@dataclass(frozen=True)
class Mapping:
    """A validated mapping; ``apply`` turns a batch of records into staging-ready columns."""

    sources: dict[str, FieldSource]
    unit_aliases: dict[str, str] = field(default_factory=dict)
    target_unit: str | None = None
    sign: float = 1.0
    scale: float = 1.0
    derived: tuple[DerivedField, ...] = ()
    filters: tuple[Condition, ...] = ()
    tags: tuple[TagRule, ...] = ()
    units: UnitTable = field(default_factory=default_units, compare=False, repr=False)

    def apply(self, records: Sequence[Any]) -> MappedBatch:
        """Map ``records`` (``base.Record``) in one vectorised pass; bad rows are rejected, not lost."""
        return apply_mapping(self, records)


def _require_mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(where, "应为对象（键值对）")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(where, "应为非空文本")
    return value.strip()


def _expression(source: Any, where: str, names: set[str] | None) -> Expression:
    try:
        return compile_expression(_text(source, where), names)
    except ExpressionError as exc:
        raise MappingError(where, f"表达式无效：{exc}") from None


def _source(raw: Any, where: str, names: set[str] | None, numeric: bool) -> FieldSource:
    data = _require_mapping(raw, where)
    given = [k for k in ("field", "value", "expression") if k in data]
    extra = sorted(set(data) - {"field", "value", "expression"})
    if extra:
        raise MappingError(f"{where}.{extra[0]}", "未知配置项")
    if len(given) != 1:
        raise MappingError(
            where, "必须且只能给出 field（源字段）、value（常量）或 expression（表达式）之一"
        )
    if given[0] == "field":
        name = _text(data["field"], f"{where}.field")
        if names is not None and name not in names:
            raise MappingError(f"{where}.field", f"源数据中没有字段“{name}”")
        return FieldSource(field=name)
    if given[0] == "expression":
        if not numeric:
            raise MappingError(f"{where}.expression", "只有数量可以用表达式计算")
        return FieldSource(expression=_expression(data["expression"], f"{where}.expression", names))
    return FieldSource(value=data["value"])


def _condition(raw: Any, where: str, names: set[str] | None) -> Condition:
    data = _require_mapping(raw, where)
    if "expression" in data:
        if set(data) != {"expression"}:
            raise MappingError(where, "表达式条件只能包含 expression")
        return Condition(expression=_expression(data["expression"], f"{where}.expression", names))
    extra = sorted(set(data) - {"field", "op", "value", "values"})
    if extra:
        raise MappingError(f"{where}.{extra[0]}", "未知配置项")
    name = _text(data.get("field"), f"{where}.field")
    op = data.get("op", "eq")
    if op not in TEXT_OPERATORS:
        known = "、".join(f"{k}（{v}）" for k, v in TEXT_OPERATORS.items())
        raise MappingError(f"{where}.op", f"未知运算“{op}”，可用：{known}")
    raw_values = data.get("values", [data["value"]] if "value" in data else None)
    if not isinstance(raw_values, list) or not raw_values:
        raise MappingError(f"{where}.values", "应给出 value 或非空列表 values")
    if op in ("eq", "ne", "contains", "startswith") and len(raw_values) != 1:
        raise MappingError(f"{where}.values", f"运算 {op} 只接受一个值")
    return Condition(field=name, op=op, values=tuple(str(v) for v in raw_values))


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise MappingError(where, "应为数字")
    return float(raw)


def parse_mapping(
    raw: Any, source_fields: Iterable[str] | None = None, units: UnitTable | None = None
) -> Mapping:
    """Validate a mapping dict; ``source_fields`` (if known, e.g. from OData metadata) are checked."""
    data = _require_mapping(raw, "mapping")
    allowed = {
        "fields",
        "unit_aliases",
        "target_unit",
        "sign",
        "scale",
        "derived",
        "filters",
        "tags",
    }
    extra = sorted(set(data) - allowed)
    if extra:
        raise MappingError(extra[0], "未知配置项")
    table = units or default_units()
    names = set(source_fields) if source_fields is not None else None

    derived: list[DerivedField] = []
    for i, item in enumerate(data.get("derived") or []):
        where = f"derived[{i}]"
        entry = _require_mapping(item, where)
        name = _text(entry.get("name"), f"{where}.name")
        if not name.isidentifier() or name.startswith("_"):
            raise MappingError(
                f"{where}.name",
                f"“{name}”不能作为字段名（须为字母、汉字、数字或下划线，不以数字或下划线开头）",
            )
        if name in RESERVED_COLUMNS or any(d.name == name for d in derived):
            raise MappingError(f"{where}.name", f"字段名“{name}”已被占用")
        derived.append(
            DerivedField(name, _expression(entry.get("expression"), f"{where}.expression", names))
        )
        if names is not None:
            names.add(name)  # later expressions may use earlier derived fields

    fields_raw = _require_mapping(data.get("fields"), "fields")
    unknown = sorted(set(fields_raw) - set(TARGETS))
    if unknown:
        raise MappingError(f"fields.{unknown[0]}", "未知目标字段，可用：" + "、".join(TARGETS))
    sources: dict[str, FieldSource] = {}
    for target in TARGETS:
        if target in fields_raw:
            sources[target] = _source(
                fields_raw[target], f"fields.{target}", names, target == "quantity"
            )
        elif target in ("quantity", "unit"):
            raise MappingError(f"fields.{target}", f"必须映射{TARGETS[target]}")

    aliases_raw = _require_mapping(data.get("unit_aliases") or {}, "unit_aliases")
    aliases = {str(k): _text(v, f"unit_aliases.{k}") for k, v in aliases_raw.items()}
    target_unit: str | None = None
    position = "unit_aliases"
    try:
        for code, symbol in aliases.items():
            position = f"unit_aliases.{code}"
            table.get(symbol)
        if "target_unit" in data:
            position = "target_unit"
            target_unit = table.canonical(_text(data["target_unit"], position))
        constant = sources["unit"].value
        if constant is not None:
            # A constant unit is known now, so a wrong or unconvertible one is refused now.
            position = "fields.unit.value"
            symbol = aliases.get(str(constant), str(constant))
            table.get(symbol)
            if target_unit is not None:
                table.factor(symbol, target_unit)
    except UnitError as exc:
        raise MappingError(position, str(exc)) from None

    sign = _number(data.get("sign", 1), "sign")
    if sign not in (1.0, -1.0):
        raise MappingError("sign", "只能是 1 或 -1")
    scale = _number(data.get("scale", 1), "scale")
    if not scale > 0:
        raise MappingError("scale", "必须为正数")

    filters = tuple(
        _condition(c, f"filters[{i}]", names) for i, c in enumerate(data.get("filters") or [])
    )
    tags: list[TagRule] = []
    for i, item in enumerate(data.get("tags") or []):
        entry = _require_mapping(item, f"tags[{i}]")
        tag = _text(entry.get("tag"), f"tags[{i}].tag")
        when = _condition(entry["when"], f"tags[{i}].when", names) if "when" in entry else None
        tags.append(TagRule(tag, when))
    return Mapping(
        sources, aliases, target_unit, sign, scale, tuple(derived), filters, tuple(tags), table
    )
