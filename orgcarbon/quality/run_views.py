"""数据质量 pages: dry runs and their findings, the verification report, 质量评分, one record.

All scoped by ``org_scope``: a run, scorecard or record of an organisation outside the caller's
scope answers 404; starting a run needs write on "Rules" and on the organisation.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField

from orgcarbon.metamodel.models import ActivityRecord
from orgcarbon.platform.extensions import db
from orgcarbon.quality.frames import DATASET_LABELS, DATASETS, Period
from orgcarbon.quality.models import QualityFinding, QualityRun, StagingRow
from orgcarbon.quality.partitions import effective_statuses
from orgcarbon.quality.report import XLSX, report_workbook, verification_report
from orgcarbon.quality.runs import RunRefused, run_findings
from orgcarbon.quality.scorecard import DIMENSION_LABELS, drill_down, quality_scorecard
from orgcarbon.quality.views import AREA, PERMISSIONS, TEMPLATES, organization_choices
from orgcarbon.rules.quality.definitions import DIMENSIONS, SEVERITY_ZH
from orgcarbon.security.scope import org_scope

PAGE_SIZE = 200  # runs listed, findings shown per rule
FINDING_LIMIT = 5000  # findings loaded for one run page


class RunForm(FlaskForm):  # type: ignore[misc]
    """Start a dry run: organisation, year, optional month, data set."""

    organization_id = SelectField(choices=[], validate_choice=False)
    year = StringField()
    month = StringField()
    dataset = SelectField(choices=[(d, DATASET_LABELS[d]) for d in DATASETS], validate_choice=False)


def visible_run(run_id: int) -> QualityRun | None:
    """The run if the caller may read its organisation, else None."""
    run = db.session.get(QualityRun, run_id)
    return run if run is not None and org_scope().can_read(run.organization_id) else None


def parse_period(args: Any) -> tuple[int, Period, str]:
    """(organisation id, period, data set) from request arguments; ValueError with a Chinese reason."""
    try:
        organization_id = int(args.get("organization_id", ""))
        year = int(args.get("year", ""))
        month_text = str(args.get("month") or "").strip()
        month = int(month_text) if month_text else None
    except (TypeError, ValueError):
        raise ValueError("需要 organization_id 与 year（整数），可选 month（1–12）") from None
    dataset = str(args.get("dataset") or "activity")
    if dataset not in DATASETS:
        raise ValueError("dataset 只能是 activity（核算数据）或 staging（暂存数据）")
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"月份 {month} 无效（1–12）")
    return organization_id, Period(year, month), dataset


def _period_args() -> dict[str, str]:
    """The scorecard's own query arguments (links add ``dimension`` themselves)."""
    return {k: v for k, v in request.args.items() if k in ("organization_id", "year", "month", "dataset")}


class QualityRunsView(BaseView):
    """Dry runs, their findings grouped by rule, the verification report, the scorecard, records."""

    route_base = "/quality"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = TEMPLATES
    default_view = "runs_page"

    @expose("/runs/")
    @has_access
    def runs_page(self) -> str:
        scope = org_scope()
        runs = [r for r in db.session.scalars(select(QualityRun).order_by(QualityRun.id.desc()).limit(PAGE_SIZE))
                if scope.can_read(r.organization_id)]
        latest = db.session.scalar(select(func.max(ActivityRecord.month)))
        form = RunForm(formdata=None, year=(latest or "")[:4], dataset="activity")
        form.organization_id.choices = organization_choices()
        return self.render_template("quality/runs.html", runs=runs, form=form, datasets=DATASET_LABELS)

    @expose("/runs/start", methods=["POST"])
    @has_access
    def run_start(self) -> Response:
        from orgcarbon.quality.tasks import start_dry_run

        form = RunForm()
        if not form.validate_on_submit():
            flash("表单已过期，请刷新页面后重试", "danger")
            return redirect(url_for("QualityRunsView.runs_page"))
        try:
            organization_id, period, dataset = parse_period(form.data)
        except ValueError as exc:
            flash(str(exc), "danger")
            return redirect(url_for("QualityRunsView.runs_page"))
        if not org_scope().can_write(organization_id):
            abort(404 if not org_scope().can_read(organization_id) else 403)
        try:
            run_id = start_dry_run(db.session, organization_id, period.year, period.month, dataset, g.user)
        except RunRefused as exc:
            db.session.rollback()
            for reason in exc.reasons:
                flash(reason, "danger")
            return redirect(url_for("QualityRunsView.runs_page"))
        return redirect(url_for("QualityRunsView.run_page", run_id=run_id))

    @expose("/runs/<int:run_id>")
    @has_access
    def run_page(self, run_id: int) -> str:
        run = visible_run(run_id)
        if run is None:
            abort(404)
        grouped: dict[str, list[QualityFinding]] = defaultdict(list)
        for finding in run_findings(db.session, run, limit=FINDING_LIMIT):
            grouped[finding.rule_code].append(finding)
        by_rule = (run.counts or {}).get("by_rule", {})
        return self.render_template("quality/run.html", run=run, grouped=dict(sorted(grouped.items())),
                                    by_rule=by_rule, fact_rows=(run.report or {}).get("fact_rows", {}),
                                    severities=SEVERITY_ZH, datasets=DATASET_LABELS, page_size=PAGE_SIZE)

    @expose("/runs/<int:run_id>/report")
    @has_access
    def report_page(self, run_id: int) -> str:
        run = visible_run(run_id)
        if run is None:
            abort(404)
        return self.render_template("quality/report.html", run=run, r=verification_report(db.session, run),
                                    severities=SEVERITY_ZH, datasets=DATASET_LABELS)

    @expose("/runs/<int:run_id>/report.xlsx")
    @has_access
    def report_export(self, run_id: int) -> Response:
        run = visible_run(run_id)
        if run is None:
            abort(404)
        content = report_workbook(verification_report(db.session, run))
        return Response(content, mimetype=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="quality-run-{run.id}-report.xlsx"'})

    def _scorecard_args(self) -> tuple[int, Period, str] | None:
        if not request.args.get("organization_id"):
            return None
        try:
            organization_id, period, dataset = parse_period(request.args)
        except ValueError:
            abort(400)
        if not org_scope().can_read(organization_id):
            abort(404)
        return organization_id, period, dataset

    @expose("/scorecard")
    @has_access
    def scorecard_page(self) -> str:
        chosen = self._scorecard_args()
        card = quality_scorecard(db.session, *chosen) if chosen else None
        return self.render_template("quality/scorecard.html", card=card, args=_period_args(),
                                    orgs=organization_choices(writable=False), datasets=DATASET_LABELS,
                                    dimensions=DIMENSIONS, labels=DIMENSION_LABELS)

    @expose("/scorecard/drill")
    @has_access
    def scorecard_drill(self) -> str:
        chosen = self._scorecard_args()
        dimension = request.args.get("dimension", "")
        if chosen is None or dimension not in DIMENSIONS:
            abort(400)
        card = quality_scorecard(db.session, *chosen)
        return self.render_template("quality/drill.html", card=card, d=drill_down(card, dimension),
                                    args=_period_args(), datasets=DATASET_LABELS)

    @expose("/record/<dataset>/<int:record_id>")
    @has_access
    def record_page(self, dataset: str, record_id: int) -> str:
        model: Any = {"activity": ActivityRecord, "staging": StagingRow}.get(dataset)
        record = db.session.get(model, record_id) if model is not None else None
        if record is None or not org_scope().can_read(record.organization_id):
            abort(404)
        findings = db.session.scalars(
            select(QualityFinding).where(QualityFinding.target == dataset, QualityFinding.target_id == record_id)
            .order_by(QualityFinding.run_id.desc(), QualityFinding.id).limit(PAGE_SIZE)).all()
        columns = [c.key for c in model.__table__.columns if c.key != "raw"]
        if dataset == "staging":  # the status the pipeline means, not only the stored one
            db.session.expunge(record)
            record.status = effective_statuses(db.session, [record.id])[record.id]
        return self.render_template("quality/record.html", record=record, dataset=dataset, columns=columns,
                                    findings=findings, datasets=DATASET_LABELS, severities=SEVERITY_ZH)
