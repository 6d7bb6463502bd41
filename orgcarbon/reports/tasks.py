"""Celery tasks of the reports package (rendering a report)."""

from __future__ import annotations

import uuid
from typing import Any

from orgcarbon.platform.tasks import celery_app


@celery_app.task(name="orgcarbon.reports.render")
def render_report_task(report_id: int) -> dict[str, Any]:
    """Render the queued report ``report_id`` (progress committed step by step)."""
    from flask import current_app

    from orgcarbon.platform.extensions import db
    from orgcarbon.reports.models import Report
    from orgcarbon.reports.render import render_report
    from orgcarbon.security.audit import acting_as

    session = db.session
    report = session.get(Report, report_id)
    if report is None:
        return {"report": report_id, "status": "missing"}
    from flask_appbuilder.security.sqla.models import User

    user = session.get(User, report.requested_by_id) if report.requested_by_id is not None else None
    with acting_as(user.username if user is not None else "task:report", report.requested_by_id):
        report = render_report(session, current_app.instance_path, report_id)
    assert report is not None
    return {"report": report_id, "status": report.status, "final": report.final}


def start_report(session: Any, run: Any, user: Any, *, kind: str = "report", want_pdf: bool = True,
                 scope: Any = None) -> int:
    """Queue a report of ``run`` and hand it to the worker (in-process without a broker); returns its id.

    ``ReportRefused`` (Chinese reasons) when the run is out of scope, unfinished or superseded.
    """
    from orgcarbon.reports.service import request_report

    report = request_report(session, run, user, kind=kind, want_pdf=want_pdf, scope=scope)
    report.job_id = uuid.uuid4().hex
    session.commit()
    render_report_task.apply_async((report.id,), task_id=report.job_id)
    return report.id
