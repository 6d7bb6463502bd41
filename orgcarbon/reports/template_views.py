"""报告模板: upload, check, preview, versions, activation per organisation; variable catalogue.

Reading (list, detail, file download, preview, 变量目录) needs read on "Reports"; uploading and
activating need write. Templates are shared by every organisation; activations are scoped: a user
sees those of the nodes they may read and changes those of the nodes they may write. The pages
call ``templates_service`` and write nothing themselves.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from werkzeug.wrappers import Response

from orgcarbon.accounting.views import check_csrf  # one CSRF check for the hand-written pages
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.report_templates.environment import RenderError
from orgcarbon.report_templates.generate import preview_template
from orgcarbon.reports import templates_service as service
from orgcarbon.reports.models import ReportTemplate, TemplateActivation, TemplateVersion
from orgcarbon.reports.template_catalogue import catalogue_rows, catalogue_workbook
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

log = logging.getLogger(__name__)

AREA = "Reports"
READ = ("templates", "template_page", "version_file", "preview", "catalogue", "catalogue_xlsx")
WRITE = ("upload", "activate_version", "remove_activation")
PERMISSIONS = {**METHOD_PERMISSIONS, **dict.fromkeys(READ, "read"), **dict.fromkeys(WRITE, "write")}
TEMPLATES = str(Path(__file__).resolve().parent / "templates")
MEDIA_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
}


def can_write() -> bool:
    """True when the signed-in user may upload and activate (write on Reports)."""
    return bool(current_app.appbuilder.sm.has_access("can_write", AREA))  # type: ignore[attr-defined]


def organization_tree(writable: bool) -> list[tuple[int, str]]:
    """Nodes the caller may write (or read) in tree order, indented by depth, as (id, label)."""
    scope = org_scope()
    allowed = scope.can_write if writable else scope.can_read
    rows = db.session.execute(select(Organization.id, Organization.parent_id, Organization.name)
                              .order_by(Organization.id)).all()
    children: dict[int | None, list[tuple[int, str]]] = {}
    ids = {r.id for r in rows}
    for node, parent, name in rows:
        children.setdefault(parent if parent in ids else None, []).append((node, name))
    out: list[tuple[int, str]] = []
    stack = [(node, name, 0) for node, name in reversed(children.get(None, []))]
    while stack:
        node, name, depth = stack.pop()
        if allowed(node):
            out.append((node, "\u3000" * depth + name))
        stack.extend((c, n, depth + 1) for c, n in reversed(children.get(node, [])))
    return out


def user_names() -> dict[int, str]:
    """Usernames by id (uploaded by, activated by)."""
    user = current_app.appbuilder.sm.user_model  # type: ignore[attr-defined]
    return dict(db.session.execute(select(user.id, user.username)).all())


def organization_names() -> dict[int, str]:
    """Organisation names by id."""
    return dict(db.session.execute(select(Organization.id, Organization.name)).all())


def visible_activations(template: ReportTemplate) -> list[TemplateActivation]:
    """Activations of ``template`` at nodes the caller may read."""
    scope = org_scope()
    rows = db.session.scalars(select(TemplateActivation).where(TemplateActivation.template_id == template.id)
                              .order_by(TemplateActivation.organization_id))
    return [a for a in rows if scope.can_read(a.organization_id)]


def _version_or_404(version_id: int) -> TemplateVersion:
    found = db.session.get(TemplateVersion, version_id)
    if found is None:
        abort(404)
    return found


def send_bytes(content: bytes, filename: str) -> Response:
    """A download with the media type of the file name's extension."""
    media = MEDIA_TYPES.get(Path(filename).suffix.lower(), "application/octet-stream")
    return send_file(io.BytesIO(content), mimetype=media, as_attachment=True, download_name=filename)


class ReportTemplatesView(BaseView):
    """报告模板: the list, a template's versions with their check results, preview, activation."""

    route_base = "/reports/templates"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = TEMPLATES
    default_view = "templates"

    def render_template(self, template: str, **kwargs: Any) -> str:
        return super().render_template(
            template, csrf_token=generate_csrf, can_write=can_write(), kinds=service.KIND_LABELS,
            statuses=service.STATUS_LABELS, severities=service.SEVERITY_LABELS, **kwargs)

    @expose("/")
    @has_access
    def templates(self) -> str:
        rows = db.session.scalars(select(ReportTemplate).order_by(ReportTemplate.builtin.desc(),
                                                                 ReportTemplate.name)).all()
        activations = {t.id: visible_activations(t) for t in rows}
        return self.render_template("reports/tpl_list.html", templates=rows, activations=activations,
                                    orgs=organization_names())

    @expose("/<int:template_id>")
    @has_access
    def template_page(self, template_id: int) -> str:
        template = db.session.get(ReportTemplate, template_id)
        if template is None:
            abort(404)
        readable, writable = organization_tree(writable=False), organization_tree(writable=True)
        effective = service.effective_versions(db.session, template, [i for i, _ in readable])
        return self.render_template(
            "reports/tpl_detail.html", tpl=template, versions=list(reversed(template.versions)),
            activations=visible_activations(template), effective=effective, readable=readable,
            writable=writable, writable_ids={i for i, _ in writable},
            checked=[v for v in reversed(template.versions) if v.status == "checked"],
            users=user_names(), orgs=organization_names())

    @expose("/upload", methods=["GET", "POST"])
    @has_access
    def upload(self) -> Any:
        existing = db.session.scalars(select(ReportTemplate).where(ReportTemplate.builtin.is_(False))
                                      .order_by(ReportTemplate.name)).all()
        if request.method == "GET":
            base = db.session.get(ReportTemplate, request.args.get("template_id", 0, type=int) or 0)
            values = {"name": base.name, "authority": base.authority or "", "standard": base.standard,
                      "kind": base.kind} if base is not None and not base.builtin else {"kind": "report"}
            return self.render_template("reports/tpl_upload.html", values=values, existing=existing, reasons=[])
        check_csrf()
        values = {k: request.form.get(k, "") for k in ("name", "authority", "standard", "kind", "note")}
        upload = request.files.get("file")
        filename, content = (upload.filename or "", upload.read()) if upload is not None else ("", b"")
        try:
            version = service.upload_version(db.session, current_app.instance_path, filename=filename,
                                             content=content, user=g.user, **values)
        except service.TemplateRefused as exc:
            db.session.rollback()
            page = self.render_template("reports/tpl_upload.html", values=values, existing=existing,
                                        reasons=exc.reasons)
            return page, 422
        db.session.commit()
        errors = sum(1 for i in version.check_result or [] if i.get("severity") == "error")
        if version.status == "checked":
            flash(_("Version %(v)s of “%(name)s” uploaded; the check passed and it can be activated.",
                    v=version.version, name=version.template.name), "success")
        else:
            flash(_("Version %(v)s of “%(name)s” uploaded, but the check found %(n)s errors: it cannot be "
                    "activated. Correct the template and upload it again.",
                    v=version.version, name=version.template.name, n=errors), "danger")
        return redirect(url_for("ReportTemplatesView.template_page", template_id=version.template_id))

    @expose("/versions/<int:version_id>/file")
    @has_access
    def version_file(self, version_id: int) -> Response:
        version = _version_or_404(version_id)
        try:  # checked against the SM3 recorded at upload: a changed file is never handed out
            content = service.template_bytes(current_app.instance_path, version)
        except service.TemplateRefused as exc:
            flash(str(exc), "danger")
            return redirect(url_for("ReportTemplatesView.template_page", template_id=version.template_id))
        return send_bytes(content, version.filename)

    @expose("/versions/<int:version_id>/preview")
    @has_access
    def preview(self, version_id: int) -> Response:
        version = _version_or_404(version_id)
        back = redirect(url_for("ReportTemplatesView.template_page", template_id=version.template_id))
        try:
            rendered = preview_template(service.template_bytes(current_app.instance_path, version),
                                        version.filename)
        except (service.TemplateRefused, RenderError) as exc:
            flash(_("The preview could not be rendered: %(reason)s", reason=str(exc)), "danger")
            return back
        except Exception as exc:  # docxtpl/openpyxl raise many types on a damaged template
            log.warning("preview of template version %s failed", version_id, exc_info=True)
            flash(_("The preview could not be rendered: %(reason)s", reason=f"{type(exc).__name__}: {exc}"),
                  "danger")
            return back
        for warning in rendered.warnings:
            flash(_("Preview note: %(text)s", text=warning), "warning")
        stem, ext = Path(version.filename).stem, Path(version.filename).suffix.lower()
        return send_bytes(rendered.content, f"预览-{stem}-第{version.version}版{ext}")

    @expose("/<int:template_id>/activate", methods=["POST"])
    @has_access
    def activate_version(self, template_id: int) -> Response:
        check_csrf()
        template = db.session.get(ReportTemplate, template_id)
        if template is None:
            abort(404)
        back = redirect(url_for("ReportTemplatesView.template_page", template_id=template_id))
        version = db.session.get(TemplateVersion, request.form.get("version_id", 0, type=int) or 0)
        org_id = request.form.get("organization_id", 0, type=int) or 0
        if version is None or version.template_id != template.id:
            flash(_("Choose a version of this template."), "danger")
            return back
        try:
            service.activate(db.session, version, org_id, g.user)
        except service.TemplateRefused as exc:
            db.session.rollback()
            for reason in exc.reasons:
                flash(reason, "danger")
            return back
        db.session.commit()
        flash(_("Version %(v)s of “%(name)s” is now used by %(org)s and the organisations below it.",
                v=version.version, name=template.name, org=organization_names().get(org_id, org_id)), "success")
        return back

    @expose("/activations/<int:activation_id>/remove", methods=["POST"])
    @has_access
    def remove_activation(self, activation_id: int) -> Response:
        check_csrf()
        activation = db.session.get(TemplateActivation, activation_id)
        if activation is None or not org_scope().can_read(activation.organization_id):
            abort(404)
        template_id = activation.template_id
        try:
            service.deactivate(db.session, activation, g.user)
        except service.TemplateRefused as exc:
            db.session.rollback()
            for reason in exc.reasons:
                flash(reason, "danger")
        else:
            db.session.commit()
            flash(_("Activation removed: the organisation now uses what the organisations above it use."), "success")
        return redirect(url_for("ReportTemplatesView.template_page", template_id=template_id))


class VariableCatalogueView(BaseView):
    """变量目录: every name a template may use, with description, unit and example; as Excel."""

    route_base = "/reports/variables"
    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    template_folder = TEMPLATES
    default_view = "catalogue"

    @expose("/")
    @has_access
    def catalogue(self) -> str:
        return self.render_template("reports/tpl_catalogue.html", rows=catalogue_rows())

    @expose("/variables.xlsx")
    @has_access
    def catalogue_xlsx(self) -> Response:
        return send_bytes(catalogue_workbook(), "报告模板变量目录.xlsx")


def register_template_views(appbuilder: AppBuilder) -> None:
    """Add 报告 → 报告模板 and 变量目录, and ``/api/v1/report-templates/``."""
    from orgcarbon.reports.template_api import ReportTemplateApi

    category = {"category": "Reports", "category_label": _l("Reports"), "category_icon": "fa-file-text-o"}
    appbuilder.add_view(ReportTemplatesView, "Report templates", label=_l("Report templates"),
                        icon="fa-file-word-o", **category)
    appbuilder.add_view(VariableCatalogueView, "Template variables", label=_l("Variable catalogue"),
                        icon="fa-book", category="Reports")
    appbuilder.add_api(ReportTemplateApi)
