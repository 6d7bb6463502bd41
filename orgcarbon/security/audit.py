"""The audit trail: one SQLAlchemy listener records every insert, update and delete.

It hangs on the ``Session`` class, so it sees changes made through views, REST APIs, CLI commands,
tasks and scripts alike, and writes its rows with the same connection, in the same transaction as
the change: a change that rolls back leaves no audit row, and no change goes unrecorded.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session

from orgcarbon.security.crypto.masking import mask
from orgcarbon.security.encrypted import EncryptedText
from orgcarbon.security.models import AuditEntry, utcnow

# Columns whose values never enter the audit trail in clear.
MASKED_COLUMNS = frozenset({
    "password", "secret", "token", "api_key", "key_hash", "password_hash", "sm2_private_key", "hmac_secret",
})
MASK = "******"
# The audit table itself is not audited (that would recurse).
SKIPPED_TABLES = frozenset({AuditEntry.__tablename__})


@dataclass(frozen=True)
class Actor:
    """Who makes a change when there is no web request (CLI, task, script)."""

    username: str
    user_id: int | None = None
    ip: str | None = None


_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("audit_actor", default=None)


@contextlib.contextmanager
def acting_as(username: str, user_id: int | None = None, ip: str | None = None) -> Iterator[None]:
    """Attribute the changes made inside the block to ``username`` (for CLI commands and tasks)."""
    token = _actor.set(Actor(username, user_id, ip))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> Actor:
    """The logged-in web user and client IP, else the ``acting_as`` actor, else ``system``."""
    explicit = _actor.get()
    try:
        from flask import g, has_request_context, request

        if has_request_context():
            user = getattr(g, "user", None)
            ip = request.remote_addr
            if user is not None and getattr(user, "is_authenticated", False):
                return Actor(user.username, user.id, ip)
            if explicit is not None:
                return Actor(explicit.username, explicit.user_id, explicit.ip or ip)
            return Actor("anonymous", None, ip)
    except RuntimeError:  # pragma: no cover - outside any Flask context
        pass
    return explicit or Actor("system")


def _plain(value: Any) -> Any:
    """Make a column value JSON-serialisable without losing precision."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _value(key: str, value: Any, column_type: Any = None) -> Any:
    if value is None:
        return None
    if key in MASKED_COLUMNS:
        return MASK
    if isinstance(column_type, EncryptedText):
        # Encrypted columns hold plain values in Python; the trail keeps them masked (138****5678),
        # enough to see that a value changed without storing it in clear.
        return mask(str(value), column_type.mask) if column_type.mask else MASK
    return _plain(value)


def _column_type(attr: Any) -> Any:
    return attr.columns[0].type if getattr(attr, "columns", None) else None


def _row_id(obj: Any) -> str | None:
    # Read from the attributes, not the identity map: in after_flush a new row has its key
    # already but is not yet registered under it.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    if any(part is None for part in key):
        return None
    return ",".join(str(part) for part in key)


def _snapshot(obj: Any) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {attr.key: _value(attr.key, getattr(obj, attr.key), _column_type(attr)) for attr in mapper.column_attrs}


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Before and after values of the columns that changed in this flush."""
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        before[attr.key] = _value(attr.key, old, _column_type(attr))
        after[attr.key] = _value(attr.key, new, _column_type(attr))
    return before, after


def _table(obj: Any) -> str:
    return str(inspect(obj).mapper.persist_selectable.name)


def _entry(actor: Actor, now: dt.datetime, action: str, obj: Any,
           before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "occurred_at": now,
        "user_id": actor.user_id,
        "username": actor.username,
        "ip": actor.ip,
        "action": action,
        "table_name": _table(obj),
        "row_id": _row_id(obj),
        "before": before,
        "after": after,
    }


class AuditTrailReadOnly(RuntimeError):
    """The audit trail is append-only: no update or delete through the application."""


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in [*session.dirty, *session.deleted]:
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTrailReadOnly("审计日志只能追加，不能修改或删除")
    # Updates and deletes are read before the flush, while the attribute history still exists;
    # inserts are recorded after it, when their generated primary keys are known.
    actor, now = current_actor(), utcnow()
    pending: list[dict[str, Any]] = []
    for obj in session.dirty:
        if _table(obj) in SKIPPED_TABLES or not session.is_modified(obj, include_collections=False):
            continue
        before, after = _changes(obj)
        if after:
            pending.append(_entry(actor, now, "update", obj, before, after))
    for obj in session.deleted:
        if _table(obj) not in SKIPPED_TABLES:
            pending.append(_entry(actor, now, "delete", obj, _snapshot(obj), None))
    session.info.setdefault("_audit_pending", []).extend(pending)
    session.info.setdefault("_audit_new", []).extend(
        obj for obj in session.new if _table(obj) not in SKIPPED_TABLES
    )


def _after_flush(session: Session, flush_context: Any) -> None:
    rows: list[dict[str, Any]] = session.info.pop("_audit_pending", [])
    new_objects = session.info.pop("_audit_new", [])
    if new_objects:
        actor, now = current_actor(), utcnow()
        rows.extend(_entry(actor, now, "insert", obj, None, _snapshot(obj)) for obj in new_objects)
    if rows:
        write_chained(session.connection(), rows)


# Any constant: the PostgreSQL advisory lock that serialises appends to the chain.
_CHAIN_LOCK = 7_316_052_211


def write_chained(connection: Any, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` to the audit table, each linked by SM3 to the entry before it."""
    from orgcarbon.security.audit_chain import GENESIS, chain

    if connection.dialect.name == "postgresql":
        # Two transactions must not both link to the same last entry: take turns until commit.
        connection.execute(select(func.pg_advisory_xact_lock(_CHAIN_LOCK)))
    table = AuditEntry.__table__
    last = connection.execute(select(table.c.entry_hash).order_by(table.c.id.desc()).limit(1)).scalar()
    chain(last or GENESIS, rows)
    # One statement per row keeps the ids in chain order on every database.
    for row in rows:
        connection.execute(table.insert(), row)


def _discard_pending(session: Session, previous_transaction: Any) -> None:
    # A failed flush must not leak its rows into the next transaction's audit trail.
    session.info.pop("_audit_pending", None)
    session.info.pop("_audit_new", None)


_installed = False


def install_audit_listener() -> None:
    """Attach the listener to every SQLAlchemy session (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_soft_rollback", _discard_pending)
    _installed = True
