"""The staging writer: incoming values with provenance into ``st_row``, once per record key.

Every producer (the HTTPS API, connector runs, package and Excel imports) calls
:func:`stage_batch` inside its own transaction. Names are resolved to ids within the allowed
organisation subtree; rows whose names do not resolve are returned as rejected with a Chinese
reason and not written. Rows are bulk inserted with one Core ``executemany`` (the audit listener
sees ORM flushes only), so the batch itself is recorded with one audit entry.

Idempotency: ``(source, record_key)`` identifies a record. A record sent again with the same
values is counted as a duplicate and not staged twice; with changed values it replaces the staged
row while that row is still ``new``, and is rejected once the row has moved on (cleaned, rejected
or promoted), because later steps already used the old values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from orgcarbon.collection.names import NameIndex, Unresolved, load_index
from orgcarbon.quality.models import StagingRow

__all__ = ["CHINA_TIME", "RejectedRecord", "StageResult", "stage_batch", "staging_scope"]

# Months are calendar months in China Standard Time (no daylight saving): a reading taken at
# 23:30 on 31 March in Beijing belongs to March whatever offset it was sent with.
CHINA_TIME = timezone(timedelta(hours=8))
PARAMETERS = ("ncv", "carbon_content", "oxidation_factor", "purity", "ef")
KNOWN = frozenset(
    {
        "record_key", "organization", "sub_process", "material", "quantity", "unit", "time", "month",
        "tags", "reference", "received_at", "row", "category", "raw", *PARAMETERS,
        # columns of a mapped batch that staging takes from its own arguments instead
        "source", "connector_id", "batch_id",
    }
)
COMPARED = ("organization_id", "subprocess_id", "material_id", "month", "quantity", "unit", *PARAMETERS)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_CHUNK = 900  # keys per IN (...) lookup; below every database's parameter limit
TABLE = StagingRow.__table__


@dataclass(frozen=True)
class RejectedRecord:
    """A record that was not staged, with the Chinese reason."""

    record_key: str
    reference: str
    reason: str


@dataclass(frozen=True)
class StageResult:
    """What one batch did to staging."""

    batch_id: str
    received: int
    staged: int  # new rows inserted
    updated: int  # staged rows still ``new`` whose values changed
    duplicates: int  # records already staged with the same values (or repeated within the batch)
    rejected: tuple[RejectedRecord, ...] = ()

    @property
    def accepted(self) -> int:
        """Rows now in staging because of this batch (inserted or updated)."""
        return self.staged + self.updated

    def as_dict(self, reasons: int = 50) -> dict[str, Any]:
        """A JSON-ready summary; at most ``reasons`` rejected rows are listed."""
        return {
            "batch_id": self.batch_id,
            "received": self.received,
            "staged": self.staged,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "rejected_rows": [
                {"record_key": r.record_key, "reference": r.reference, "reason": r.reason}
                for r in self.rejected[:reasons]
            ],
        }


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str | None:
    if _missing(value):
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any, label: str) -> float | None:
    if (type(value) is float or type(value) is int) and math.isfinite(value):
        return float(value)  # the common case, checked first
    if _missing(value) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Unresolved(f"{label}“{value}”不是有效数字") from None
    if not math.isfinite(number):
        raise Unresolved(f"{label}“{value}”不是有效数字")
    return number


def _moment(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime; naive times are read as China Standard Time."""
    if type(value) is datetime and value.tzinfo is not None:  # the common case, first
        return value.astimezone(UTC)
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise Unresolved(f"时间“{value}”无法识别（应为 ISO 8601，如 2025-03-01T08:00:00+08:00）") from None
    if not isinstance(value, datetime):
        raise Unresolved(f"时间“{value}”无法识别")
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_TIME)
    return value.astimezone(UTC)


def _tags(value: Any) -> str | None:
    if _missing(value):
        return None
    items = [value] if isinstance(value, str) else list(value)
    text = ",".join(dict.fromkeys(str(t).strip() for t in items if str(t).strip()))
    if len(text) > 300:
        raise Unresolved("标签合计超过 300 个字符")
    return text or None


def _rows(frame_or_rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(frame_or_rows, pd.DataFrame):
        return frame_or_rows.to_dict("records")  # type: ignore[return-value]
    return list(frame_or_rows)


def staging_scope(
    session: Session,
    *,
    user: Any = None,
    connector_id: int | None = None,
    api_client_id: int | None = None,
    organization_id: int | None = None,
) -> tuple[list[int] | None, int | None]:
    """(allowed subtree roots or None for all, default organisation) of a writer.

    An explicit organisation wins, then the connector's, then the API client's, then the user's
    writable scope; a caller with none of them (CLI, trusted task) may write anywhere.
    """
    from orgcarbon.collection.models import ApiClient, ConnectorInstance

    if organization_id is None and connector_id is not None:
        organization_id = session.scalar(
            select(ConnectorInstance.organization_id).where(ConnectorInstance.id == connector_id)
        )
    if organization_id is None and api_client_id is not None:
        organization_id = session.scalar(
            select(ApiClient.organization_id).where(ApiClient.id == api_client_id)
        )
    if organization_id is not None:
        return [organization_id], organization_id
    if user is not None:
        from orgcarbon.security.scope import org_scope

        scope = org_scope(user, session)
        return (None if scope.writable is None else sorted(scope.writable)), None
    return None, None


def _resolve_names(parts: tuple[Any, ...], index: NameIndex) -> tuple[int, int | None, int | None, str]:
    """(organisation id, sub-process id, material id, canonical unit) of one name combination."""
    org_name, sub_name, material_name, unit_name = (_text(p) for p in parts)
    org_id = index.organization(org_name)
    sub_id = None
    if sub_name:
        sub_id, org_id = index.sub_process(sub_name, org_id)
    material_id = index.material(material_name) if material_name else None
    if unit_name is None:
        raise Unresolved("缺少单位")
    return org_id, sub_id, material_id, index.unit(unit_name)


def _names(row: Mapping[str, Any], index: NameIndex, cache: dict[Any, Any]) -> tuple[Any, ...]:
    # A batch repeats a few combinations of names many times: resolve each combination once.
    parts = (row.get("organization"), row.get("sub_process"), row.get("material"), row.get("unit"))
    try:
        found = cache.get(parts)
    except TypeError:  # an unhashable value (a list where a name belongs): resolve uncached
        return _resolve_names(parts, index)
    if found is None:
        try:
            found = _resolve_names(parts, index)
        except Unresolved as exc:
            found = exc
        cache[parts] = found
    if isinstance(found, Unresolved):
        raise found
    return found  # type: ignore[no-any-return]


def _resolve(row: Mapping[str, Any], index: NameIndex, cache: dict[Any, Any]) -> dict[str, Any]:
    """Resolved, typed column values of one row; raises ``Unresolved`` with the reason."""
    org_id, sub_id, material_id, unit = _names(row, index, cache)
    quantity = _number(row.get("quantity"), "数量")
    if quantity is None:
        raise Unresolved("缺少数量")
    moment = _moment(row.get("time"))
    month = row.get("month")
    if _missing(month):
        if moment is None:
            raise Unresolved("缺少时间或月份")
        local = moment.astimezone(CHINA_TIME)
        month = f"{local.year:04d}-{local.month:02d}"
    elif not isinstance(month, str) or not _MONTH.match(month):
        raise Unresolved(f"月份“{month}”应为 YYYY-MM")
    category = _text(row.get("category"))
    if category is not None and len(category) > 32:
        raise Unresolved("排放类别过长")
    tags = row.get("tags")
    values = {
        "organization_id": org_id, "subprocess_id": sub_id, "material_id": material_id,
        "quantity": quantity, "unit": unit, "timestamp": moment, "month": month,
        "category": category, "tags": None if tags is None else _tags(tags),
    }
    for name in PARAMETERS:
        value = row.get(name)
        values[name] = None if value is None else _number(value, name)
    return values


def _existing(session: Session, source: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    columns = [TABLE.c.record_key, TABLE.c.id, TABLE.c.status, *(TABLE.c[c] for c in COMPARED)]
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter instead of an IN list: planned once, hashed lookup, any batch size.
        from sqlalchemy import String, any_
        from sqlalchemy.dialects.postgresql import ARRAY

        conditions = [TABLE.c.record_key == any_(bindparam("keys", list(keys), type_=ARRAY(String)))]
    else:
        conditions = [TABLE.c.record_key.in_(keys[i : i + _CHUNK]) for i in range(0, len(keys), _CHUNK)]
    for condition in conditions:
        query = select(*columns).where(TABLE.c.source == source, condition)
        for row in session.execute(query).mappings():
            found[row["record_key"]] = dict(row)
    return found


def _copy_type(column: Any) -> str:
    """The PostgreSQL type name of a column for a binary ``COPY``."""
    from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer

    kind = column.type
    for sql_type, name in ((BigInteger, "int8"), (Integer, "int4"), (Float, "float8"), (DateTime, "timestamptz"),
                           (JSON, "json"), (Boolean, "bool")):
        if isinstance(kind, sql_type):
            return name
    return "text"


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk insert: binary ``COPY`` on PostgreSQL (same connection and transaction), else one
    Core ``executemany``."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(TABLE), rows)
        return
    import functools
    import json

    from psycopg.types.json import Json

    dumps = functools.partial(json.dumps, ensure_ascii=False, default=str)
    columns = [c for c in TABLE.columns if c.name != "id"]
    names = [c.name for c in columns]
    json_at = names.index("raw")
    raw = connection.connection.dbapi_connection
    statement = f"COPY {TABLE.name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        copy.set_types([_copy_type(c) for c in columns])
        for row in rows:
            values = [row[name] for name in names]
            if values[json_at] is not None:
                values[json_at] = Json(values[json_at], dumps)
            copy.write_row(values)


def _same(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    for name in COMPARED:
        a, b = old[name], new[name]
        if isinstance(a, float) and isinstance(b, float):
            if not math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0):
                return False
        elif a != b:
            return False
    return True


def _raw(row: Mapping[str, Any]) -> dict[str, Any] | None:
    given = row.get("raw")
    if isinstance(given, dict):
        return given
    extra = {k: v for k, v in row.items() if k not in KNOWN and not _missing(v)}
    # Derived fields of a mapping (numbers) are kept with the row; they are not columns.
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in extra.items()} or None


def stage_batch(
    session: Session,
    frame_or_rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    source: str,
    batch_id: str,
    user: Any = None,
    connector_id: int | None = None,
    api_client_id: int | None = None,
    import_id: int | None = None,
    request_id: str | None = None,
    organization_id: int | None = None,
) -> StageResult:
    """Stage a batch in the caller's transaction (no commit); see the module docstring."""
    rows = _rows(frame_or_rows)
    roots, default_org = staging_scope(
        session, user=user, connector_id=connector_id, api_client_id=api_client_id,
        organization_id=organization_id,
    )
    index = load_index(session, roots, default_org)
    now = datetime.now(UTC)
    base = {
        "source": source, "connector_id": connector_id, "api_client_id": api_client_id,
        "import_id": import_id, "batch_id": batch_id, "request_id": request_id,
        "user_id": getattr(user, "id", None), "binding_id": None, "status": "new", "activity_id": None,
    }
    rejected: list[RejectedRecord] = []
    by_key: dict[str, dict[str, Any]] = {}
    cache: dict[Any, Any] = {}
    for position, row in enumerate(rows, start=1):
        key = _text(row.get("record_key"))
        reference = (_text(row.get("reference")) or "")[:300]
        if key is None or len(key) > 200:
            rejected.append(RejectedRecord(key or "", reference, "记录键为空或超过 200 个字符"))
            continue
        try:
            values = _resolve(row, index, cache)
        except Unresolved as exc:
            rejected.append(RejectedRecord(key, reference, str(exc)))
            continue
        received = _moment(row.get("received_at")) or now
        number = row.get("row")
        by_key[key] = {
            **base, **values, "record_key": key, "reference": reference or None,
            "received_at": received, "row": position if _missing(number) else int(number),
            "raw": _raw(row),
        }
    duplicates = len(rows) - len(rejected) - len(by_key)  # repeated keys within the batch

    existing = _existing(session, source, list(by_key))
    inserts, updates = [], []
    for key, values in by_key.items():
        old = existing.get(key)
        if old is None:
            inserts.append(values)
        elif _same(old, values):
            duplicates += 1
        elif old["status"] == "new":
            updates.append({"_id": old["id"], **values})
        else:
            rejected.append(RejectedRecord(
                key, values["reference"] or "",
                f"记录已进入后续处理（状态 {old['status']}），数值变更未写入暂存区",
            ))
    if inserts:
        _insert(session, inserts)
    if updates:
        statement = update(TABLE).where(TABLE.c.id == bindparam("_id"))
        session.connection().execute(statement, updates)
    result = StageResult(batch_id, len(rows), len(inserts), len(updates), duplicates, tuple(rejected))
    if result.accepted:
        _audit(session, result, source, connector_id, api_client_id, import_id, request_id,
               sorted({v["organization_id"] for v in [*inserts, *updates]}))
    return result


def _audit(session: Session, result: StageResult, source: str, connector_id: int | None,
           api_client_id: int | None, import_id: int | None, request_id: str | None,
           organizations: list[int]) -> None:
    """One audit entry for the whole batch (the rows themselves are Core inserts)."""
    from orgcarbon.security.audit import current_actor, write_chained

    actor = current_actor()
    write_chained(session.connection(), [{
        "occurred_at": datetime.now(UTC), "user_id": actor.user_id, "username": actor.username,
        "ip": actor.ip, "action": "insert", "table_name": TABLE.name, "row_id": f"batch:{result.batch_id}",
        "before": None,
        "after": {
            "source": source, "batch_id": result.batch_id, "connector_id": connector_id,
            "api_client_id": api_client_id, "import_id": import_id, "request_id": request_id,
            "staged": result.staged, "updated": result.updated, "duplicates": result.duplicates,
            "rejected": len(result.rejected), "organization_ids": organizations,
        },
    }])
