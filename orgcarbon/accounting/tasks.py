"""The Celery task of platform accounting: takes a run id, calls the command, records the outcome."""

from __future__ import annotations

from typing import Any

from orgcarbon.platform.tasks import celery_app


@celery_app.task(name="orgcarbon.accounting.run")
def run_accounting(run_id: int) -> dict[str, Any]:
    """Compute the pending run ``run_id``; a refusal marks it failed with the Chinese reasons."""
    from orgcarbon.accounting.command import AccountingRefused, AccountOrganisation
    from orgcarbon.accounting.models import AccountingRun, utcnow
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit import acting_as

    session = db.session
    run = session.get(AccountingRun, run_id)
    if run is None:
        return {"run": run_id, "status": "missing"}
    with acting_as(run.created_by_name or "task:accounting", run.created_by_id):
        command = AccountOrganisation(session, run.organization_id, run.year, run.model_id, run.electricity_ef)
        try:
            command.run(run)
        except AccountingRefused as exc:
            run = session.get(AccountingRun, run_id)
            assert run is not None
            run.status, run.error, run.finished_at = "failed", "\n".join(exc.reasons), utcnow()
            session.commit()
    return {"run": run_id, "status": run.status, "total_tco2": run.total_tco2}


def start_run(session: Any, org_id: int, year: int, model_id: int | None, electricity_ef: float | None,
              user: Any = None) -> int:
    """Record a pending run and hand it to the worker (in-process without a broker); returns its id."""
    from orgcarbon.accounting.command import AccountOrganisation
    from orgcarbon.accounting.models import AccountingRun, utcnow

    _, model, _ = AccountOrganisation(session, org_id, year, model_id, electricity_ef).validate()
    run = AccountingRun(organization_id=org_id, year=year, model_id=model.id, model_version=model.version,
                        electricity_ef=electricity_ef, status="pending", started_at=utcnow(),
                        created_by_id=getattr(user, "id", None), created_by_name=getattr(user, "username", None))
    session.add(run)
    session.commit()
    run_accounting.delay(run.id)
    return run.id


@celery_app.task(name="orgcarbon.accounting.recalc")
def recalc_stale(user_id: int | None = None) -> dict[str, Any]:
    """Re-account the current runs whose data or model changed (in ``user_id``'s writable scope)."""
    from flask import current_app

    from orgcarbon.accounting.recalc import recalculate_stale
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.audit import acting_as
    from orgcarbon.security.scope import org_scope

    session = db.session
    user = current_app.appbuilder.sm.get_user_by_id(user_id) if user_id is not None else None
    scope = org_scope(user, session) if user is not None else None
    with acting_as(getattr(user, "username", None) or "task:recalc", user_id):
        return recalculate_stale(session, user, scope).as_dict()
