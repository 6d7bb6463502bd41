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
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from itertools import repeat
from typing import Any, cast

import pandas as pd
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from orgcarbon.collection.names import NameIndex, Unresolved, load_index
from orgcarbon.collection.staging_sql import existing_rows, insert_rows
from orgcarbon.quality.models import StagingRow
from orgcarbon.quality.partitions import with_effective_status

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
# A staged row is a tuple in this order (the ``COPY`` columns): the batch's own values (``base``),
# the record's identity and provenance, then what ``_resolve`` reads from it.
BASE_FIELDS = ("source", "connector_id", "api_client_id", "import_id", "batch_id", "request_id", "user_id",
               "binding_id", "status", "activity_id")
RESOLVED_FIELDS = ("organization_id", "subprocess_id", "material_id", "unit", "quantity", "timestamp", "month",
                   "category", "tags", *PARAMETERS)
ROW_FIELDS = (*BASE_FIELDS, "record_key", "reference", "row", "received_at", "raw", *RESOLVED_FIELDS)
_ORGANIZATION_AT = ROW_FIELDS.index("organization_id")
Row = tuple[Any, ...]
_FLOAT_OR_NONE = frozenset({float, type(None)})
_NAME_KEYS = ("organization", "sub_process", "material", "unit")
_TZINFO = operator.attrgetter("tzinfo")
_YEAR_MONTH = operator.attrgetter("year", "month")
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


def _names(parts: tuple[Any, ...], index: NameIndex, cache: dict[Any, Any]) -> tuple[Any, ...]:
    """The resolved names of ``parts``; a batch repeats a few combinations, so each is resolved once
    (failures too: the cached ``Unresolved`` is raised again)."""
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
    return found


def _month(value: Any, moment: datetime | None) -> str:
    if value is None or _missing(value):
        if moment is None:
            raise Unresolved("缺少时间或月份")
        local = moment + _CHINA_OFFSET  # UTC → China Standard Time (the month is all we need)
        return f"{local.year:04d}-{local.month:02d}"
    if not isinstance(value, str) or not _MONTH.match(value):
        raise Unresolved(f"月份“{value}”应为 YYYY-MM")
    return value


def _category(value: Any) -> str | None:
    category = _text(value)
    if category is not None and len(category) > 32:
        raise Unresolved("排放类别过长")
    return category


def _cached_tags(tags: Any, cache: dict[Any, Any]) -> str | None:
    # Readings of a batch repeat a few tag lists: join each list once.
    tags_key = ("tags", tuple(tags) if type(tags) is list else tags)
    try:
        return cache[tags_key]  # type: ignore[no-any-return]
    except KeyError:
        found = cache[tags_key] = _tags(tags)
        return found
    except TypeError:  # unhashable members: no cache
        return _tags(tags)


def _resolve(row: Mapping[str, Any], index: NameIndex, cache: dict[Any, Any]) -> Row:
    """The values of ``RESOLVED_FIELDS`` of one row; raises ``Unresolved`` with the reason.

    Called once per row of every batch: the common cases (names seen before in the batch, a float
    quantity, an aware datetime) are tested inline before the general helpers.
    """
    get = row.get
    parts = tuple(map(get, _NAME_KEYS))
    try:
        names = cache[parts]
    except (KeyError, TypeError):
        names = _names(parts, index, cache)
    if isinstance(names, Unresolved):
        raise names
    quantity = get("quantity")
    if type(quantity) is not float or quantity - quantity != 0.0:  # not a finite float: the general case
        quantity = _number(quantity, "数量")
        if quantity is None:
            raise Unresolved("缺少数量")
    moment = get("time")
    if type(moment) is datetime and moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    else:
        moment = _moment(moment)
    month = get("month")
    if month is None and moment is not None:
        local = moment + _CHINA_OFFSET  # UTC → China Standard Time (the month is all we need)
        month = f"{local.year:04d}-{local.month:02d}"
    else:
        month = _month(month, moment)
    category = get("category")
    if category is not None:
        category = _category(category)
    tags = get("tags")
    if tags is not None:
        tags = _cached_tags(tags, cache)
    parameters = tuple(map(get, PARAMETERS))
    # The common case without a Python loop: each parameter a float or missing, and all finite.
    if not (set(map(type, parameters)) <= _FLOAT_OR_NONE and math.isfinite(sum(filter(None, parameters)))):
        parameters = tuple(None if v is None else _number(v, name) for v, name in zip(parameters, PARAMETERS,
                                                                                       strict=True))
    return (*names, quantity, moment, month, category, tags, *parameters)


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


def _values(rows: list[dict[str, Any]], name: str) -> list[Any]:
    return list(map(dict.get, rows, repeat(name)))


def _clean_texts(values: list[Any], limit: int) -> bool:
    """Every value a non-empty ``str`` of at most ``limit`` characters without surrounding blanks."""
    return (set(map(type, values)) == {str} and min(map(len, values)) > 0 and max(map(len, values)) <= limit
            and list(map(str.strip, values)) == values)


def _clean_floats(values: list[Any]) -> bool:
    """Every value a float or None, and all finite (a sum that overflows only sends the batch the
    row-wise way)."""
    return set(map(type, values)) <= _FLOAT_OR_NONE and math.isfinite(sum(filter(None, values)))


def _by_combination(values: list[Any], resolve: Callable[[Any], Any]) -> list[Any]:
    """``resolve`` of each value, called once per distinct value (names, tag lists)."""
    resolved = {value: resolve(value) for value in set(values)}
    return list(map(resolved.__getitem__, values))


def _prepare_clean(rows: list[Mapping[str, Any]], index: NameIndex, base: Row, now: datetime) -> dict[str, Row] | None:
    """``_prepare`` of a batch in which every row is clean, column by column; None otherwise.

    Clean: distinct clean keys, names that resolve, float quantities, aware times, no month,
    category, received time, row number or extra keys, tag lists and float parameters. That is
    what the ingest API sends; each test is one C-level pass over a column, so a batch of 1,000
    readings costs a few dozen Python steps instead of a function call per row. Anything else (a
    single row that is not clean) goes the row-wise way, which gives the exact values and reasons.
    """
    count = len(rows)
    if not count or set(map(type, rows)) != {dict} or not all(map(KNOWN.issuperset, rows)):
        return None
    batch = cast(list[dict[str, Any]], rows)
    missing = [None] * count
    for name in ("month", "category", "received_at", "row", "raw"):
        if _values(batch, name) != missing:
            return None
    keys, references = _values(batch, "record_key"), _values(batch, "reference")
    if not _clean_texts(keys, 200) or len(set(keys)) != count or (
            references != missing and not _clean_texts(references, 300)):
        return None
    quantities, times = _values(batch, "quantity"), _values(batch, "time")
    if set(map(type, quantities)) != {float} or not _clean_floats(quantities) or set(map(type, times)) != {datetime} \
            or None in map(_TZINFO, times):
        return None
    parameters = [_values(batch, name) for name in PARAMETERS]
    if not all(map(_clean_floats, parameters)):
        return None
    tags = _values(batch, "tags")
    try:
        names = _by_combination(list(zip(*[_values(batch, n) for n in _NAME_KEYS], strict=True)),
                                lambda parts: _resolve_names(parts, index))
        if tags != missing:
            if set(map(type, tags)) != {list}:
                return None
            tags = _by_combination(list(map(tuple, tags)), _tags)
    except (Unresolved, TypeError):  # a name that does not resolve, an unhashable value
        return None
    moments = list(map(datetime.astimezone, times, repeat(UTC)))
    # UTC → China Standard Time, then "YYYY-MM" once per distinct month
    months = _by_combination(list(map(_YEAR_MONTH, map(operator.add, moments, repeat(_CHINA_OFFSET)))),
                             lambda ym: f"{ym[0]:04d}-{ym[1]:02d}")
    columns = [*([value] * count for value in base), keys, references, range(1, count + 1), [now] * count, missing,
               *zip(*names, strict=True), quantities, moments, months, missing, tags, *parameters]
    return dict(zip(keys, zip(*columns, strict=True), strict=True))


def _prepare(rows: list[Mapping[str, Any]], index: NameIndex, base: Row,
             now: datetime) -> tuple[dict[str, Row], list[RejectedRecord]]:
    """Each row's ``st_row`` values (``ROW_FIELDS``) by record key (the last of repeated keys), and
    the rejected rows."""
    clean = _prepare_clean(rows, index, base, now)
    if clean is not None:
        return clean, []
    rejected: list[RejectedRecord] = []
    by_key: dict[str, Row] = {}
    cache: dict[Any, Any] = {}
    for position, row in enumerate(rows, start=1):
        key = row.get("record_key")
        if type(key) is not str or not key or key != key.strip():  # the common case is a clean str
            key = _text(key)
        reference = row.get("reference")
        if type(reference) is str:  # the common case of _text, inline
            reference = reference.strip()[:300] or None
        elif reference is not None:
            reference = (_text(reference) or "")[:300] or None
        if key is None or len(key) > 200:
            rejected.append(RejectedRecord(key or "", reference or "", "记录键为空或超过 200 个字符"))
            continue
        try:
            resolved = _resolve(row, index, cache)
        except Unresolved as exc:
            rejected.append(RejectedRecord(key, reference or "", str(exc)))
            continue
        received = row.get("received_at")
        number = row.get("row")
        given_raw = row.get("raw")
        by_key[key] = (
            *base, key, reference, position if number is None or _missing(number) else int(number),
            now if received is None else (_moment(received) or now),
            given_raw if type(given_raw) is dict else _raw(row), *resolved,
        )
    return by_key, rejected


def _split(by_key: dict[str, Row], existing: Mapping[str, dict[str, Any]],
           rejected: list[RejectedRecord]) -> tuple[list[Row], list[dict[str, Any]], int]:
    """(rows to insert, rows to update by name, duplicates) against the rows already staged."""
    if not existing:  # the common case: every key is new
        return list(by_key.values()), [], 0
    inserts, updates, duplicates = [], [], 0
    for key, row in by_key.items():
        old = existing.get(key)
        if old is None:
            inserts.append(row)
            continue
        values = dict(zip(ROW_FIELDS, row, strict=True))
        if _same(old, values):
            duplicates += 1
        elif old["status"] == "new":
            updates.append({"_id": old["id"], **values})
        else:
            rejected.append(RejectedRecord(
                key, values["reference"] or "",
                f"记录已进入后续处理（状态 {old['status']}），数值变更未写入暂存区",
            ))
    return inserts, updates, duplicates


def _under_cleaned_mark(session: Session, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The updates whose row id is at or below the cleaned mark of the partition they now belong to."""
    from orgcarbon.quality.partitions import marks

    cleaned = {pair: marks(session, *pair)[0] for pair in {(u["organization_id"], u["month"]) for u in updates}}
    return [u for u in updates if u["_id"] <= cleaned[(u["organization_id"], u["month"])]]


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
    base = (source, connector_id, api_client_id, import_id, batch_id, request_id, getattr(user, "id", None),
            None, "new", None)  # BASE_FIELDS
    by_key, rejected = _prepare(rows, index, base, datetime.now(UTC))
    duplicates = len(rows) - len(rejected) - len(by_key)  # repeated keys within the batch
    existing = with_effective_status(session, existing_rows(session, source, list(by_key), COMPARED))
    inserts, updates, known = _split(by_key, existing, rejected)
    moved = _under_cleaned_mark(session, updates)
    gone = {u["_id"] for u in moved}
    if moved:
        # A still-new reading whose new values move it into a month already cleaned past its id
        # would read as cleaned without being cleaned: it is staged again, with a new id (inserted
        # before the old row goes, so that SQLite cannot hand the same id out again).
        updates = [u for u in updates if u["_id"] not in gone]
        inserts.extend(tuple(u[name] for name in ROW_FIELDS) for u in moved)
    if inserts:
        insert_rows(session, ROW_FIELDS, inserts)
    if gone:
        session.connection().execute(delete(TABLE).where(TABLE.c.id.in_(sorted(gone))))
    if updates:
        statement = update(TABLE).where(TABLE.c.id == bindparam("_id"))
        session.connection().execute(statement, updates)
    result = StageResult(batch_id, len(rows), len(inserts) - len(moved), len(updates) + len(moved),
                         duplicates + known, tuple(rejected))
    if result.accepted:
        _audit(session, result, source, connector_id, api_client_id, import_id, request_id,
               sorted({r[_ORGANIZATION_AT] for r in inserts} | {v["organization_id"] for v in updates}))
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
