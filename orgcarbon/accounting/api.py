"""``/api/v1/results/``: runs, lines, explain, stale runs, recalculation and restatements.

Scoped by ``org_scope`` like the pages (``views``): lines and runs of organisation nodes outside
the caller's scope answer 404; a run request outside the writable scope answers 403.
"""

from __future__ import annotations

from flask import request
from flask_appbuilder import expose
from flask_appbuilder.api import BaseApi, protect, safe
from sqlalchemy import select
from werkzeug.wrappers import Response

from orgcarbon.accounting.explain import explain
from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.accounting.restatement import (
    POLICIES,
    RestatementRefused,
    approve,
    freeze,
    reject,
    request_restatement,
    restatement_dict,
)
from orgcarbon.accounting.starting import StartRefused, begin_run, parse_start
from orgcarbon.accounting.views import (
    AREA,
    PAGE_SIZE,
    PERMISSIONS,
    line_dict,
    run_dict,
    run_figures,
    scoped,
    visible_line,
    visible_restatement,
    visible_restatements,
    visible_run,
)
from orgcarbon.platform.extensions import db
from orgcarbon.security.scope import org_scope


class ResultsApi(BaseApi):
    """``/api/v1/results/``: accounting runs, result lines and the explanation of any line."""

    resource_name = "results"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    allow_browser_login = True
    openapi_spec_tag = "Results"

    @expose("/runs", methods=["GET"])
    @protect()
    @safe
    def runs(self) -> Response:
        """Runs of the caller's organisations, newest first.
        ---
        get:
          responses:
            200: {description: runs}
        """
        query = scoped(select(AccountingRun).order_by(AccountingRun.id.desc()), AccountingRun.organization_id)
        return self.response(200, result=[run_dict(r) for r in db.session.scalars(query.limit(PAGE_SIZE))])

    @expose("/runs/<int:run_id>", methods=["GET"])
    @protect()
    @safe
    def run(self, run_id: int) -> Response:
        """One run with its totals by organisation and process.
        ---
        get:
          responses:
            200: {description: run}
            404: {description: not found or outside the data scope}
        """
        run = visible_run(run_id)
        if run is None:
            return self.response_404()
        return self.response(200, result={**run_dict(run), **run_figures(run)})

    @expose("/runs", methods=["POST"])
    @protect()
    @safe
    def start(self) -> Response:
        """Start a run: ``{"organization_id", "year", "model_id"?, "electricity_ef"?}``.
        ---
        post:
          responses:
            201: {description: the run}
            403: {description: outside the data scope}
            422: {description: refused, with the Chinese reasons}
        """
        from flask import g

        try:
            run_id = begin_run(parse_start(request.get_json(silent=True) or {}), g.user)
        except StartRefused as exc:
            if exc.status == 404:
                return self.response_404()
            return self.response(exc.status, message=exc.reasons if exc.status == 422 else exc.reasons[0])
        run = db.session.get(AccountingRun, run_id)
        assert run is not None
        return self.response(201, result=run_dict(run))

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def lines(self) -> Response:
        """Result lines of a run (``?run_id=``), optionally of one ``category`` or ``month``.
        ---
        get:
          responses:
            200: {description: lines}
        """
        run = visible_run(request.args.get("run_id", type=int) or 0)
        if run is None:
            return self.response_404()
        query = select(ResultLine).where(ResultLine.run_id == run.id).order_by(ResultLine.id)
        for name in ("category", "month", "material"):
            if value := request.args.get(name):
                query = query.where(getattr(ResultLine, name) == value)
        page = request.args.get("page", 0, type=int)
        rows = db.session.scalars(scoped(query, ResultLine.organization_id).offset(page * PAGE_SIZE).limit(PAGE_SIZE))
        return self.response(200, result=[line_dict(r) for r in rows])

    @expose("/<int:line_id>/explain", methods=["GET"])
    @protect()
    @safe
    def explain(self, line_id: int) -> Response:
        """How one figure was computed: equation with values, factors, records.
        ---
        get:
          responses:
            200: {description: explanation}
            404: {description: not found or outside the data scope}
        """
        line = visible_line(line_id)
        if line is None:
            return self.response_404()
        return self.response(200, result=explain(db.session, line))

    @expose("/stale", methods=["GET"])
    @protect()
    @safe
    def stale(self) -> Response:
        """Current runs in the caller's scope whose data or factors changed since, with the reasons.
        ---
        get:
          responses:
            200: {description: stale runs}
        """
        from orgcarbon.accounting.recalc import stale_runs

        return self.response(200, result=[s.as_dict() for s in stale_runs(db.session, org_scope())])

    @expose("/recalc", methods=["POST"])
    @protect()
    @safe
    def recalc(self) -> Response:
        """Re-account the current runs in the caller's writable scope whose data or model changed.
        ---
        post:
          responses:
            200: {description: "new runs, and the stale runs skipped with the reasons"}
            202: {description: handed to a worker (task id)}
        """
        from flask import g

        from orgcarbon.accounting.tasks import recalc_stale

        outcome = recalc_stale.delay(g.user.id)
        if not outcome.ready():
            return self.response(202, result={"task_id": outcome.id})
        return self.response(200, result=outcome.get())

    @expose("/restatements", methods=["GET"])
    @protect()
    @safe
    def restatements(self) -> Response:
        """Restatement requests and freeze decisions covering runs the caller may read, newest first.
        ---
        get:
          responses:
            200: {description: restatements}
        """
        scope = org_scope()
        return self.response(200, result=[restatement_dict(r, scope) for r in visible_restatements()])

    @expose("/restatements/<int:restatement_id>", methods=["GET"])
    @protect()
    @safe
    def restatement(self, restatement_id: int) -> Response:
        """One restatement with its runs and preview rows (by organisation, process, month).
        ---
        get:
          responses:
            200: {description: restatement}
            404: {description: not found or outside the data scope}
        """
        found = visible_restatement(restatement_id)
        if found is None:
            return self.response_404()
        return self.response(200, result=restatement_dict(found, org_scope()))

    @expose("/restatements", methods=["POST"])
    @protect()
    @safe
    def request_restatement(self) -> Response:
        """Choose the policy for a published factor version: ``{"factor_id", "policy": "restate"|"freeze", "note"?}``.
        ---
        post:
          responses:
            201: {description: the request with its preview, or the freeze decision}
            422: {description: refused, with the Chinese reasons}
        """
        from flask import g

        from orgcarbon.metamodel.versioned import Factor

        body = request.get_json(silent=True) or {}
        policy = body.get("policy", "restate")
        try:
            factor_id = int(body["factor_id"])
        except (KeyError, TypeError, ValueError):
            return self.response_422(message="需要 factor_id（整数）与 policy（restate 或 freeze）")
        if policy not in POLICIES:
            return self.response_422(message="policy 只能是 restate（重述）或 freeze（冻结）")
        scope = org_scope()
        try:
            factor = db.session.get(Factor, factor_id)
            if policy == "freeze":
                made = freeze(db.session, factor, g.user, scope, body.get("note"))
            else:
                made = request_restatement(db.session, factor, g.user, scope, body.get("note"))
        except RestatementRefused as exc:
            db.session.rollback()
            return self.response_422(message=exc.reasons)
        return self.response(201, result=restatement_dict(made, scope))

    @expose("/restatements/<int:restatement_id>/approve", methods=["POST"])
    @protect()
    @safe
    def approve_restatement(self, restatement_id: int) -> Response:
        """Approve and apply a pending restatement (not by its requester).
        ---
        post:
          responses:
            200: {description: applied}
            404: {description: not found or outside the data scope}
            422: {description: refused, with the Chinese reasons}
        """
        from flask import g

        if visible_restatement(restatement_id) is None:
            return self.response_404()
        try:
            done = approve(db.session, restatement_id, g.user, org_scope())
        except RestatementRefused as exc:
            return self.response_422(message=exc.reasons)
        return self.response(200, result=restatement_dict(done, org_scope()))

    @expose("/restatements/<int:restatement_id>/reject", methods=["POST"])
    @protect()
    @safe
    def reject_restatement(self, restatement_id: int) -> Response:
        """Reject (or withdraw) a pending restatement: ``{"note"?}``.
        ---
        post:
          responses:
            200: {description: rejected}
            404: {description: not found or outside the data scope}
            422: {description: refused}
        """
        from flask import g

        if visible_restatement(restatement_id) is None:
            return self.response_404()
        body = request.get_json(silent=True) or {}
        try:
            done = reject(db.session, restatement_id, g.user, org_scope(), body.get("note"))
        except RestatementRefused as exc:
            return self.response_422(message=exc.reasons)
        return self.response(200, result=restatement_dict(done, org_scope()))
