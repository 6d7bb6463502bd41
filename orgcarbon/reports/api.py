"""``/api/v1/reports/``: rendered reports — list, request, status, file download, verification.

Same permissions and scope as the pages (``views``): read on "Reports" lists, shows, downloads and
verifies; write requests. Reports outside the caller's scope answer 404; a request for a run the
caller may read but not write answers 403; every other refusal 422 with the Chinese reasons.
"""

from __future__ import annotations

from flask import g, request
from flask_appbuilder import expose
from flask_appbuilder.api import BaseApi, protect, safe
from werkzeug.wrappers import Response

from orgcarbon.accounting.models import AccountingRun
from orgcarbon.platform.extensions import db
from orgcarbon.reports.service import (
    OutdatedCache,
    ReportRefused,
    report_dict,
    visible_file,
    visible_report,
    visible_reports,
)
from orgcarbon.reports.views import (
    AREA,
    MAX_VERIFY_BYTES,
    PERMISSIONS,
    TAMPERED,
    send_report_file,
    stored_bytes,
)
from orgcarbon.security.scope import org_scope

API_PERMISSIONS = {**PERMISSIONS, "list_reports": "read", "get_report": "read", "get_file": "read",
                   "verify": "read", "create": "write"}


class ReportsApi(BaseApi):
    """``/api/v1/reports/``: reports of accounting runs, their signed files, verification."""

    resource_name = "reports"
    class_permission_name = AREA
    method_permission_name = API_PERMISSIONS
    allow_browser_login = True
    openapi_spec_tag = "Reports"

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def list_reports(self) -> Response:
        """Reports of the caller's organisations, newest first (``?run_id=`` for one run's).
        ---
        get:
          responses:
            200: {description: reports, each with its files and whether it is out of date}
        """
        cache = OutdatedCache(db.session)
        reports = visible_reports(db.session, org_scope(), request.args.get("run_id", type=int))
        return self.response(200, result=[report_dict(db.session, r, cache.reasons(r)) for r in reports])

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def create(self) -> Response:
        """Request a report: ``{"run_id", "kind": "report"|"tables", "pdf": true|false}``.
        ---
        post:
          responses:
            201: {description: the report (already rendered when no worker is configured)}
            403: {description: the run's organisation is outside the writable scope}
            404: {description: no such run in the caller's scope}
            422: {description: refused, with the Chinese reasons}
        """
        from orgcarbon.reports.tasks import start_report

        body = request.get_json(silent=True) or {}
        try:
            run_id = int(body["run_id"])
        except (KeyError, TypeError, ValueError):
            return self.response_422(message="需要 run_id（核算结果编号，整数），可选 kind（report 或 tables）、pdf（true/false）")
        scope = org_scope()
        run = db.session.get(AccountingRun, run_id)
        if run is None or not scope.can_read(run.organization_id):
            return self.response_404()
        if not scope.can_write(run.organization_id):
            return self.response(403, message=f"无权为组织“{run.organization.name}”生成报告（超出您的数据范围）")
        try:
            report_id = start_report(db.session, run, g.user, kind=str(body.get("kind") or "report"),
                                     want_pdf=bool(body.get("pdf", False)), scope=scope)
        except ReportRefused as exc:
            db.session.rollback()
            return self.response_422(message=exc.reasons)
        report = visible_report(db.session, scope, report_id)
        assert report is not None
        return self.response(201, result=report_dict(db.session, report, OutdatedCache(db.session).reasons(report)))

    @expose("/<int:report_id>", methods=["GET"])
    @protect()
    @safe
    def get_report(self, report_id: int) -> Response:
        """One report: status, progress, message, final or draft (with the reasons), out of date, files.
        ---
        get:
          responses:
            200: {description: the report}
            404: {description: not found or outside the data scope}
        """
        report = visible_report(db.session, org_scope(), report_id)
        if report is None:
            return self.response_404()
        return self.response(200, result=report_dict(db.session, report, OutdatedCache(db.session).reasons(report)))

    @expose("/files/<int:file_id>", methods=["GET"])
    @protect()
    @safe
    def get_file(self, file_id: int) -> Response:
        """Download a report file (checked against its SM3 first).
        ---
        get:
          responses:
            200: {description: the file}
            404: {description: not found or outside the data scope}
            409: {description: the kept file no longer has its SM3 digest}
        """
        found = visible_file(db.session, org_scope(), file_id)
        if found is None:
            return self.response_404()
        content = stored_bytes(found)
        if content is None:
            return self.response(409, message=TAMPERED)
        return send_report_file(found, content)

    @expose("/verify", methods=["POST"])
    @protect()
    @safe
    def verify(self) -> Response:
        """Verify a report file: multipart field ``file``, or the file as the request body.
        ---
        post:
          responses:
            200: {description: "the outcome: ok, message (Chinese), report, run, signer, signed_at"}
            422: {description: no file sent}
        """
        from orgcarbon.reports.verify import verify_file_bytes

        upload = request.files.get("file")
        content = upload.read(MAX_VERIFY_BYTES + 1) if upload is not None else request.get_data(cache=False)
        if not content or request.is_json:
            return self.response_422(message="请上传要验签的报告文件（表单字段 file，或请求体为文件本身）")
        if len(content) > MAX_VERIFY_BYTES:
            return self.response_422(message=f"文件超过 {MAX_VERIFY_BYTES // (1024 * 1024)} MB")
        return self.response(200, result=verify_file_bytes(db.session, content).as_dict())
