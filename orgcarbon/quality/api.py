"""``/api/v1/quality/``: rules (list, draft, publish), dry runs and the scorecard; scoped by ``org_scope``.

Read on "Rules" reads; write on "Rules" saves drafts, publishes and starts runs. A rule, run or
organisation outside the caller's scope answers 404; a definition with problems answers 422 with
every problem (field, line, column, Chinese reason) and stores nothing.
"""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask_appbuilder import expose
from flask_appbuilder.api import BaseApi, protect, safe
from sqlalchemy import select
from werkzeug.wrappers import Response

from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import QualityRule, QualityRun
from orgcarbon.quality.report import verification_report
from orgcarbon.quality.rules_store import (
    RuleRefused,
    publish_rule,
    rule_dict,
    rule_tests,
    save_rule,
    visible_rule,
    visible_rules,
)
from orgcarbon.quality.run_views import parse_period, visible_run
from orgcarbon.quality.runs import RunRefused, finding_dict, run_dict, run_findings
from orgcarbon.quality.scorecard import quality_scorecard
from orgcarbon.quality.views import AREA
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

PERMISSIONS = {**METHOD_PERMISSIONS, "rules": "read", "rule": "read", "create_rule": "write",
               "update_rule": "write", "publish": "write", "runs": "read", "run": "read", "start_run": "write",
               "scorecard": "read"}
PAGE_SIZE = 1000


class QualityApi(BaseApi):
    """Quality rules as versioned data, dry runs with their findings, the six-dimension scorecard."""

    resource_name = "quality"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    allow_browser_login = True
    openapi_spec_tag = "Quality"

    def _refused(self, exc: RuleRefused) -> Response:
        db.session.rollback()
        message = "；".join(exc.reasons) if not exc.problems else "规则定义有问题，未保存"
        return self.response(422, message=message, reasons=exc.reasons,
                             problems=[p.as_dict() for p in exc.problems])

    def _save(self, base: QualityRule | None) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.response_422(message="请求体应为 JSON 对象（规则定义）")
        organization_id = body.pop("organization_id", base.organization_id if base else None)
        note = body.pop("note", base.note if base else None)
        if organization_id is not None and (isinstance(organization_id, bool) or not isinstance(organization_id, int)):
            return self.response_422(message="organization_id 应为整数或 null")
        if organization_id is not None and not org_scope().can_read(organization_id):
            return self.response_404()
        try:
            saved = save_rule(db.session, body, g.user, org_scope(), base, organization_id, note)
        except RuleRefused as exc:
            return self._refused(exc)
        db.session.commit()
        return self.response(201, result=rule_dict(saved))

    @expose("/rules", methods=["GET"])
    @protect()
    @safe
    def rules(self) -> Response:
        """Every rule version the caller may read (``?code=``, ``?status=``), by code, newest first.
        ---
        get:
          responses:
            200: {description: rule versions}
        """
        rows = visible_rules(db.session, org_scope())
        for name in ("code", "status"):
            if value := request.args.get(name):
                rows = [r for r in rows if getattr(r, name) == value]
        return self.response(200, result=[rule_dict(r) for r in rows])

    @expose("/rules/<int:rule_id>", methods=["GET"])
    @protect()
    @safe
    def rule(self, rule_id: int) -> Response:
        """One version with the results of its test cases.
        ---
        get:
          responses:
            200: {description: the version}
            404: {description: not found or outside the data scope}
        """
        found = visible_rule(db.session, rule_id, org_scope())
        if found is None:
            return self.response_404()
        return self.response(200, result={**rule_dict(found), "tests": [r.as_dict() for r in rule_tests(found)]})

    @expose("/rules", methods=["POST"])
    @protect()
    @safe
    def create_rule(self) -> Response:
        """Save a draft from a rule definition (``id`` or ``code``, ``kind``, ``action``, …, ``organization_id``?).
        A new code starts at version 1; an existing one gets its next version.
        ---
        post:
          responses:
            201: {description: the draft}
            422: {description: the problems of the definition; nothing saved}
        """
        return self._save(None)

    @expose("/rules/<int:rule_id>", methods=["PUT"])
    @protect()
    @safe
    def update_rule(self, rule_id: int) -> Response:
        """Change a draft; on a published version this saves the next draft version instead.
        ---
        put:
          responses:
            201: {description: the draft}
            404: {description: not found or outside the data scope}
            422: {description: the problems of the definition; nothing saved}
        """
        found = visible_rule(db.session, rule_id, org_scope())
        if found is None:
            return self.response_404()
        return self._save(found)

    @expose("/rules/<int:rule_id>/publish", methods=["POST"])
    @protect()
    @safe
    def publish(self, rule_id: int) -> Response:
        """Publish a draft: by a user other than its author, after its test cases pass.
        ---
        post:
          responses:
            200: {description: published, with the test results}
            404: {description: not found or outside the data scope}
            422: {description: refused, with the Chinese reasons}
        """
        found = visible_rule(db.session, rule_id, org_scope())
        if found is None:
            return self.response_404()
        try:
            results = publish_rule(db.session, found, g.user, org_scope())
        except RuleRefused as exc:
            return self._refused(exc)
        db.session.commit()
        return self.response(200, result={**rule_dict(found), "tests": [r.as_dict() for r in results]})

    @expose("/runs", methods=["GET"])
    @protect()
    @safe
    def runs(self) -> Response:
        """Quality runs of the caller's organisations, newest first.
        ---
        get:
          responses:
            200: {description: runs}
        """
        scope = org_scope()
        query = select(QualityRun).order_by(QualityRun.id.desc())
        if scope.readable is not None:
            query = query.where(QualityRun.organization_id.in_(sorted(scope.readable)))
        return self.response(200, result=[run_dict(r) for r in db.session.scalars(query.limit(PAGE_SIZE))])

    @expose("/runs", methods=["POST"])
    @protect()
    @safe
    def start_run(self) -> Response:
        """Start a dry run: ``{"organization_id", "year", "month"?, "dataset"?: "activity"|"staging"}``.
        ---
        post:
          responses:
            201: {description: the run}
            403: {description: outside the writable data scope}
            404: {description: organisation outside the data scope}
            422: {description: refused, with the Chinese reasons}
        """
        from orgcarbon.quality.tasks import start_dry_run

        try:
            organization_id, period, dataset = parse_period(request.get_json(silent=True) or {})
        except ValueError as exc:
            return self.response_422(message=str(exc))
        scope = org_scope()
        if not scope.can_read(organization_id):
            return self.response_404()
        if not scope.can_write(organization_id):
            return self.response(403, message="无权检查该组织的数据（超出您的数据范围）")
        try:
            run_id = start_dry_run(db.session, organization_id, period.year, period.month, dataset, g.user)
        except RunRefused as exc:
            db.session.rollback()
            return self.response_422(message=exc.reasons)
        run = db.session.get(QualityRun, run_id)
        assert run is not None
        return self.response(201, result=run_dict(run))

    @expose("/runs/<int:run_id>", methods=["GET"])
    @protect()
    @safe
    def run(self, run_id: int) -> Response:
        """A run with its verification report and findings (``?rule=``, ``?page=``, 1,000 a page).
        ---
        get:
          responses:
            200: {description: run}
            404: {description: not found or outside the data scope}
        """
        found = visible_run(run_id)
        if found is None:
            return self.response_404()
        page = max(0, request.args.get("page", 0, type=int))
        stored: dict[str, Any] = found.report or {}
        fact_rows: dict[str, list[int]] = stored.get("fact_rows", {})
        findings = run_findings(db.session, found, request.args.get("rule"), PAGE_SIZE, page * PAGE_SIZE)
        report = verification_report(db.session, found)
        report.pop("run")
        return self.response(200, result={**run_dict(found), "report": report,
                                          "findings": [finding_dict(f, fact_rows) for f in findings]})

    @expose("/scorecard", methods=["GET"])
    @protect()
    @safe
    def scorecard(self) -> Response:
        """The six dimensions of spec 6.2.3 for ``organization_id``, ``year``, ``month``?, ``dataset``?.
        ---
        get:
          responses:
            200: {description: scores with the record ids behind them}
            404: {description: organisation outside the data scope}
            422: {description: bad parameters}
        """
        try:
            organization_id, period, dataset = parse_period(request.args)
        except ValueError as exc:
            return self.response_422(message=str(exc))
        if not org_scope().can_read(organization_id):
            return self.response_404()
        return self.response(200, result=quality_scorecard(db.session, organization_id, period, dataset).as_dict())
