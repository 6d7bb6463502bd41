"""The JSON bodies of the ingest API, checked field by field into rows for the staging writer.

Pure Python (no Flask, no database): a body is a dict, the result is a list of staging rows or a
``SchemaError`` listing every problem with its position (``readings[3].quantity``) in Chinese.
Unknown keys are refused so that a misspelt field is not silently dropped; free-form extras go
into ``attributes`` and are kept with the row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orgcarbon.security.crypto import sm3_hex

MAX_ROWS = 10_000
MAX_ERRORS = 20
PARAMETERS = ("ncv", "carbon_content", "oxidation_factor", "purity", "ef")
_KEY = re.compile(r"^[A-Za-z0-9._:~-]{1,128}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

READING_KEYS = frozenset(
    {"id", "organization", "sub_process", "material", "quantity", "unit", "time", "parameters",
     "tags", "attributes"}
)
ACTIVITY_KEYS = frozenset(
    {"id", "organization", "sub_process", "material", "quantity", "unit", "month", "category",
     "parameters", "tags", "attributes"}
)


class SchemaError(ValueError):
    """A body that does not follow the API schema; ``errors`` are Chinese, with positions."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors[:MAX_ERRORS]
        super().__init__("；".join(self.errors))


@dataclass(frozen=True)
class IngestBatch:
    """A checked ingest body: its idempotency key and rows ready for ``stage_batch``."""

    idempotency_key: str
    rows: list[dict[str, Any]]


class _Errors(list[str]):
    def add(self, where: str, reason: str) -> None:
        if len(self) < MAX_ERRORS:
            self.append(f"{where}：{reason}")


def _text(item: Mapping[str, Any], name: str, where: str, errors: _Errors, required: bool,
          limit: int = 200) -> str | None:
    value = item.get(name)
    if type(value) is str and 0 < len(value) <= limit and (text := value.strip()):
        return text  # the common case, checked first
    if value is None:
        if required:
            errors.add(f"{where}.{name}", "必填")
        return None
    if not isinstance(value, str) or not value.strip():
        errors.add(f"{where}.{name}", "应为非空文本")
        return None
    if len(value) > limit:
        errors.add(f"{where}.{name}", f"不能超过 {limit} 个字符")
        return None
    return value.strip()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _common(item: Any, where: str, allowed: frozenset[str], errors: _Errors) -> dict[str, Any] | None:
    """Checks shared by readings and activity records; None when the item is unusable."""
    if not isinstance(item, dict):
        errors.add(where, "应为对象")
        return None
    extra = item.keys() - allowed
    if extra:
        errors.add(f"{where}.{sorted(extra)[0]}", "未知字段（自定义内容请放在 attributes 中）")
    row: dict[str, Any] = {
        "organization": _text(item, "organization", where, errors, False),
        "sub_process": _text(item, "sub_process", where, errors, True),
        "material": _text(item, "material", where, errors, True),
        "unit": _text(item, "unit", where, errors, True, limit=32),
    }
    quantity = item.get("quantity")
    if not _number(quantity):
        errors.add(f"{where}.quantity", "必填，应为数字" if quantity is None else "应为数字")
    row["quantity"] = quantity
    parameters = item.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, dict):
            errors.add(f"{where}.parameters", "应为对象")
        else:
            for name, value in parameters.items():
                if name not in PARAMETERS:
                    errors.add(f"{where}.parameters.{name}", "未知参数，可用：" + "、".join(PARAMETERS))
                elif value is not None and not _number(value):
                    errors.add(f"{where}.parameters.{name}", "应为数字")
                else:
                    row[name] = value
    tags = item.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or len(tags) > 20 or not all(isinstance(t, str) and t for t in tags):
            errors.add(f"{where}.tags", "应为不超过 20 个非空文本的列表")
        else:
            row["tags"] = tags
    if item.get("attributes") is not None and not isinstance(item["attributes"], dict):
        errors.add(f"{where}.attributes", "应为对象")
    given_id = item.get("id")
    if given_id is not None and (not isinstance(given_id, str) or not _KEY.match(given_id)):
        errors.add(f"{where}.id", "应为 1–128 个字母、数字或 . _ : ~ - 组成的文本")
    row["raw"] = item
    return row


def _record_key(client_id: str, item: Mapping[str, Any], natural: tuple[Any, ...]) -> str:
    """``<client>/<id>``; without an id the reading's identity (where, what, when) is the key."""
    if item.get("id"):
        return f"{client_id}/{item['id']}"
    key = f"{client_id}/" + "|".join("" if part is None else str(part) for part in natural)
    return key if len(key) <= 200 else f"{client_id}/sm3:{sm3_hex(key.encode())[:40]}"


def _envelope(body: Any, list_name: str, errors: _Errors) -> tuple[str, list[Any]]:
    if not isinstance(body, dict):
        raise SchemaError(["请求体应为 JSON 对象"])
    extra = body.keys() - {"idempotency_key", list_name}
    if extra:
        errors.add(sorted(extra)[0], "未知字段")
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not _KEY.match(key):
        errors.add("idempotency_key", "必填，应为 1–128 个字母、数字或 . _ : ~ - 组成的文本")
    items = body.get(list_name)
    if not isinstance(items, list) or not items:
        errors.add(list_name, "必填，应为非空列表")
        raise SchemaError(errors)
    if len(items) > MAX_ROWS:
        errors.add(list_name, f"一批最多 {MAX_ROWS} 条")
        raise SchemaError(errors)
    return str(key), items


def parse_readings(body: Any, client_id: str) -> IngestBatch:
    """Check a ``/ingest/readings`` body; raises ``SchemaError`` listing the problems."""
    errors = _Errors()
    key, items = _envelope(body, "readings", errors)
    rows = []
    for i, item in enumerate(items):
        where = f"readings[{i}]"
        row = _common(item, where, READING_KEYS, errors)
        if row is None:
            continue
        moment = item.get("time")
        if not isinstance(moment, str):
            errors.add(f"{where}.time", "必填，应为 ISO 8601 时间文本")
        else:
            try:
                row["time"] = datetime.fromisoformat(moment)
            except ValueError:
                errors.add(f"{where}.time", f"“{moment[:40]}”不是 ISO 8601 时间，如 2025-03-01T08:00:00+08:00")
        row["record_key"] = _record_key(
            client_id, item, (row["organization"], row["sub_process"], row["material"], moment)
        )
        rows.append(row)
    if errors:
        raise SchemaError(errors)
    return IngestBatch(key, rows)


def parse_activity(body: Any, client_id: str) -> IngestBatch:
    """Check an ``/ingest/activity`` body (monthly activity records); raises ``SchemaError``."""
    errors = _Errors()
    key, items = _envelope(body, "records", errors)
    rows = []
    for i, item in enumerate(items):
        where = f"records[{i}]"
        row = _common(item, where, ACTIVITY_KEYS, errors)
        if row is None:
            continue
        month = item.get("month")
        if not isinstance(month, str) or not _MONTH.match(month):
            errors.add(f"{where}.month", "必填，应为 YYYY-MM")
        row["month"] = month
        row["category"] = _text(item, "category", where, errors, False, limit=32)
        row["record_key"] = _record_key(
            client_id, item,
            ("activity", row["organization"], row["sub_process"], row["material"], row["category"], month),
        )
        rows.append(row)
    if errors:
        raise SchemaError(errors)
    return IngestBatch(key, rows)


def parse_query(body: Any) -> tuple[int, str | None]:
    """Check a ``/query/results`` body: ``{"year": 2024, "organization"?: "东区"}``."""
    errors = _Errors()
    if not isinstance(body, dict):
        raise SchemaError(["请求体应为 JSON 对象"])
    extra = body.keys() - {"year", "organization"}
    if extra:
        errors.add(sorted(extra)[0], "未知字段")
    year = body.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1990 <= year <= 2100:
        errors.add("year", "必填，应为 1990–2100 之间的整数")
    organization = _text(body, "organization", "body", errors, False)
    if errors:
        raise SchemaError(errors)
    return int(year), organization
