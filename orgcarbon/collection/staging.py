"""The staging writer: incoming values with provenance into ``st_row``, once per record key.

Every producer (the HTTPS API, connector runs, package and Excel imports) calls
:func:`stage_batch` inside its own transaction. Names are resolved to ids within the allowed
organisation subtree; rows whose names do not resolve are returned as rejected with a Chinese
reason and not written. Rows are bulk inserted (binary ``COPY`` on PostgreSQL, one Core
``executemany`` elsewhere; the audit listener sees ORM flushes only), so the batch itself is
recorded with one audit entry.

``st_row`` has no foreign keys on the ids written here (docs/scaling-storage.md): organisation,
sub-process and material ids come from the name index read in this transaction, and the connector
or API client id given by the caller is checked once per batch.

Idempotency: ``(source, record_key)`` identifies a record. A record sent again with the same
values is counted as a duplicate and not staged twice; with changed values it replaces the staged
row while that row is still ``new``, and is rejected once the row has moved on (cleaned, rejected
or promoted), because later steps already used the old values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from orgcarbon.collection.names import NameIndex, Unresolved, load_index
from orgcarbon.collection.staging_sql import existing_rows, insert_rows
from orgcarbon.quality.models import StagingRow

__all__ = ["CHINA_TIME", "RejectedRecord", "StageResult", "stage_batch", "staging_scope"]

# Months are calendar months in China Standard Time (no daylight saving): a reading taken at
# 23:30 on 31 March in Beijing belongs to March whatever offset it was sent with.
CHINA_TIME = timezone(timedelta(hours=8))
_CHINA_OFFSET = timedelta(hours=8)
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
_PARAMETER_SET = frozenset(PARAMETERS)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
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
    writable scope; a caller with none of them (CLI, trusted task) may write anywhere. Raises
    ``ValueError`` for a connector or API client id that does not exist.
    """
    from orgcarbon.collection.models import ApiClient, ConnectorInstance

    # st_row has no foreign keys on these ids: an id that names nothing is a programming error.
    for model, given in ((ConnectorInstance, connector_id), (ApiClient, api_client_id)):
        if given is None:
            continue
        owner = session.scalar(select(model.organization_id).where(model.id == given))
        if owner is None:
            raise ValueError(f"{model.__tablename__}.id={given} does not exist")
        if organization_id is None:
            organization_id = owner
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


def _resolve(row: Mapping[str, Any], index: NameIndex, cache: dict[Any, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The ``st_row`` values of one row (``base`` plus its own); raises ``Unresolved`` with the reason."""
    get = row.get
    values = base.copy()
    values["organization_id"], values["subprocess_id"], values["material_id"], values["unit"] = _names(
        row, index, cache)
    quantity = _number(get("quantity"), "数量")
    if quantity is None:
        raise Unresolved("缺少数量")
    values["quantity"] = quantity
    moment = values["timestamp"] = _moment(get("time"))
    month = get("month")
    if month is None or _missing(month):
        if moment is None:
            raise Unresolved("缺少时间或月份")
        local = moment + _CHINA_OFFSET  # UTC → China Standard Time (the month is all we need)
        month = f"{local.year:04d}-{local.month:02d}"
    elif not isinstance(month, str) or not _MONTH.match(month):
        raise Unresolved(f"月份“{month}”应为 YYYY-MM")
    values["month"] = month
    category = get("category")
    if category is not None:
        category = _text(category)
        if category is not None and len(category) > 32:
            raise Unresolved("排放类别过长")
    values["category"] = category
    tags = get("tags")
    if tags is not None:
        # Readings of a batch repeat a few tag lists: join each list once.
        tags_key = tuple(tags) if type(tags) is list else tags
        try:
            tags = cache[("tags", tags_key)]
        except KeyError:
            tags = cache[("tags", tags_key)] = _tags(tags)
        except TypeError:  # unhashable members: no cache
            tags = _tags(tags)
    values["tags"] = tags
    for name in _PARAMETER_SET.intersection(row.keys()):  # ``base`` holds None for the others
        value = row[name]
        values[name] = None if value is None else _number(value, name)
    return values


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
    """What a row carries beyond the columns (a mapping's derived fields, API ``attributes``)."""
    given = row.get("raw")
    if isinstance(given, dict):
        return given
    if row.keys() <= KNOWN:  # the common case: nothing beyond the columns
        return None
    extra = {k: v for k, v in row.items() if k not in KNOWN and not _missing(v)}
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in extra.items()} or None


def _prepare(rows: list[Mapping[str, Any]], index: NameIndex, base: dict[str, Any],
             now: datetime) -> tuple[dict[str, dict[str, Any]], list[RejectedRecord]]:
    """Each row's ``st_row`` values by record key (the last of repeated keys), and the rejected rows."""
    rejected: list[RejectedRecord] = []
    by_key: dict[str, dict[str, Any]] = {}
    cache: dict[Any, Any] = {}
    for position, row in enumerate(rows, start=1):
        key = row.get("record_key")
        if type(key) is not str or not key or key != key.strip():  # the common case is a clean str
            key = _text(key)
        reference = row.get("reference")
        if reference is not None:
            reference = (_text(reference) or "")[:300] or None
        if key is None or len(key) > 200:
            rejected.append(RejectedRecord(key or "", reference or "", "记录键为空或超过 200 个字符"))
            continue
        try:
            values = _resolve(row, index, cache, base)
        except Unresolved as exc:
            rejected.append(RejectedRecord(key, reference or "", str(exc)))
            continue
        received = row.get("received_at")
        number = row.get("row")
        values["record_key"] = key
        values["reference"] = reference
        values["received_at"] = now if received is None else (_moment(received) or now)
        values["row"] = position if number is None or _missing(number) else int(number)
        values["raw"] = _raw(row)
        by_key[key] = values
    return by_key, rejected


def _split(by_key: dict[str, dict[str, Any]], existing: dict[str, dict[str, Any]],
           rejected: list[RejectedRecord]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(rows to insert, rows to update, duplicates) against the rows already staged."""
    if not existing:  # the common case: every key is new
        return list(by_key.values()), [], 0
    inserts, updates, duplicates = [], [], 0
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
    return inserts, updates, duplicates


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
    base = {
        "source": source, "connector_id": connector_id, "api_client_id": api_client_id,
        "import_id": import_id, "batch_id": batch_id, "request_id": request_id,
        "user_id": getattr(user, "id", None), "binding_id": None, "status": "new", "activity_id": None,
        **dict.fromkeys(PARAMETERS),
    }
    by_key, rejected = _prepare(rows, index, base, datetime.now(UTC))
    duplicates = len(rows) - len(rejected) - len(by_key)  # repeated keys within the batch
    inserts, updates, known = _split(by_key, existing_rows(session, source, list(by_key), COMPARED), rejected)
    if inserts:
        insert_rows(session, inserts)
    if updates:
        statement = update(TABLE).where(TABLE.c.id == bindparam("_id"))
        session.connection().execute(statement, updates)
    result = StageResult(batch_id, len(rows), len(inserts), len(updates), duplicates + known, tuple(rejected))
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
