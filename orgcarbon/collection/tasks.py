"""Celery tasks of system collection: sync one connector; dispatch the connectors that are due.

Beat runs ``orgcarbon.collection.dispatch`` every minute (``orgcarbon worker --beat``); it reads
each enabled connector's ``schedule_minutes`` from the database, so a schedule edited in the UI
applies from the next minute without restarting anything. Subscription connectors (MQTT) are not
dispatched: ``orgcarbon collection listen`` keeps them connected and flushes them continuously.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from orgcarbon.platform.tasks import celery_app

DISPATCH_EVERY_S = 60.0

celery_app.conf.beat_schedule = {
    **(celery_app.conf.beat_schedule or {}),
    "orgcarbon.collection.dispatch": {"task": "orgcarbon.collection.dispatch", "schedule": DISPATCH_EVERY_S},
}


@celery_app.task(name="orgcarbon.collection.sync")
def sync(connector_id: int, user_id: int | None = None) -> dict[str, Any]:
    """Run one stored connector into staging; returns its runs (status and counts)."""
    from orgcarbon.collection.listener import SUBSCRIPTION_TYPES, live_connector
    from orgcarbon.collection.models import ConnectorInstance
    from orgcarbon.collection.runner import ConnectorBusy, run_connector
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit import acting_as

    session = db.session
    instance = session.get(ConnectorInstance, connector_id)
    if instance is None:
        return {"connector": connector_id, "status": "missing"}
    live = live_connector(connector_id)
    if instance.type in SUBSCRIPTION_TYPES and live is None:
        return {"connector": connector_id, "status": "skipped",
                "message": "订阅型连接器由 orgcarbon collection listen 进程持续接收"}
    user = None
    if user_id is not None:
        from flask import current_app

        user = current_app.appbuilder.sm.get_user_by_id(user_id)  # type: ignore[attr-defined]
    with acting_as(getattr(user, "username", None) or "task:collection", user_id):
        try:
            runs = run_connector(session, connector_id, connector=live, user=user)
        except ConnectorBusy:
            return {"connector": connector_id, "status": "busy", "message": "该连接器正在同步，请稍后再试"}
    return {"connector": connector_id, "status": runs[-1]["status"] if runs else "success", "runs": runs}


def due_connectors(session: Any, now: dt.datetime) -> list[int]:
    """Ids of enabled, scheduled pull connectors whose last run is at least one interval old."""
    from sqlalchemy import select

    from orgcarbon.collection.listener import SUBSCRIPTION_TYPES
    from orgcarbon.collection.models import ConnectorInstance as C

    due = []
    rows = session.execute(
        select(C.id, C.type, C.schedule_minutes, C.last_run_at)
        .where(C.enabled.is_(True), C.schedule_minutes.is_not(None))
    )
    for connector_id, type_name, minutes, last in rows:
        if type_name in SUBSCRIPTION_TYPES or not minutes or minutes <= 0:
            continue
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC
        # A few seconds of slack: beat fires every 60 s, a run every 5 minutes must not slip to 6.
        if last is None or now - last >= dt.timedelta(minutes=minutes, seconds=-5):
            due.append(connector_id)
    return due


@celery_app.task(name="orgcarbon.collection.dispatch")
def dispatch() -> dict[str, Any]:
    """Start ``sync`` for every due connector; prune expired nonces and old idempotency answers."""
    from sqlalchemy import update

    from orgcarbon.collection.api_auth import MAX_SKEW_SECONDS
    from orgcarbon.collection.models import ConnectorInstance
    from orgcarbon.collection.store import prune, utcnow
    from orgcarbon.platform.extensions import db

    session = db.session
    now = utcnow()
    due = due_connectors(session, now)
    if due:
        # Marked before dispatching, so the next minute's beat does not start the same run again.
        table = ConnectorInstance.__table__
        session.execute(update(table).where(table.c.id.in_(due)).values(last_run_at=now))
        session.commit()
    pruned = prune(session, MAX_SKEW_SECONDS)
    for connector_id in due:
        sync.delay(connector_id)
    return {"dispatched": due, "pruned": pruned}
