"""The connector form, generated from a type's config dataclass: one input per field.

Labels come from the fields' Chinese ``label`` metadata; the annotation picks the input (text,
number, yes/no, a list one item per line, an object as JSON). Secret fields (passwords) are kept
out of ``cn_connector.config``: they are stored encrypted in ``cn_connector.secret`` and shown
blank; a blank secret on edit keeps the stored one.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orgcarbon.connectors import ConfigError, get_connector_type

SECRET_NAMES = frozenset({"password", "secret", "token", "api_key"})


@dataclass(frozen=True)
class FormField:
    """One input of the generated form."""

    name: str
    label: str
    kind: str  # text | password | int | float | bool | lines | json
    required: bool
    default: Any

    @property
    def secret(self) -> bool:
        """Stored encrypted and never shown."""
        return self.kind == "password"


def _kind(name: str, annotation: Any, metadata: Mapping[str, Any]) -> str:
    if name in SECRET_NAMES or metadata.get("secret"):
        return "password"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        origin = typing.get_origin(annotation)
    if origin is tuple:
        return "lines"
    if origin is dict or annotation is dict:
        return "json"
    return {bool: "bool", int: "int", float: "float"}.get(annotation, "text")


def form_fields(type_name: str) -> list[FormField]:
    """The inputs of a connector type's config, in declaration order."""
    schema = get_connector_type(type_name).config_schema
    hints = typing.get_type_hints(schema)
    fields = []
    for f in dataclasses.fields(schema):
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        )
        fields.append(FormField(f.name, str(f.metadata.get("label") or f.name),
                                _kind(f.name, hints[f.name], f.metadata), not has_default, default))
    return fields


def display_value(field: FormField, config: Mapping[str, Any]) -> str:
    """The text shown in the input for the stored ``config`` (secrets are never shown)."""
    if field.secret:
        return ""
    value = config.get(field.name, field.default)
    if value is None:
        return ""
    if field.kind == "lines":
        return "\n".join(str(v) for v in value)
    if field.kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=1)
    if field.kind == "bool":
        return "1" if value else ""
    return str(value)


def read_form(
    type_name: str, form: Mapping[str, str], stored_secrets: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain config, secret config) from submitted inputs ``cfg.<name>``; raises ``ConfigError``."""
    config: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for field in form_fields(type_name):
        label = f"{field.name}（{field.label}）"
        text = (form.get(f"cfg.{field.name}") or "").strip()
        if field.kind == "bool":
            config[field.name] = text in ("1", "on", "true", "yes")
            continue
        if field.secret:
            value = text or stored_secrets.get(field.name, "")
            if value:
                secret[field.name] = value
            continue
        if not text:
            if field.required:
                raise ConfigError(label, "必填")
            continue
        config[field.name] = _parse(field, text, label)
    return config, secret


def _parse(field: FormField, text: str, label: str) -> Any:
    if field.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ConfigError(label, "应为整数") from None
    if field.kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ConfigError(label, "应为数字") from None
    if field.kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if field.kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(label, f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）") from None
    return text
