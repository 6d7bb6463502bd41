"""Excel 导入 and 导入记录 pages (``/forms/excel/``, ``/forms/package``, ``/forms/imports``) and
``/api/v1/forms/imports/``: download a template, upload a filled one or an activity package, follow
its progress, read its errors, download the original and the annotated workbook, resume a stalled one.

Uploading and resuming need write on DataEntry, every other page read; each lookup goes through
``org_scope`` and another organisation's form or import answers 404. The pages call the import
service (``imports``) and the task starter (``tasks.start_import``) and write nothing themselves.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, protect, safe
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import ValidationError

from orgcarbon.forms import imports, service
from orgcarbon.forms.models import FormDefinition, ImportBatch
from orgcarbon.forms.periods import WorkflowError
from orgcarbon.forms.tasks import settings, start_import
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

AREA = "DataEntry"
PERMISSIONS = {**METHOD_PERMISSIONS, "excel_index": "read", "excel_form": "read", "template": "read",
               "excel_upload": "write", "package_form": "read", "package_upload": "write", "history": "read",
               "import_page": "read", "original": "read", "report": "read", "resume": "write",
               "list_imports": "read", "get_import": "read", "resume_import": "write"}
TEMPLATES = str(Path(__file__).resolve().parent / "templates")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def can_write() -> bool:
    """True when the signed-in user may upload (write on DataEntry)."""
    return bool(current_app.appbuilder.sm.has_access("can_write", AREA))  # type: ignore[attr-defined]


def _check_csrf() -> None:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (CSRFError, ValidationError):
        abort(400, "页面已过期，请刷新后重试")


def visible_form(form_id: int) -> FormDefinition | None:
    """The form if the caller may read its organisation, else None."""
    found = db.session.get(FormDefinition, form_id)
    return found if found is not None and org_scope().can_read(found.organization_id) else None


def visible_batch(import_id: int) -> ImportBatch | None:
    """The import batch if the caller may read its organisation, else None."""
    found = db.session.get(ImportBatch, import_id)
    return found if found is not None and org_scope().can_read(found.organization_id) else None


def _resume(batch: ImportBatch) -> None:
    """Put a stalled or failed batch back to pending and start it as a task; WorkflowError if refused."""
    _, stale = settings()
    imports.prepare_resume(db.session, batch, g.user, stale, org_scope())
    start_import(db.session, current_app.instance_path, batch.id, force_task=True)


def _upload() -> tuple[str, bytes]:
    upload = request.files.get("file")
    return (upload.filename or "", upload.read()) if upload is not None else ("", b"")


class FormImportView(BaseView):
    """Excel templates and imports of forms, activity packages, and the history of imports."""

    route_base = "/forms"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = TEMPLATES
    default_view = "excel_index"

    def render_template(self, template: str, **kwargs: Any) -> str:
        return super().render_template(template, csrf_token=generate_csrf, can_write=can_write(),
                                       status_labels=imports.STATUS_LABELS, kind_labels=imports.KIND_LABELS,
                                       **kwargs)

    @expose("/excel/")
    @has_access
    def excel_index(self) -> str:
        scope = org_scope()
        forms = [f for f in db.session.scalars(select(FormDefinition).where(FormDefinition.active.is_(True))
                                               .order_by(FormDefinition.id)) if scope.can_read(f.organization_id)]
        return self.render_template("forms/import_index.html", forms=forms)

    @expose("/excel/<int:form_id>", methods=["GET"])
    @has_access
    def excel_form(self, form_id: int) -> str:
        form = visible_form(form_id)
        if form is None:
            abort(404)
        year = request.args.get("year", dt.date.today().year, type=int)
        recent = [b for b in imports.visible_batches(db.session, org_scope(), limit=50) if b.form_id == form.id][:10]
        return self.render_template("forms/import_excel.html", form=form, year=year, periods=imports.all_periods(
            form.granularity), label=lambda p: service.period_label(form.granularity, year, p), recent=recent)

    @expose("/excel/<int:form_id>/template")
    @has_access
    def template(self, form_id: int) -> Response:
        form = visible_form(form_id)
        if form is None:
            abort(404)
        year = request.args.get("year", dt.date.today().year, type=int)
        chosen = [int(p) for p in request.args.getlist("period") if p.strip().lstrip("-").isdigit()] or None
        try:
            content = imports.template_for(db.session, form, year, chosen)
        except WorkflowError as exc:
            flash(str(exc), "danger")
            return redirect(url_for("FormImportView.excel_form", form_id=form_id, year=year))
        return send_file(io.BytesIO(content), mimetype=XLSX, as_attachment=True,
                         download_name=f"{form.code}-{year}-填报模板.xlsx")

    @expose("/excel/<int:form_id>", methods=["POST"])
    @has_access
    def excel_upload(self, form_id: int) -> Response:
        _check_csrf()
        form = visible_form(form_id)
        if form is None:
            abort(404)
        filename, content = _upload()
        return self._receive(kind="excel", filename=filename, content=content, organization_id=form.organization_id,
                             form=form, back=url_for("FormImportView.excel_form", form_id=form_id))

    def _receive(self, *, back: str, **kwargs: Any) -> Response:
        try:
            batch = imports.receive(db.session, current_app.instance_path, user=g.user, scope=org_scope(),
                                    stale_minutes=settings()[1], **kwargs)
        except WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(back)
        start_import(db.session, current_app.instance_path, batch.id)
        return redirect(url_for("FormImportView.import_page", import_id=batch.id))

    @expose("/package", methods=["GET"])
    @has_access
    def package_form(self) -> str:
        scope = org_scope()
        orgs = [o for o in db.session.scalars(select(Organization).order_by(Organization.id)) if scope.can_write(o.id)]
        recent = [b for b in imports.visible_batches(db.session, scope, limit=50) if b.kind == "package"][:10]
        return self.render_template("forms/import_package.html", orgs=orgs, recent=recent)

    @expose("/package", methods=["POST"])
    @has_access
    def package_upload(self) -> Response:
        _check_csrf()
        organization_id = request.form.get("organization_id", type=int)
        if organization_id is None or not org_scope().can_read(organization_id):
            flash(_("Choose the organisation to import into."), "danger")
            return redirect(url_for("FormImportView.package_form"))
        filename, content = _upload()
        return self._receive(kind="package", filename=filename, content=content, organization_id=organization_id,
                             back=url_for("FormImportView.package_form"))

    @expose("/imports")
    @has_access
    def history(self) -> str:
        everyone = request.args.get("all") == "1"
        batches = imports.visible_batches(db.session, org_scope(), user_id=None if everyone else g.user.id)
        _, stale = settings()
        return self.render_template("forms/imports.html", batches=[imports.batch_dict(b, stale) for b in batches],
                                    everyone=everyone)

    @expose("/imports/<int:import_id>")
    @has_access
    def import_page(self, import_id: int) -> str:
        batch = visible_batch(import_id)
        if batch is None:
            abort(404)
        _, stale = settings()
        return self.render_template("forms/import.html", b=imports.batch_dict(batch, stale), stale_minutes=stale,
                                    may_resume=org_scope().can_write(batch.organization_id))

    @expose("/imports/<int:import_id>/original")
    @has_access
    def original(self, import_id: int) -> Response:
        batch = visible_batch(import_id)
        path = Path(current_app.instance_path) / batch.stored_path if batch is not None else None
        if batch is None or path is None or not path.is_file():
            abort(404)
        return send_file(path, as_attachment=True, download_name=batch.filename)

    @expose("/imports/<int:import_id>/report")
    @has_access
    def report(self, import_id: int) -> Response:
        batch = visible_batch(import_id)
        if batch is None or not batch.report_path:
            abort(404)
        path = Path(current_app.instance_path) / batch.report_path
        if not path.is_file():
            abort(404)
        return send_file(path, mimetype=XLSX, as_attachment=True,
                         download_name=f"{Path(batch.filename).stem}-错误标注.xlsx")

    @expose("/imports/<int:import_id>/resume", methods=["POST"])
    @has_access
    def resume(self, import_id: int) -> Response:
        _check_csrf()
        batch = visible_batch(import_id)
        if batch is None:
            abort(404)
        try:
            _resume(batch)
        except WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("FormImportView.import_page", import_id=import_id))


class FormImportApi(BaseApi):
    """``/api/v1/forms/imports/``: import batches with their progress, errors and outcome; resume."""

    route_base = "/api/v1/forms/imports"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    allow_browser_login = True
    openapi_spec_tag = "Form imports"

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def list_imports(self) -> Response:
        """Import batches of the caller's organisations, newest first (``?mine=1``: only the caller's).
        ---
        get:
          responses:
            200: {description: batches}
        """
        user_id = g.user.id if request.args.get("mine") == "1" else None
        _, stale = settings()
        rows = imports.visible_batches(db.session, org_scope(), user_id=user_id)
        return self.response(200, result=[imports.batch_dict(b, stale) for b in rows])

    @expose("/<int:import_id>", methods=["GET"])
    @protect()
    @safe
    def get_import(self, import_id: int) -> Response:
        """One batch: status, ``done_rows``/``total_rows``, errors, message; polled by the progress bar.
        ---
        get:
          responses:
            200: {description: the batch}
            404: {description: not found or outside the data scope}
        """
        batch = visible_batch(import_id)
        if batch is None:
            return self.response_404()
        _, stale = settings()
        return self.response(200, result=imports.batch_dict(batch, stale))

    @expose("/<int:import_id>/resume", methods=["POST"])
    @protect()
    @safe
    def resume_import(self, import_id: int) -> Response:
        """Run a failed or stalled batch again (safe: all or nothing, duplicates refused).
        ---
        post:
          responses:
            200: {description: the batch after the new run (or while it runs as a task)}
            404: {description: not found or outside the data scope}
            422: {description: refused, with the Chinese reason}
        """
        batch = visible_batch(import_id)
        if batch is None:
            return self.response_404()
        try:
            _resume(batch)
        except WorkflowError as exc:
            db.session.rollback()
            return self.response_422(message=exc.reasons)
        found = db.session.get(ImportBatch, import_id)
        assert found is not None
        _, stale = settings()
        return self.response(200, result=imports.batch_dict(found, stale))


def register_imports(appbuilder: AppBuilder) -> None:
    """Attach the import pages, their menu entries under 数据填报, the API and the import task."""
    import orgcarbon.forms.tasks  # noqa: F401  (registers the Celery task)

    category = {"category": "Forms", "category_label": _l("Data entry"), "category_icon": "fa-pencil-square-o"}
    view = appbuilder.add_view(FormImportView, "Excel import", label=_l("Excel import"), icon="fa-file-excel-o",
                               **category)
    appbuilder.add_link("Import history", label=_l("Import history"), href="/forms/imports", icon="fa-history",
                        category="Forms", baseview=view)
    appbuilder.add_api(FormImportApi)
