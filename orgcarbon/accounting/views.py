"""核算结果 pages (runs, explain, restatements, recalculation) and the scoped lookups the API shares.

Lines and runs of organisation nodes outside the caller's scope answer 404 (they do not exist for
that user); a run request outside the writable scope answers 403. Page POSTs carry a CSRF token;
a refused step is shown as the service's Chinese reasons. The JSON API is in ``api.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import ValidationError

from orgcarbon.accounting.explain import explain
from orgcarbon.accounting.intensity import process_intensity, run_intensity
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
from orgcarbon.rules.model import TERM_NAMES
from orgcarbon.rules.products import BASIS_NAMES
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

AREA = "Results"
# Restatement requests and approvals need write on "Results" (the area of results and their
# recalculation, held by the modelling administrator); reading them needs read on "Results".
PERMISSIONS = {**METHOD_PERMISSIONS, "runs": "read", "run": "read", "lines": "read", "explain": "read",
               "start": "write", "explain_page": "read", "run_page": "read", "stale": "read",
               "restatements": "read", "restatement": "read", "request_restatement": "write",
               "approve_restatement": "write", "reject_restatement": "write", "restatements_page": "read",
               "restatement_page": "read", "recalc": "write", "request_page": "write", "approve_page": "write",
               "reject_page": "write", "recalc_page": "write", "start_page": "write"}
PAGE_SIZE = 500
RUN_STATUS_NAMES = {"pending": _l("Pending"), "done": _l("Done"), "failed": _l("Failed"),
                    "superseded": _l("Superseded")}


def scoped(query: Any, column: Any) -> Any:
    """``query`` limited to the organisation nodes the caller may read."""
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
    return [(o, p or "", float(v)) for o, p, v in db.session.execute(scoped(query, ResultLine.organization_id))]


def run_figures(run: AccountingRun) -> dict[str, Any]:
    """A run's totals by organisation and process, and its intensities, as the caller may see them."""
    readable = org_scope().readable
    return {
        "by_process": [{"organization": o, "process": p, "net_tco2": v} for o, p, v in process_totals(run.id)],
        "intensity": run_intensity(db.session, run),
        "process_intensity": process_intensity(db.session, run.id, readable),
    }


def restatement_candidates() -> list[dict[str, Any]]:
    """Published factor versions newer than the one some current run in the caller's scope used."""
    from orgcarbon.accounting.recalc import published_factor, stale_runs

    found: dict[str, dict[str, Any]] = {}
    for stale in stale_runs(db.session, org_scope()):
        for code in stale.factor_codes:
            factor = published_factor(db.session, code)
            if factor is None:
                continue
            item = found.setdefault(code, {"factor_id": factor.id, "code": code, "version": factor.version,
                                           "material": factor.material.name, "value": factor.value,
                                           "unit": factor.unit, "runs": []})
            item["runs"].append(f"{stale.run.organization.name} {stale.run.year} #{stale.run.id}")
    return list(found.values())


def check_csrf() -> None:
    """Refuse a page POST without the form's token (the JSON API uses bearer tokens instead)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (CSRFError, ValidationError):
        abort(400, "页面已过期，请刷新后重试")


def flash_refusal(reasons: list[str]) -> None:
    """Each Chinese reason of a refusal as its own flash message."""
    for reason in reasons:
        flash(reason, "danger")


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


class ResultsView(BaseView):
    """核算结果 pages: runs, a run's figures by process and line, and the explanation of a line."""

    route_base = "/results"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = str(Path(__file__).resolve().parent / "templates")
    default_view = "index"

    def _can_write(self) -> bool:
        # Buttons that POST are shown only to users who may take the step (write on Results).
        return bool(self.appbuilder.sm.has_access("can_write", AREA))

    @expose("/")
    @has_access
    def index(self) -> str:
        from orgcarbon.accounting.starting import start_choices

        query = scoped(select(AccountingRun).order_by(AccountingRun.id.desc()), AccountingRun.organization_id)
        can_write = self._can_write()  # the 开始核算 form (and its choices) only for who may use it
        return self.render_template("accounting/runs.html", runs=db.session.scalars(query.limit(PAGE_SIZE)).all(),
                                    can_write=can_write, choices=start_choices() if can_write else None,
                                    csrf_token=generate_csrf,
                                    status_names=RUN_STATUS_NAMES)

    @expose("/runs/start", methods=["POST"])
    @has_access
    def start_page(self) -> Response:
        """Start a run from the page's form; refusals are flashed with the field and the reason."""
        from flask import g

        from orgcarbon.accounting.starting import StartRefused, begin_run, parse_start

        check_csrf()
        try:
            run_id = begin_run(parse_start(request.form), g.user)
        except StartRefused as exc:
            flash_refusal(exc.reasons)
            return redirect(url_for("ResultsView.index"))
        flash(_("Accounting run #%(id)s started; the figures appear when it is done.", id=run_id), "success")
        return redirect(url_for("ResultsView.run_page", run_id=run_id))

    @expose("/run/<int:run_id>")
    @has_access
    def run_page(self, run_id: int) -> str:
        run = visible_run(run_id)
        if run is None:
            abort(404)
        query = scoped(select(ResultLine).where(ResultLine.run_id == run_id).order_by(ResultLine.id),
                        ResultLine.organization_id)
        figures = run_figures(run)
        return self.render_template("accounting/run.html", run=run, by_process=process_totals(run_id),
                                    intensity=figures["intensity"], process_intensity=figures["process_intensity"],
                                    basis_names=BASIS_NAMES, term_names=TERM_NAMES,
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
        from orgcarbon.accounting.recalc import stale_runs

        scope = org_scope()
        return self.render_template("accounting/restatements.html",
                                    items=[restatement_dict(r, scope) for r in visible_restatements()],
                                    candidates=restatement_candidates(),
                                    stale=[s.as_dict() for s in stale_runs(db.session, scope)],
                                    can_write=self._can_write(), csrf_token=generate_csrf)

    @expose("/restatement/<int:restatement_id>")
    @has_access
    def restatement_page(self, restatement_id: int) -> str:
        found = visible_restatement(restatement_id)
        if found is None:
            abort(404)
        return self.render_template("accounting/restatement.html", r=restatement_dict(found, org_scope()),
                                    can_write=self._can_write(), csrf_token=generate_csrf)

    @expose("/restatements/request", methods=["POST"])
    @has_access
    def request_page(self) -> Response:
        """Request a restatement (with its preview) or record a freeze, for one published factor version."""
        from flask import g

        from orgcarbon.metamodel.versioned import Factor

        check_csrf()
        policy = request.form.get("policy", "restate")
        factor_id = request.form.get("factor_id", type=int)
        if policy not in POLICIES or factor_id is None:
            flash_refusal(["请选择因子版本与策略（重述或冻结）"])
            return redirect(url_for("ResultsView.restatements_page"))
        factor, note = db.session.get(Factor, factor_id), request.form.get("note") or None
        try:
            if policy == "freeze":
                made = freeze(db.session, factor, g.user, org_scope(), note)
            else:
                made = request_restatement(db.session, factor, g.user, org_scope(), note)
        except RestatementRefused as exc:
            db.session.rollback()
            flash_refusal(exc.reasons)
            return redirect(url_for("ResultsView.restatements_page"))
        flash(_("Freeze decision recorded: past results keep their figures.") if policy == "freeze"
              else _("Restatement requested; another user with write access to results must approve it."), "success")
        return redirect(url_for("ResultsView.restatement_page", restatement_id=made.id))

    @expose("/restatement/<int:restatement_id>/approve", methods=["POST"])
    @has_access
    def approve_page(self, restatement_id: int) -> Response:
        """Approve and apply a pending restatement (not by its requester)."""
        from flask import g

        check_csrf()
        if visible_restatement(restatement_id) is None:
            abort(404)
        try:
            approve(db.session, restatement_id, g.user, org_scope())
        except RestatementRefused as exc:
            flash_refusal(exc.reasons)
        else:
            flash(_("Restatement approved and applied."), "success")
        return redirect(url_for("ResultsView.restatement_page", restatement_id=restatement_id))

    @expose("/restatement/<int:restatement_id>/reject", methods=["POST"])
    @has_access
    def reject_page(self, restatement_id: int) -> Response:
        """Reject (or, by the requester, withdraw) a pending restatement."""
        from flask import g

        check_csrf()
        if visible_restatement(restatement_id) is None:
            abort(404)
        try:
            reject(db.session, restatement_id, g.user, org_scope(), request.form.get("note") or None)
        except RestatementRefused as exc:
            flash_refusal(exc.reasons)
        else:
            flash(_("Restatement rejected."), "success")
        return redirect(url_for("ResultsView.restatement_page", restatement_id=restatement_id))

    @expose("/recalc", methods=["POST"])
    @has_access
    def recalc_page(self) -> Response:
        """Re-account the stale runs whose data or model changed; say what was done and what was skipped."""
        from flask import g

        from orgcarbon.accounting.recalc import recalculate_stale

        check_csrf()
        done = recalculate_stale(db.session, g.user, org_scope())
        for run in done:
            flash(_("Recalculated %(org)s %(year)s as run #%(id)s.", org=run.organization.name, year=run.year,
                    id=run.id), "success")
        for skipped in done.skipped:
            flash_refusal([f"{skipped.run}：{reason}" for reason in skipped.reasons])
        if not done and not done.skipped:
            flash(_("No result needs recalculating."), "info")
        return redirect(url_for("ResultsView.restatements_page"))


def register_accounting(appbuilder: AppBuilder) -> None:
    """Attach the results pages and API, the menu entries and the accounting tasks."""
    import orgcarbon.accounting.tasks  # noqa: F401  (registers the Celery tasks)
    from orgcarbon.accounting.api import ResultsApi

    view = appbuilder.add_view(ResultsView, "Accounting results", label=_l("Accounting results"),
                               icon="fa-calculator", category="Results", category_label=_l("Results"),
                               category_icon="fa-bar-chart")
    # The link names the view, so ``init`` grants its menu entry with the Results area.
    appbuilder.add_link("Restatements", label=_l("Restatements"), href="/results/restatements", icon="fa-history",
                        category="Results", baseview=view)
    appbuilder.add_api(ResultsApi)
