"""Connector types by name, each with its config schema: a plain dataclass checked field by field.

Connector instances are data edited in the UI; this module turns such a dict into a typed config
or refuses it with a Chinese message naming the field, before anything connects anywhere.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from orgcarbon.connectors.base import Connector

__all__ = [
    "ConfigError",
    "ConnectorType",
    "connector_types",
    "create_connector",
    "get_connector_type",
    "register_connector_type",
    "validate_config",
]

C = TypeVar("C")

_TYPE_NAMES_ZH = {
    str: "文本",
    int: "整数",
    float: "数字",
    bool: "是/否",
    dict: "对象",
    tuple: "列表",
}


class ConfigError(ValueError):
    """A connector or mapping definition is invalid; ``field`` names where, ``str()`` is Chinese."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"配置项“{field}”：{reason}" if field else reason)


def _label(f: dataclasses.Field[Any]) -> str:
    label = f.metadata.get("label")
    return f"{f.name}（{label}）" if label else f.name


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check ``value`` against a simple annotation; returns the value in its declared type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(where, "应为列表")
        return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(where, "应为对象（键值对）")
        value_type = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if annotation is Any:
        return value
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float) and isinstance(value, bool):
        raise ConfigError(where, f"应为{_TYPE_NAMES_ZH[annotation]}")
    if isinstance(annotation, type) and not isinstance(value, annotation):
        raise ConfigError(where, f"应为{_TYPE_NAMES_ZH.get(annotation, annotation.__name__)}")
    return value


def validate_config(schema: type[C], raw: Mapping[str, Any]) -> C:
    """Build ``schema`` from ``raw``: unknown, missing and mistyped fields are refused in Chinese.

    A schema may define ``check(self) -> None`` for rules across fields; it raises ``ConfigError``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError("", "连接器配置应为对象（键值对）")
    fields = {f.name: f for f in dataclasses.fields(schema)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(unknown[0], "未知配置项")
    hints = typing.get_type_hints(schema)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in raw:
            has_default = (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            )
            if not has_default:
                raise ConfigError(_label(f), "必填")
            continue
        values[name] = _coerce(raw[name], hints[name], _label(f))
    config = schema(**values)
    check = getattr(config, "check", None)
    if callable(check):
        check()
    return config


@dataclass(frozen=True)
class ConnectorType:
    """A registered connector type: its name, Chinese title, config schema and factory."""

    name: str
    title_zh: str
    config_schema: type[Any]
    factory: Callable[[str, Any], Connector]

    def create(self, connector_id: str, raw_config: Mapping[str, Any]) -> Connector:
        """Validate ``raw_config`` and build a connector instance."""
        return self.factory(connector_id, validate_config(self.config_schema, raw_config))


_REGISTRY: dict[str, ConnectorType] = {}


def register_connector_type(connector_type: ConnectorType) -> ConnectorType:
    """Add a type; registering a different type under a taken name is a programming error."""
    existing = _REGISTRY.get(connector_type.name)
    if existing is not None and existing != connector_type:
        raise ValueError(f"connector type {connector_type.name!r} already registered")
    _REGISTRY[connector_type.name] = connector_type
    return connector_type


def connector_types() -> dict[str, ConnectorType]:
    """All registered types by name (importing ``orgcarbon.connectors`` registers the built-ins)."""
    return dict(_REGISTRY)


def get_connector_type(name: str) -> ConnectorType:
    """The type called ``name``, or ``ConfigError`` listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = "、".join(sorted(_REGISTRY)) or "无"
        raise ConfigError("type", f"未知连接器类型“{name}”，可用类型：{known}") from None


def create_connector(type_name: str, connector_id: str, raw_config: Mapping[str, Any]) -> Connector:
    """Build a connector from stored data: type name, instance id and config dict."""
    return get_connector_type(type_name).create(connector_id, raw_config)
