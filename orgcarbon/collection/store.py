"""Database-backed state of system collection: watermarks, API nonces and the interface log.

These rows are technical state and logs, not business data: they are written with Core
statements, so the audit listener (ORM flushes only) does not record every nonce and every log
line. Staged data is audited per batch by the staging writer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orgcarbon.collection.models import (
    ApiNonce,
    ConnectorInstance,
    ConnectorWatermark,
    IdempotencyRecord,
    InterfaceLog,
)
from orgcarbon.connectors import InterfaceLogEntry, Watermark
from orgcarbon.security.models import utcnow  # one clock for every table

NONCES = ApiNonce.__table__
WATERMARKS = ConnectorWatermark.__table__
LOGS = InterfaceLog.__table__
CONNECTORS = ConnectorInstance.__table__
IDEMPOTENCY = IdempotencyRecord.__table__



def insert_ignoring_duplicates(session: Session, table: Any, values: Mapping[str, Any]) -> bool:
    """Insert one row unless a unique constraint already holds it; True when inserted.

    ``ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite: a concurrent transaction inserting the
    same key makes this one wait for its outcome instead of failing, which is what makes nonces
    and idempotency keys safe across gunicorn workers.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - other databases: a savepoint catches the duplicate
        try:
            with session.begin_nested():
                session.execute(insert(table).values(**values))
        except IntegrityError:
            return False
        return True
    # RETURNING rather than rowcount: with an implicit RETURNING of the key, rowcount is -1.
    return session.execute(statement.returning(table.c.id)).first() is not None


class DbWatermarkStore:
    """``WatermarkStore`` on ``cn_watermark``; ``save`` commits, with the staged rows of the run.

    The staging sink writes in the same session without committing, so the rows of a batch and
    the watermark that follows them become durable in one transaction or not at all.
    """

    def __init__(self, session: Session, connector_pk: int, commit: bool = True) -> None:
        self.session = session
        self.connector_pk = connector_pk
        self.commit = commit

    def load(self, connector_id: str) -> Watermark | None:
        text = self.session.scalar(
            select(WATERMARKS.c.value).where(WATERMARKS.c.connector_id == self.connector_pk)
        )
        return Watermark.from_json(text) if text else None

    def save(self, connector_id: str, watermark: Watermark | None) -> None:
        value = watermark.to_json() if watermark is not None else None
        changed = self.session.execute(
            update(WATERMARKS)
            .where(WATERMARKS.c.connector_id == self.connector_pk)
            .values(value=value, updated_at=utcnow())
        ).rowcount
        if not changed:
            self.session.execute(
                insert(WATERMARKS).values(connector_id=self.connector_pk, value=value, updated_at=utcnow())
            )
        if self.commit:
            self.session.commit()


class DbNonceStore:
    """``NonceStore`` on ``cn_api_nonce``, shared by every worker through the database.

    ``remember`` inserts in the caller's transaction: a request that is refused later (schema,
    idempotency conflict) rolls its nonce back with everything else, and two workers racing with
    the same envelope serialise on the unique constraint, so exactly one of them gets through.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def _split(key: str) -> tuple[str, str]:
        client_id, _, nonce = key.partition(":")
        return client_id, nonce

    def seen(self, key: str, now: float) -> bool:
        client_id, nonce = self._split(key)
        found = self.session.scalar(
            select(NONCES.c.id).where(NONCES.c.client_id == client_id, NONCES.c.nonce == nonce)
        )
        return found is not None

    def remember(self, key: str, expires_at: float, now: float) -> bool:
        client_id, nonce = self._split(key)
        return insert_ignoring_duplicates(
            self.session, NONCES, {"client_id": client_id, "nonce": nonce, "seen_at": utcnow()}
        )


def prune(session: Session, max_skew_seconds: int, keep_idempotency_days: int = 30) -> dict[str, int]:
    """Delete nonces that can no longer be replayed and old idempotency answers; commits."""
    now = utcnow()
    # A nonce matters while its timestamp is accepted: ts within ±skew of the time it was seen.
    nonce_cutoff = now - dt.timedelta(seconds=2 * max_skew_seconds + 60)
    nonces = session.execute(delete(NONCES).where(NONCES.c.seen_at < nonce_cutoff)).rowcount
    answer_cutoff = now - dt.timedelta(days=keep_idempotency_days)
    answers = session.execute(delete(IDEMPOTENCY).where(IDEMPOTENCY.c.created_at < answer_cutoff)).rowcount
    session.commit()
    return {"nonces": nonces, "idempotency": answers}


def write_log(session: Session, **values: Any) -> None:
    """Append one interface-log row (no commit)."""
    values.setdefault("started_at", utcnow())
    for name in ("duration_ms",):
        values.setdefault(name, 0.0)
    for name in ("attempts",):
        values.setdefault(name, 1)
    for name in ("fetched", "accepted", "filtered", "rejected"):
        values.setdefault(name, 0)
    if values.get("error") is not None:
        values["error"] = str(values["error"])[:4000]
    session.execute(insert(LOGS).values(**values))


def log_run(
    session: Session,
    connector: Any,
    entry: InterfaceLogEntry,
    staged: Mapping[str, Any] | None,
) -> None:
    """Record a connector run: the runner's entry plus what staging did with the batch."""
    staged = staged or {}
    rejected_rows = list(entry.rejected_reasons) + [
        f"{r['reference'] or r['record_key']}: {r['reason']}" for r in staged.get("rejected_rows", [])
    ]
    status = entry.status
    if status != "failed" and staged.get("rejected"):
        status = "partial"
    write_log(
        session,
        kind="pull",
        connector_id=connector.id,
        organization_id=connector.organization_id,
        status=status,
        started_at=dt.datetime.fromisoformat(entry.started_at),
        duration_ms=entry.duration_ms,
        attempts=entry.attempts,
        fetched=entry.fetched,
        accepted=int(staged.get("staged", 0)) + int(staged.get("updated", 0)),
        filtered=entry.filtered,
        rejected=entry.rejected + int(staged.get("rejected", 0)),
        batch_id=entry.batch_id or None,
        watermark_before=entry.watermark_before,
        watermark_after=entry.watermark_after,
        error=entry.error or None,
        details={
            "connector_type": entry.connector_type,
            "more_to_fetch": entry.status == "partial",
            "duplicates": int(staged.get("duplicates", 0)),
            "updated": int(staged.get("updated", 0)),
            "rejected_rows": rejected_rows[:50],
        },
    )
    session.execute(
        update(CONNECTORS)
        .where(CONNECTORS.c.id == connector.id)
        .values(last_run_at=utcnow(), last_status=status)
    )
