"""The JSON bodies of the ingest API, checked field by field into rows for the staging writer.

Pure Python (no Flask, no database): a body is a dict, the result is a list of staging rows or a
``SchemaError`` listing every problem with its position (``readings[3].quantity``) in Chinese.
Unknown keys are refused so that a misspelt field is not silently dropped; free-form extras go
into ``attributes`` and are kept with the row. The body itself is kept once per batch (``st_batch``),
so a row does not carry a copy of its reading.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, repeat
from typing import Any

from orgcarbon.security.crypto import sm3_hex

MAX_ROWS = 10_000
MAX_ERRORS = 20
PARAMETERS = ("ncv", "carbon_content", "oxidation_factor", "purity", "ef")
_PARAMETER_SET = frozenset(PARAMETERS)
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


_NAME_FIELDS = (("organization", False, 200), ("sub_process", True, 200), ("material", True, 200),
                ("unit", True, 32))
_NAME_KEYS = tuple(name for name, _, _ in _NAME_FIELDS)
_CLEAN_KEYS = READING_KEYS - {"id", "attributes"}


def _names(given: tuple[Any, ...], item: Mapping[str, Any], where: str, errors: _Errors,
           seen: dict[tuple[Any, ...], tuple[str | None, ...]]) -> tuple[str | None, ...]:
    """The four names of an item, stripped and checked; a batch repeats few combinations, so each
    valid combination is checked once (``seen``)."""
    try:
        found = seen.get(given)
    except TypeError:  # a list or object where a name belongs: checked (and refused) below
        found = None
    if found is not None:
        return found
    count = len(errors)
    found = tuple(_text(item, name, where, errors, required, limit) for name, required, limit in _NAME_FIELDS)
    if len(errors) == count and all(type(part) is str or part is None for part in given):
        seen[given] = found
    return found


def _common(item: Any, where: str, allowed: frozenset[str], errors: _Errors,
            seen: dict[tuple[Any, ...], tuple[str | None, ...]]) -> dict[str, Any] | None:
    """Checks shared by readings and activity records; None when the item is unusable."""
    if type(item) is not dict:
        errors.add(where, "应为对象")
        return None
    if not item.keys() <= allowed:
        errors.add(f"{where}.{sorted(item.keys() - allowed)[0]}", "未知字段（自定义内容请放在 attributes 中）")
    get = item.get
    organization, sub_process, material, unit = _names(
        (get("organization"), get("sub_process"), get("material"), get("unit")), item, where, errors, seen)
    quantity = get("quantity")
    if not (type(quantity) is float or type(quantity) is int or _number(quantity)):
        errors.add(f"{where}.quantity", "必填，应为数字" if quantity is None else "应为数字")
    row: dict[str, Any] = {"organization": organization, "sub_process": sub_process, "material": material,
                           "unit": unit, "quantity": quantity}
    parameters = get("parameters")
    if parameters is not None:
        _parameters(parameters, where, errors, row)
    tags = get("tags")
    if tags is not None:
        if type(tags) is list and len(tags) == 1 and type(tags[0]) is str and tags[0]:
            row["tags"] = tags  # the common case, checked first
        elif type(tags) is not list or len(tags) > 20 or not all(type(t) is str and t for t in tags):
            errors.add(f"{where}.tags", "应为不超过 20 个非空文本的列表")
        else:
            row["tags"] = tags
    attributes = get("attributes")
    if attributes is not None:
        if not isinstance(attributes, dict):
            errors.add(f"{where}.attributes", "应为对象")
        elif attributes:
            row["attributes"] = attributes  # kept with the staged row (st_row.raw)
    given_id = get("id")
    if given_id is not None and (not isinstance(given_id, str) or not _KEY.match(given_id)):
        errors.add(f"{where}.id", "应为 1–128 个字母、数字或 . _ : ~ - 组成的文本")
    return row


def _parameters(parameters: Any, where: str, errors: _Errors, row: dict[str, Any]) -> None:
    """The ``parameters`` object: known names, numbers; copied into ``row``."""
    if not isinstance(parameters, dict):
        errors.add(f"{where}.parameters", "应为对象")
        return
    if parameters.keys() <= _PARAMETER_SET and all(type(v) is float for v in parameters.values()):
        row.update(parameters)  # the common case: known names, float values
        return
    for name, value in parameters.items():
        if name not in PARAMETERS:
            errors.add(f"{where}.parameters.{name}", "未知参数，可用：" + "、".join(PARAMETERS))
        elif value is not None and not (type(value) is float or type(value) is int or _number(value)):
            errors.add(f"{where}.parameters.{name}", "应为数字")
        else:
            row[name] = value


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


def _checked_once(values: list[Any], check: Callable[[Any], Any]) -> list[Any] | None:
    """``check`` of each value, called once per distinct value; None when one fails (returns None)."""
    try:
        checked = {value: check(value) for value in set(values)}
    except TypeError:  # an unhashable value
        return None
    if None in checked.values():
        return None
    return list(map(checked.__getitem__, values))


def _clean_names(given: tuple[Any, ...]) -> tuple[str | None, ...] | None:
    if not all(type(part) is str or part is None for part in given):
        return None
    errors = _Errors()
    found = _names(given, dict(zip(_NAME_KEYS, given, strict=True)), "", errors, {})
    return None if errors else found


def _clean_tags(tags: tuple[Any, ...]) -> bool | None:
    return (0 < len(tags) <= 20 and all(type(t) is str and t for t in tags)) or None


def _clean_readings(items: list[Any], client_id: str) -> list[dict[str, Any]] | None:
    """The rows of ``items`` when every reading is clean, checked column by column; None otherwise.

    Clean: names that pass, a number, an ISO time, tags and parameters that pass, no ``id`` and no
    ``attributes`` (the record key is the reading's identity). That is what meters send; a batch
    with anything else is checked reading by reading, which finds and words every problem.
    """
    if set(map(type, items)) != {dict} or not all(map(_CLEAN_KEYS.issuperset, items)):
        return None
    def column(name: str) -> list[Any]:
        return list(map(dict.get, items, repeat(name)))
    quantities, times, tags, parameters = column("quantity"), column("time"), column("tags"), column("parameters")
    if not set(map(type, quantities)) <= {float, int} or set(map(type, times)) != {str}:
        return None
    names = _checked_once(list(zip(*map(column, _NAME_KEYS), strict=True)), _clean_names)
    present = [t for t in tags if t is not None]
    if names is None or not set(map(type, present)) <= {list} or _checked_once(
            list(map(tuple, present)), _clean_tags) is None:
        return None
    given = [p for p in parameters if p is not None]
    if not set(map(type, given)) <= {dict} or not all(map(_PARAMETER_SET.issuperset, given)) or not set(
            map(type, chain.from_iterable(map(dict.values, given)))) <= {float, int, type(None)}:
        return None
    try:
        moments = list(map(datetime.fromisoformat, times))
    except ValueError:
        return None
    heads = _checked_once(names, lambda n: f"{client_id}/{n[0] or ''}|{n[1] or ''}|{n[2] or ''}|")
    keys = list(map(operator.add, heads or (), times))
    if max(map(len, keys)) > 200:
        return None
    rows = []
    for (organization, sub_process, material, unit), quantity, given_parameters, given_tags, moment, key in zip(
            names, quantities, parameters, tags, moments, keys, strict=True):
        row = {"organization": organization, "sub_process": sub_process, "material": material, "unit": unit,
               "quantity": quantity}
        if given_parameters:
            row.update(given_parameters)
        if given_tags is not None:
            row["tags"] = given_tags
        row["time"] = moment
        row["record_key"] = key
        rows.append(row)
    return rows


def parse_readings(body: Any, client_id: str) -> IngestBatch:
    """Check a ``/ingest/readings`` body; raises ``SchemaError`` listing the problems."""
    errors = _Errors()
    key, items = _envelope(body, "readings", errors)
    if not errors:
        clean = _clean_readings(items, client_id)
        if clean is not None:
            return IngestBatch(key, clean)
    rows = []
    seen: dict[tuple[Any, ...], tuple[str | None, ...]] = {}
    prefix = f"{client_id}/"
    for i, item in enumerate(items):
        where = f"readings[{i}]"
        row = _common(item, where, READING_KEYS, errors, seen)
        if row is None:
            continue
        moment = item.get("time")
        if type(moment) is not str:
            errors.add(f"{where}.time", "必填，应为 ISO 8601 时间文本")
        else:
            try:
                row["time"] = datetime.fromisoformat(moment)
            except ValueError:
                errors.add(f"{where}.time", f"“{moment[:40]}”不是 ISO 8601 时间，如 2025-03-01T08:00:00+08:00")
            if not item.get("id"):  # the common case of _record_key, without the generic join
                key_text = f"{prefix}{row['organization'] or ''}|{row['sub_process'] or ''}|{row['material'] or ''}|{moment}"
                if len(key_text) <= 200:
                    row["record_key"] = key_text
                    rows.append(row)
                    continue
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
    seen: dict[tuple[Any, ...], tuple[str | None, ...]] = {}
    for i, item in enumerate(items):
        where = f"records[{i}]"
        row = _common(item, where, ACTIVITY_KEYS, errors, seen)
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
