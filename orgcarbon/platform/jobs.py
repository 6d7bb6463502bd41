"""Celery tasks of the platform itself. Each takes ids or plain values and has an explicit name."""

from __future__ import annotations

from typing import Any

from orgcarbon.platform.tasks import celery_app


@celery_app.task(name="orgcarbon.platform.audit_summary")
def audit_summary(table_name: str) -> dict[str, Any]:
    """Count the audit entries of one table by action: proves a worker reaches the database."""
    from sqlalchemy import func, select

    from orgcarbon.platform.extensions import db
    from orgcarbon.security.models import AuditEntry

    rows = db.session.execute(
        select(AuditEntry.action, func.count())
        .where(AuditEntry.table_name == table_name)
        .group_by(AuditEntry.action)
    ).all()
    return {"table": table_name, "counts": {action: count for action, count in rows}}
