"""The Celery task of imports: takes a batch id, runs the import as the user who uploaded the file."""

from __future__ import annotations

import uuid
from typing import Any

from orgcarbon.platform.tasks import celery_app

DEFAULT_TASK_ROWS = 2000
DEFAULT_STALE_MINUTES = 10


def settings() -> tuple[int, int]:
    """(rows above which an import runs as a task, minutes without progress after which it may be resumed)."""
    from flask import current_app

    values = current_app.config.get("ORGCARBON", {})
    return (int(values.get("IMPORT_TASK_ROWS") or DEFAULT_TASK_ROWS),
            int(values.get("IMPORT_STALE_MINUTES") or DEFAULT_STALE_MINUTES))


@celery_app.task(name="orgcarbon.forms.import")
def run_import_task(batch_id: int) -> dict[str, Any]:
    """Validate and write import batch ``batch_id``; the outcome is stored on the batch."""
    from flask import current_app

    from orgcarbon.forms.imports import run_import
    from orgcarbon.platform.extensions import db

    done = run_import(db.session, current_app.instance_path, batch_id)  # runs as the uploader (audit trail)
    return {"import": batch_id, "status": done.status if done else "missing"}


def start_import(session: Any, instance_path: str, batch_id: int, *, force_task: bool = False) -> None:
    """Run a pending batch: in this process when it is short, else as the task (in-process without a broker)."""
    from orgcarbon.forms.imports import run_import
    from orgcarbon.forms.models import ImportBatch

    batch = session.get(ImportBatch, batch_id)
    if batch is None or batch.status != "pending":
        return
    threshold, _ = settings()
    if not force_task and (batch.total_rows or 0) <= threshold:
        run_import(session, instance_path, batch_id)
        return
    batch.task_id = str(uuid.uuid4())
    session.commit()  # the worker (or the eager task's own session) must see the batch
    run_import_task.apply_async((batch_id,), task_id=batch.task_id)
    session.expire_all()  # an in-process task wrote through another session
