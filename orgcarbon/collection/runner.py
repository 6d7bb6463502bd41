"""Run a stored connector: build it from its row, sync it into staging, log the run.

``run_connector`` is what the Celery task, the 立即同步 button, the CLI and the MQTT listener
call. One run of one connector at a time: on PostgreSQL an advisory lock held on its own
connection keeps a second worker (or a second click) from reading the same increment at once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from orgcarbon.collection.keys import open_connector_secrets
from orgcarbon.collection.models import ConnectorInstance
from orgcarbon.collection.staging import StageResult, stage_batch
from orgcarbon.collection.store import DbWatermarkStore, log_run
from orgcarbon.connectors import (
    Connector,
    MappedBatch,
    RetryPolicy,
    SyncRunner,
    create_connector,
    parse_mapping,
)

_LOCAL_LOCKS: dict[int, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()
LOCK_NAMESPACE = 7_316_052_300  # advisory-lock keys: this + connector id


class ConnectorBusy(RuntimeError):
    """Another run of the same connector is in progress."""


def connector_key(instance_id: int) -> str:
    """The connector id used in provenance and record keys (``c<id>``)."""
    return f"c{instance_id}"


def build_connector(instance: ConnectorInstance) -> Connector:
    """The connector of a stored instance: its config with the decrypted secret fields."""
    config = {**(instance.config or {}), **open_connector_secrets(instance.secret)}
    return create_connector(instance.type, connector_key(instance.id), config)


class StagingSink:
    """The runner's sink: stage a mapped batch in the session, without committing.

    The watermark store commits right after, so the rows and the watermark are one transaction.
    A failed earlier attempt of the same run is rolled back first, so a retry starts clean.
    """

    def __init__(self, session: Session, instance: ConnectorInstance, user: Any = None) -> None:
        self.session = session
        self.connector_pk = instance.id
        self.source = instance.type[:16]
        self.user = user
        self.result: StageResult | None = None

    def __call__(self, batch: MappedBatch) -> None:
        self.session.rollback()
        frame = batch.frame
        if frame.empty:
            self.result = StageResult("", 0, 0, 0, 0)
            return
        frame = frame.assign(record_key=connector_key(self.connector_pk) + "/" + frame["record_key"])
        batch_id = str(frame["batch_id"].iloc[0]) if "batch_id" in frame else uuid.uuid4().hex
        self.result = stage_batch(
            self.session, frame, source=self.source, batch_id=batch_id,
            connector_id=self.connector_pk, user=self.user,
        )


@contextmanager
def exclusive(session: Session, instance_id: int) -> Iterator[None]:
    """Hold the run lock of one connector; raises ``ConnectorBusy`` when it is taken."""
    with _LOCAL_GUARD:
        local = _LOCAL_LOCKS.setdefault(instance_id, threading.Lock())
    if not local.acquire(blocking=False):
        raise ConnectorBusy(instance_id)
    try:
        bind = session.get_bind()
        if bind.dialect.name != "postgresql":
            yield
            return
        key = LOCK_NAMESPACE + instance_id
        with bind.engine.connect() as lock_connection:  # type: ignore[union-attr]
            taken = lock_connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            if not taken:
                raise ConnectorBusy(instance_id)
            try:
                yield
            finally:
                lock_connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                lock_connection.commit()
    finally:
        local.release()


def run_connector(
    session: Session,
    instance_id: int,
    *,
    connector: Connector | None = None,
    retry: RetryPolicy | None = None,
    user: Any = None,
    max_runs: int = 20,
) -> list[dict[str, Any]]:
    """Sync one stored connector until it reports no more data; one log row per run.

    ``connector`` is a live connector to use instead of building one (the MQTT listener keeps its
    subscriptions open between runs). Returns the runs as dicts (status, counts, error).
    """
    instance = session.get(ConnectorInstance, instance_id)
    if instance is None:
        raise LookupError(instance_id)
    own = connector is None
    summaries: list[dict[str, Any]] = []
    with exclusive(session, instance_id):
        mapping = parse_mapping(instance.mapping)
        source = connector or build_connector(instance)
        sink = StagingSink(session, instance, user)
        runner = SyncRunner(source, mapping, sink, DbWatermarkStore(session, instance_id), retry)
        try:
            for _ in range(max_runs):
                sink.result = None
                entry = runner.run_once()
                if entry.status == "failed":
                    session.rollback()  # nothing of a failed run stays in staging
                staged: dict[str, Any] = (
                    sink.result.as_dict() if sink.result and entry.status != "failed" else {}
                )
                instance = session.get(ConnectorInstance, instance_id)
                assert instance is not None
                log_run(session, instance, entry, staged or None)
                session.commit()
                summaries.append({
                    "status": entry.status, "fetched": entry.fetched, "accepted": entry.accepted,
                    "staged": staged.get("staged", 0), "duplicates": staged.get("duplicates", 0),
                    "rejected": entry.rejected + staged.get("rejected", 0), "error": entry.error,
                })
                if entry.status != "partial":
                    break
        finally:
            if own:
                source.close()
    return summaries
