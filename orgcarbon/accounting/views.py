"""Results pages and ``/api/v1/results/``: runs, lines, explain; all scoped by ``org_scope``.

Lines and runs of organisation nodes outside the caller's scope answer 404 (they do not exist for
that user); a run request outside the writable scope answers 403.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import abort, request
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, protect, safe
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from orgcarbon.accounting.explain import explain
from orgcarbon.accounting.models import AccountingRun, Restatement, ResultLine
from orgcarbon.accounting.restatement import (
    POLICIES,
    RestatementRefused,
    approve,
    freeze,
    reject,
    request_restatement,
    restatement_dict,
)
from orgcarbon.platform.extensions import db
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

AREA = "Results"
# Restatement requests and approvals need write on "Results" (the area of results and their
# recalculation, held by the modelling administrator); reading them needs read on "Results".
PERMISSIONS = {**METHOD_PERMISSIONS, "runs": "read", "run": "read", "lines": "read", "explain": "read",
               "start": "write", "explain_page": "read", "run_page": "read", "stale": "read",
               "restatements": "read", "restatement": "read", "request_restatement": "write",
               "approve_restatement": "write", "reject_restatement": "write", "restatements_page": "read",
               "restatement_page": "read"}
PAGE_SIZE = 500


def _scoped(query: Any, column: Any) -> Any:
    scope = org_scope()
    return query if scope.readable is None else query.where(column.in_(sorted(scope.readable)))


def run_dict(run: AccountingRun) -> dict[str, Any]:
    """A run as JSON."""
    return {
        "id": run.id, "organization_id": run.organization_id, "organization": run.organization.name,
        "year": run.year, "model_id": run.model_id, "model_version": run.model_version, "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "created_by": run.created_by_name, "electricity_ef": run.electricity_ef,
        "inputs_digest": run.inputs_digest, "total_tco2": run.total_tco2, "direct_tco2": run.direct_tco2,
        "indirect_tco2": run.indirect_tco2, "by_category": run.by_category, "lines": run.line_count,
        "notes": (run.notes or "").splitlines(), "error": run.error,
    }


def line_dict(line: ResultLine) -> dict[str, Any]:
    """A result line as JSON (lineage ids included)."""
    return {
        "id": line.id, "run_id": line.run_id, "organization_id": line.organization_id,
        "process_id": line.process_id, "subprocess_id": line.subprocess_id, "binding_id": line.binding_id,
        "material": line.material, "month": line.month, "category": line.category, "term": line.term,
        "activity": line.activity, "activity_unit": line.activity_unit, "ef": line.ef, "ef_unit": line.ef_unit,
        "tco2": line.tco2, "net_tco2": line.net_tco2, "formula_id": line.formula_id,
        "formula": f"{line.formula_name} v{line.formula_version}",
        "factors": [{"id": f["id"], "version": f["version"]} for f in line.factors], "record_ids": line.record_ids,
    }


def visible_run(run_id: int) -> AccountingRun | None:
    """The run if the caller may read its organisation, else None."""
    run = db.session.get(AccountingRun, run_id)
    return run if run is not None and org_scope().can_read(run.organization_id) else None


def visible_line(line_id: int) -> ResultLine | None:
    """The line if the caller may read its organisation, else None."""
    line = db.session.get(ResultLine, line_id)
    return line if line is not None and org_scope().can_read(line.organization_id) else None


def process_totals(run_id: int) -> list[tuple[str, str, float]]:
    """(organisation, process, signed tCO2) of a run's visible lines."""
    from orgcarbon.metamodel.models import Organization, Process

    query = (
        select(Organization.name, Process.name, func.sum(ResultLine.net_tco2))
        .join(Organization, ResultLine.organization_id == Organization.id)
        .outerjoin(Process, ResultLine.process_id == Process.id)
        .where(ResultLine.run_id == run_id)
        .group_by(Organization.name, Process.name)
        .order_by(Organization.name, Process.name)
    )
    return [(o, p or "", float(v)) for o, p, v in db.session.execute(_scoped(query, ResultLine.organization_id))]


def visible_restatement(restatement_id: int) -> Restatement | None:
    """The restatement if it covers a run the caller may read, else None."""
    found = db.session.get(Restatement, restatement_id)
    scope = org_scope()
    return found if found is not None and any(scope.can_read(r.organization_id) for r in found.runs) else None


def visible_restatements() -> list[Restatement]:
    """Restatements covering a run the caller may read, newest first."""
    scope = org_scope()
    query = select(Restatement).order_by(Restatement.id.desc()).limit(PAGE_SIZE)
    return [r for r in db.session.scalars(query) if any(scope.can_read(i.organization_id) for i in r.runs)]


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
        query = _scoped(select(AccountingRun).order_by(AccountingRun.id.desc()), AccountingRun.organization_id)
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
        by_process = [{"organization": o, "process": p, "net_tco2": v} for o, p, v in process_totals(run_id)]
        return self.response(200, result={**run_dict(run), "by_process": by_process})

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

        from orgcarbon.accounting.command import AccountingRefused
        from orgcarbon.accounting.tasks import start_run

        body = request.get_json(silent=True) or {}
        try:
            org_id, year = int(body["organization_id"]), int(body["year"])
            model_id = int(body["model_id"]) if body.get("model_id") is not None else None
            ef = float(body["electricity_ef"]) if body.get("electricity_ef") is not None else None
        except (KeyError, TypeError, ValueError):
            return self.response_422(message="需要 organization_id 与 year（整数），可选 model_id、electricity_ef")
        scope = org_scope()
        if not scope.can_read(org_id):
            return self.response_404()
        if not scope.can_write(org_id):
            return self.response(403, message="无权核算该组织（超出您的数据范围）")
        try:
            run_id = start_run(db.session, org_id, year, model_id, ef, g.user)
        except AccountingRefused as exc:
            db.session.rollback()
            return self.response_422(message=exc.reasons)
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
        rows = db.session.scalars(_scoped(query, ResultLine.organization_id).offset(page * PAGE_SIZE).limit(PAGE_SIZE))
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


class ResultsView(BaseView):
    """核算结果 pages: runs, a run's figures by process and line, and the explanation of a line."""

    route_base = "/results"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = str(Path(__file__).resolve().parent / "templates")
    default_view = "index"

    @expose("/")
    @has_access
    def index(self) -> str:
        query = _scoped(select(AccountingRun).order_by(AccountingRun.id.desc()), AccountingRun.organization_id)
        return self.render_template("accounting/runs.html", runs=db.session.scalars(query.limit(PAGE_SIZE)).all())

    @expose("/run/<int:run_id>")
    @has_access
    def run_page(self, run_id: int) -> str:
        run = visible_run(run_id)
        if run is None:
            abort(404)
        query = _scoped(select(ResultLine).where(ResultLine.run_id == run_id).order_by(ResultLine.id),
                        ResultLine.organization_id)
        return self.render_template("accounting/run.html", run=run, by_process=process_totals(run_id),
                                    lines=db.session.scalars(query.limit(PAGE_SIZE)).all())

    @expose("/line/<int:line_id>/explain")
    @has_access
    def explain_page(self, line_id: int) -> str:
        line = visible_line(line_id)
        if line is None:
            abort(404)
        return self.render_template("accounting/explain.html", x=explain(db.session, line))

    @expose("/restatements")
    @has_access
    def restatements_page(self) -> str:
        scope = org_scope()
        return self.render_template("accounting/restatements.html",
                                    items=[restatement_dict(r, scope) for r in visible_restatements()])

    @expose("/restatement/<int:restatement_id>")
    @has_access
    def restatement_page(self, restatement_id: int) -> str:
        found = visible_restatement(restatement_id)
        if found is None:
            abort(404)
        return self.render_template("accounting/restatement.html", r=restatement_dict(found, org_scope()))


def register_accounting(appbuilder: AppBuilder) -> None:
    """Attach the results pages and API, the menu entry and the accounting task."""
    import orgcarbon.accounting.tasks  # noqa: F401  (registers the Celery task)

    appbuilder.add_view(ResultsView, "Accounting results", label=_l("Accounting results"), icon="fa-calculator",
                        category="Results", category_label=_l("Results"), category_icon="fa-bar-chart")
    appbuilder.add_api(ResultsApi)
