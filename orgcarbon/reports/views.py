"""报告: request a report of an accounting run, follow its progress, download and verify files.

Reading (list, a report and its progress, downloads, 报告验签) needs read on "Reports"; requesting a
report needs write. Reports of organisation nodes outside the caller's scope answer 404; a request
for a run the caller may read but not write is refused with the Chinese reason. Page POSTs carry a
CSRF token. The pages call ``service`` / ``tasks`` / ``verify`` and write nothing themselves.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, g, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from orgcarbon.accounting.models import AccountingRun
from orgcarbon.accounting.views import (  # one CSRF check for the hand-written pages
    RUN_STATUS_NAMES,
    check_csrf,
)
from orgcarbon.platform.extensions import db
from orgcarbon.reports.models import KINDS, ReportFile
from orgcarbon.reports.service import (
    KIND_TITLES,
    OutdatedCache,
    ReportRefused,
    choose_template,
    draft_reasons,
    report_dict,
    visible_file,
    visible_report,
    visible_reports,
)
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

AREA = "Reports"
READ = ("index", "show", "status", "download", "verify_page")
WRITE = ("request_page",)
PERMISSIONS = {**METHOD_PERMISSIONS, **dict.fromkeys(READ, "read"), **dict.fromkeys(WRITE, "write")}
TEMPLATES = str(Path(__file__).resolve().parent / "templates")
MAX_VERIFY_BYTES = 100 * 1024 * 1024


TAMPERED = "报告文件缺失或已被修改（SM3 摘要与签名时不符），拒绝下载；请重新生成报告"


def stored_bytes(found: ReportFile) -> bytes | None:
    """The kept file's bytes if they still have the SM3 recorded at signing, else None."""
    from orgcarbon.security.crypto import sm3_hex

    path = Path(current_app.instance_path) / found.file_path
    if not path.is_file():
        return None
    content = path.read_bytes()
    return content if sm3_hex(content) == found.sm3 else None


def send_report_file(found: ReportFile, content: bytes) -> Response:
    """``content`` as a download named like the report file."""
    return send_file(io.BytesIO(content), mimetype=found.media_type, as_attachment=True,
                     download_name=found.filename)


def file_response(found: ReportFile) -> Response:
    """The stored file as a download; refused (409) when the kept file no longer has its SM3."""
    content = stored_bytes(found)
    if content is None:
        abort(409, TAMPERED)
    return send_report_file(found, content)


def run_choices(run: AccountingRun) -> list[dict[str, Any]]:
    """For each kind: its title and the template that would be used for the run's organisation."""
    from orgcarbon.report_templates.builtin import BUILTIN

    choices = []
    for kind in KINDS:
        version, builtin = choose_template(db.session, run.organization_id, kind)
        label = str(version) if version is not None else f"{BUILTIN[builtin][2]}（内置）" if builtin else "—"
        choices.append({"kind": kind, "title": KIND_TITLES[kind], "template": label})
    return choices


class ReportsView(BaseView):
    """报告 pages: the list, a report's progress and files, the request form, 报告验签."""

    route_base = "/reports"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = TEMPLATES
    default_view = "index"

    def _can_write(self) -> bool:
        return bool(self.appbuilder.sm.has_access("can_write", AREA))

    @expose("/")
    @has_access
    def index(self) -> str:
        run_id = request.args.get("run_id", type=int)
        cache = OutdatedCache(db.session)
        items = [report_dict(db.session, r, cache.reasons(r)) for r in visible_reports(db.session, org_scope(), run_id)]
        return self.render_template("reports/report_list.html", items=items, run_id=run_id)

    @expose("/<int:report_id>")
    @has_access
    def show(self, report_id: int) -> str:
        report = visible_report(db.session, org_scope(), report_id)
        if report is None:
            abort(404)
        item = report_dict(db.session, report, OutdatedCache(db.session).reasons(report))
        return self.render_template("reports/report_show.html", r=item)

    @expose("/<int:report_id>/status")
    @has_access
    def status(self, report_id: int) -> Response:
        """JSON for the progress page to poll: status, percent, message."""
        report = visible_report(db.session, org_scope(), report_id)
        if report is None:
            abort(404)
        return jsonify(result=report_dict(db.session, report))

    @expose("/file/<int:file_id>")
    @has_access
    def download(self, file_id: int) -> Response:
        found = visible_file(db.session, org_scope(), file_id)
        if found is None:
            abort(404)
        return file_response(found)

    @expose("/request", methods=["GET", "POST"])
    @has_access
    def request_page(self) -> Any:
        """Choose what to render for a run (GET ``?run_id=``), and queue it (POST)."""
        from orgcarbon.reports.pdf import pdf_converter
        from orgcarbon.reports.tasks import start_report

        scope = org_scope()
        run_id = request.values.get("run_id", type=int)
        run = db.session.get(AccountingRun, run_id) if run_id else None
        if run is None or not scope.can_read(run.organization_id):
            abort(404)
        if request.method == "POST":
            check_csrf()
            kind = request.form.get("kind", "report")
            try:
                report_id = start_report(db.session, run, g.user, kind=kind, want_pdf=bool(request.form.get("pdf")),
                                         scope=scope)
            except ReportRefused as exc:
                db.session.rollback()
                for reason in exc.reasons:
                    flash(reason, "danger")
                return redirect(url_for("ReportsView.request_page", run_id=run.id))
            return redirect(url_for("ReportsView.show", report_id=report_id))
        return self.render_template(
            "reports/report_request.html", run=run, choices=run_choices(run), draft=draft_reasons(db.session, run),
            can_write_org=scope.can_write(run.organization_id), has_pdf=pdf_converter() is not None,
            existing=[report_dict(db.session, r) for r in visible_reports(db.session, scope, run.id)],
            csrf_token=generate_csrf, status_names=RUN_STATUS_NAMES,
        )

    @expose("/verify", methods=["GET", "POST"])
    @has_access
    def verify_page(self) -> str:
        """报告验签: upload a report file; say whether it is a signed, unchanged report of the platform."""
        from orgcarbon.reports.verify import verify_file_bytes

        outcome, error, visible = None, None, False
        if request.method == "POST":
            check_csrf()
            upload = request.files.get("file")
            content = upload.read(MAX_VERIFY_BYTES + 1) if upload is not None else b""
            if not content:
                error = "请选择要验签的报告文件"
            elif len(content) > MAX_VERIFY_BYTES:
                error = f"文件超过 {MAX_VERIFY_BYTES // (1024 * 1024)} MB"
            else:
                outcome = verify_file_bytes(db.session, content).as_dict()
                outcome["upload_name"] = upload.filename if upload is not None else ""
                visible = outcome["report_id"] is not None and org_scope().can_read(outcome["organization_id"])
        return self.render_template("reports/report_verify.html", outcome=outcome, error=error,
                                    visible=visible, csrf_token=generate_csrf)


def register_report_views(appbuilder: AppBuilder) -> None:
    """Add 报告 → 报告列表 and 报告验签, and ``/api/v1/reports/``."""
    import orgcarbon.reports.tasks  # noqa: F401  (registers the Celery task)
    from orgcarbon.reports.api import ReportsApi

    view = appbuilder.add_view(ReportsView, "Generated reports", label=_l("Generated reports"), icon="fa-file-text",
                               category="Reports", category_label=_l("Reports"), category_icon="fa-file-text-o")
    appbuilder.add_link("Verify a report", label=_l("Verify a report"), href="/reports/verify",
                        icon="fa-check-square-o", category="Reports", baseview=view)
    appbuilder.add_api(ReportsApi)
