"""The Celery task of quality dry runs: takes a run id, calls the command, records the outcome."""

from __future__ import annotations

import logging
from typing import Any

from orgcarbon.platform.tasks import celery_app

log = logging.getLogger(__name__)


@celery_app.task(name="orgcarbon.quality.dry_run")
def run_dry_run(run_id: int) -> dict[str, Any]:
    """Evaluate the pending run ``run_id``; a refusal or an error marks it failed with the reason."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import QualityRun
    from orgcarbon.quality.rules_store import utcnow
    from orgcarbon.quality.runs import DryRun, RunRefused
    from orgcarbon.security.audit import acting_as

    session = db.session
    run = session.get(QualityRun, run_id)
    if run is None:
        return {"run": run_id, "status": "missing"}
    with acting_as(run.user_name or "task:quality", run.user_id):
        command = DryRun(session, run.organization_id, run.year, run.month, run.dataset)
        try:
            command.run(run)
        except Exception as exc:  # the run must end failed, not stay "running", whatever went wrong
            session.rollback()
            if not isinstance(exc, RunRefused):
                log.exception("quality dry run %s failed", run_id)
            reason = "\n".join(exc.reasons) if isinstance(exc, RunRefused) else f"运行出错：{exc}"
            run = session.get(QualityRun, run_id)
            assert run is not None
            run.status, run.error, run.finished_at = "failed", reason, utcnow()
            session.commit()
    return {"run": run_id, "status": run.status, "counts": run.counts}


def start_dry_run(session: Any, organization_id: int, year: int, month: int | None, dataset: str,
                  user: Any = None) -> int:
    """Record a pending dry run and hand it to the worker (in-process without a broker); returns its id."""
    from orgcarbon.quality.models import QualityRun
    from orgcarbon.quality.rules_store import utcnow
    from orgcarbon.quality.runs import DryRun

    DryRun(session, organization_id, year, month, dataset).validate()
    run = QualityRun(kind="dry_run", dataset=dataset, organization_id=organization_id, year=year, month=month,
                     status="pending", started_at=utcnow(), user_id=getattr(user, "id", None),
                     user_name=getattr(user, "username", None))
    session.add(run)
    session.commit()
    run_dry_run.delay(run.id)
    return run.id
