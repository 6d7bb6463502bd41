"""数据质量 pages: 质量规则 (list, editor, versions, publishing) and ``register_quality``.

Runs, reports, the scorecard and records are in ``run_views``; the JSON API in ``api``. Every
page answers 404 for a rule of an organisation outside the caller's scope; editing needs write on
"Rules" and, for an organisation's rule, write access to that organisation.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import abort, flash, g, redirect, url_for
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.quality.editor import KIND_LABELS, RuleForm, fill_form, read_form
from orgcarbon.quality.models import QualityRule
from orgcarbon.quality.rules_store import (
    RuleProblem,
    RuleRefused,
    can_edit,
    install_rule_guard,
    lineage,
    publish_rule,
    rule_tests,
    save_rule,
    visible_rule,
    visible_rules,
)
from orgcarbon.rules.quality.definitions import SEVERITY_ZH
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

AREA = "Rules"
READ = ("rules", "rule_page", "runs_page", "run_page", "report_page", "report_export", "scorecard_page",
        "scorecard_drill", "record_page")
WRITE = ("rule_new", "rule_edit", "rule_publish", "run_start")
PERMISSIONS = {**METHOD_PERMISSIONS, **dict.fromkeys(READ, "read"), **dict.fromkeys(WRITE, "write")}
TEMPLATES = str(Path(__file__).resolve().parent / "templates")
STATUS_LABELS = {"draft": "草稿", "published": "已发布", "superseded": "已替代"}


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that posts: only the CSRF token."""


def organization_choices(writable: bool = True) -> list[tuple[str, str]]:
    """Organisation nodes the caller may write (or read), as select options."""
    scope = org_scope()
    allowed = scope.can_write if writable else scope.can_read
    rows = db.session.execute(select(Organization.id, Organization.name).order_by(Organization.id)).all()
    return [(str(i), name) for i, name in rows if allowed(i)]


def organization_names() -> dict[int, str]:
    """Every organisation's name by id (labels of rules and runs)."""
    return dict(db.session.execute(select(Organization.id, Organization.name)).all())


class QualityRulesView(BaseView):
    """质量规则: the versions of every rule, the editor, the test results, publishing."""

    route_base = "/quality/rules"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = TEMPLATES
    default_view = "rules"

    def _render_editor(self, form: RuleForm, rule: QualityRule | None, problems: list[RuleProblem],
                       status: int = 200) -> Any:
        form.organization_id.choices = [("", "全部组织（通用规则）"), *organization_choices()]
        html = self.render_template("quality/rule_edit.html", form=form, rule=rule, problems=problems)
        return html if status == 200 else (html, status)

    @expose("/")
    @has_access
    def rules(self) -> str:
        return self.render_template("quality/rules.html", rules=visible_rules(db.session, org_scope()),
                                    orgs=organization_names(), statuses=STATUS_LABELS, kinds=KIND_LABELS,
                                    severities=SEVERITY_ZH)

    @expose("/<int:rule_id>")
    @has_access
    def rule_page(self, rule_id: int) -> str:
        rule = visible_rule(db.session, rule_id, org_scope())
        if rule is None:
            abort(404)
        versions = lineage(db.session, rule)
        return self.render_template(
            "quality/rule.html", rule=rule, results=rule_tests(rule), versions=versions, action=ActionForm(),
            can_edit=can_edit(rule, None, org_scope()), draft=next((v for v in versions if v.status == "draft"), None),
            own_draft=rule.author_id is not None and rule.author_id == getattr(g.user, "id", None),
            orgs=organization_names(), statuses=STATUS_LABELS, kinds=KIND_LABELS, severities=SEVERITY_ZH)

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def rule_new(self) -> Any:
        form = RuleForm()
        if not form.is_submitted():
            fill_form(form, None)
            return self._render_editor(form, None, [])
        return self._save(form, None)

    @expose("/<int:rule_id>/edit", methods=["GET", "POST"])
    @has_access
    def rule_edit(self, rule_id: int) -> Any:
        rule = visible_rule(db.session, rule_id, org_scope())
        if rule is None:
            abort(404)
        if not can_edit(rule, None, org_scope()):
            abort(403)
        form = RuleForm()
        if not form.is_submitted():
            draft = db.session.scalar(select(QualityRule).where(QualityRule.code == rule.code,
                                                                QualityRule.status == "draft"))
            if rule.status != "draft" and draft is not None:
                flash(f"规则 {rule.code} 已有草稿（第 {draft.version} 版），请修改该草稿", "info")
                return redirect(url_for("QualityRulesView.rule_edit", rule_id=draft.id))
            fill_form(form, rule)
            return self._render_editor(form, rule, [])
        return self._save(form, rule)

    def _save(self, form: RuleForm, base: QualityRule | None) -> Any:
        if not form.validate_on_submit():
            return self._render_editor(form, base, [RuleProblem("", "表单已过期，请刷新页面后重试")], 400)
        data, problems, organization_id, note = read_form(form)
        try:
            saved = save_rule(db.session, data, g.user, org_scope(), base, organization_id, note, problems)
        except RuleRefused as exc:
            db.session.rollback()
            shown = exc.problems or [RuleProblem("", r) for r in exc.reasons]
            return self._render_editor(form, base, shown, 422)
        db.session.commit()
        if base is not None and base.id != saved.id:
            flash(f"已发布的第 {base.version} 版不可修改：已保存为新草稿第 {saved.version} 版", "info")
        else:
            flash(f"已保存草稿：{saved.code} 第 {saved.version} 版", "success")
        return redirect(url_for("QualityRulesView.rule_page", rule_id=saved.id))

    @expose("/<int:rule_id>/publish", methods=["POST"])
    @has_access
    def rule_publish(self, rule_id: int) -> Response:
        rule = visible_rule(db.session, rule_id, org_scope())
        if rule is None:
            abort(404)
        if not ActionForm().validate_on_submit():
            flash("表单已过期，请刷新页面后重试", "danger")
            return redirect(url_for("QualityRulesView.rule_page", rule_id=rule_id))
        try:
            publish_rule(db.session, rule, g.user, org_scope())
        except RuleRefused as exc:
            db.session.rollback()
            for reason in exc.reasons:
                flash(reason, "danger")
            return redirect(url_for("QualityRulesView.rule_page", rule_id=rule_id))
        db.session.commit()
        flash(f"已发布：{rule.code} 第 {rule.version} 版", "success")
        return redirect(url_for("QualityRulesView.rule_page", rule_id=rule_id))


def register_quality(appbuilder: AppBuilder) -> None:
    """Attach the rule lock, the 数据质量 pages, menu entries, API and the dry-run task."""
    import orgcarbon.quality.tasks  # noqa: F401  (registers the Celery task)
    from orgcarbon.quality.api import QualityApi
    from orgcarbon.quality.run_views import QualityRunsView

    install_rule_guard()
    # experta logs every match at INFO; a dry run would write thousands of lines.
    logging.getLogger("experta").setLevel(logging.WARNING)
    category = {"category": "Quality", "category_label": _l("Data quality"), "category_icon": "fa-check-square-o"}
    appbuilder.add_view(QualityRulesView, "Quality rules", label=_l("Quality rules"), icon="fa-list-ol", **category)
    runs = appbuilder.add_view(QualityRunsView, "Quality runs", label=_l("Quality runs"), icon="fa-flask",
                               category="Quality")
    appbuilder.add_link("Quality scorecard", label=_l("Quality scorecard"), href="/quality/scorecard",
                        icon="fa-tachometer", category="Quality", baseview=runs)
    appbuilder.add_api(QualityApi)
