"""``/api/v1/report-templates/``: templates, versions with their check results, files, previews,
upload, activation per organisation, the version in force for a node, and the variable catalogue.

Same permissions as the pages: read on "Reports" reads, write uploads and activates; JWT or the
browser session. Activations of nodes outside the caller's scope are not shown; activating one
answers 422 with the Chinese reason, like every other refusal (nothing is stored then).
"""

from __future__ import annotations

import base64
from typing import Any

from flask import current_app, g, request
from flask_appbuilder import expose
from flask_appbuilder.api import BaseApi, protect, safe
from sqlalchemy import select
from werkzeug.wrappers import Response

from orgcarbon.platform.extensions import db
from orgcarbon.report_templates.environment import RenderError
from orgcarbon.report_templates.generate import preview_template
from orgcarbon.reports import templates_service as service
from orgcarbon.reports.models import KINDS, ReportTemplate, TemplateActivation, TemplateVersion
from orgcarbon.reports.template_catalogue import catalogue_rows
from orgcarbon.reports.template_views import AREA, PERMISSIONS, send_bytes, visible_activations
from orgcarbon.security.scope import org_scope

API_PERMISSIONS = {**PERMISSIONS, "list_templates": "read", "get_template": "read", "get_file": "read",
                   "get_preview": "read", "get_catalogue": "read", "get_active": "read",
                   "create_version": "write", "activate": "write"}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def version_dict(v: TemplateVersion) -> dict[str, Any]:
    """A version as JSON, with its check result."""
    return {"id": v.id, "template_id": v.template_id, "template": v.template.name, "version": v.version,
            "filename": v.filename, "sm3": v.sm3, "size": v.size, "status": v.status,
            "status_label": service.STATUS_LABELS.get(v.status, v.status), "check_result": v.check_result or [],
            "checked_at": _iso(v.checked_at), "note": v.note, "uploaded_by_id": v.uploaded_by_id,
            "uploaded_at": _iso(v.uploaded_at)}


def activation_dict(a: TemplateActivation) -> dict[str, Any]:
    """An activation as JSON."""
    return {"id": a.id, "template_id": a.template_id, "organization_id": a.organization_id,
            "version_id": a.version_id, "version": a.version.version, "activated_by_id": a.activated_by_id,
            "activated_at": _iso(a.activated_at)}


def template_dict(t: ReportTemplate, with_versions: bool = False) -> dict[str, Any]:
    """A template as JSON: its description, latest version and the activations the caller may see."""
    latest = t.versions[-1] if t.versions else None
    out: dict[str, Any] = {
        "id": t.id, "name": t.name, "authority": t.authority, "standard": t.standard, "kind": t.kind,
        "description": t.description, "builtin": t.builtin, "latest_version": latest.version if latest else None,
        "latest_status": latest.status if latest else None,
        "activations": [activation_dict(a) for a in visible_activations(t)],
    }
    if with_versions:
        out["versions"] = [version_dict(v) for v in t.versions]
    return out


class ReportTemplateApi(BaseApi):
    """Report templates as data: upload (checked at once), versions, activation, catalogue."""

    resource_name = "report-templates"
    class_permission_name = AREA
    method_permission_name = API_PERMISSIONS
    allow_browser_login = True
    openapi_spec_tag = "Report templates"

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def list_templates(self) -> Response:
        """Every template with its latest version and visible activations.
        ---
        get:
          responses:
            200: {description: templates}
        """
        rows = db.session.scalars(select(ReportTemplate).order_by(ReportTemplate.name)).all()
        return self.response(200, result=[template_dict(t) for t in rows])

    @expose("/<int:template_id>", methods=["GET"])
    @protect()
    @safe
    def get_template(self, template_id: int) -> Response:
        """One template with every version and its check result.
        ---
        get:
          responses:
            200: {description: the template}
            404: {description: not found}
        """
        template = db.session.get(ReportTemplate, template_id)
        if template is None:
            return self.response_404()
        return self.response(200, result=template_dict(template, with_versions=True))

    @expose("/versions/<int:version_id>/file", methods=["GET"])
    @protect()
    @safe
    def get_file(self, version_id: int) -> Response:
        """The uploaded file of a version (checked against its SM3).
        ---
        get:
          responses:
            200: {description: the file}
            404: {description: not found}
        """
        version = db.session.get(TemplateVersion, version_id)
        if version is None:
            return self.response_404()
        try:
            return send_bytes(service.template_bytes(current_app.instance_path, version), version.filename)
        except service.TemplateRefused as exc:
            return self.response(404, message=str(exc))

    @expose("/versions/<int:version_id>/preview", methods=["GET"])
    @protect()
    @safe
    def get_preview(self, version_id: int) -> Response:
        """The version rendered with the catalogue's example values (``?format=json``: base64 + warnings).
        ---
        get:
          responses:
            200: {description: the rendered file}
            422: {description: the template could not be rendered; Chinese message}
        """
        version = db.session.get(TemplateVersion, version_id)
        if version is None:
            return self.response_404()
        try:
            rendered = preview_template(service.template_bytes(current_app.instance_path, version),
                                        version.filename)
        except (service.TemplateRefused, RenderError) as exc:
            return self.response_422(message=f"无法生成预览：{exc}")
        except Exception as exc:  # noqa: BLE001 - a damaged template raises many types
            return self.response_422(message=f"无法生成预览：{type(exc).__name__}: {exc}")
        if request.args.get("format") == "json":
            return self.response(200, result={"filename": version.filename, "warnings": list(rendered.warnings),
                                              "content": base64.b64encode(rendered.content).decode()})
        return send_bytes(rendered.content, f"preview-v{version.version}-{version.filename}")

    @expose("/catalogue", methods=["GET"])
    @protect()
    @safe
    def get_catalogue(self) -> Response:
        """Every variable and table column a template may use.
        ---
        get:
          responses:
            200: {description: the catalogue}
        """
        rows = [{"name": r.name, "usage": r.usage, "group": r.group, "kind": r.kind, "description": r.description,
                 "unit": r.unit, "example": r.example, "table": r.parent} for r in catalogue_rows()]
        return self.response(200, result=rows)

    @expose("/active", methods=["GET"])
    @protect()
    @safe
    def get_active(self) -> Response:
        """The version in force for ``?organization_id=&kind=report|tables`` (inherited from above).
        ---
        get:
          responses:
            200: {description: the version, or null when the built-in template is used}
            404: {description: organisation outside the caller's scope}
        """
        org_id = request.args.get("organization_id", type=int)
        kind = request.args.get("kind", "report")
        if kind not in KINDS:
            return self.response_422(message=f"kind 应为 {'、'.join(KINDS)} 之一")
        if org_id is None or not org_scope().can_read(org_id):
            return self.response_404()
        found = service.active_version(db.session, org_id, kind)
        return self.response(200, result=version_dict(found) if found is not None else None)

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def create_version(self) -> Response:
        """Upload a template file (multipart: ``file``, ``name``, ``authority``, ``standard``, ``kind``, ``note``).
        A new name starts at version 1; an existing one gets its next version. Checked at once.
        ---
        post:
          responses:
            201: {description: the version with its check result}
            422: {description: refused; reasons in Chinese; nothing stored}
        """
        upload = request.files.get("file")
        fields = {k: request.form.get(k, "") for k in ("name", "authority", "standard", "kind", "note")}
        fields["kind"] = fields["kind"] or "report"
        filename, content = (upload.filename or "", upload.read()) if upload is not None else ("", b"")
        try:
            version = service.upload_version(db.session, current_app.instance_path, filename=filename,
                                             content=content, user=g.user, **fields)
        except service.TemplateRefused as exc:
            db.session.rollback()
            return self.response(422, message="；".join(exc.reasons), reasons=exc.reasons)
        db.session.commit()
        return self.response(201, result=version_dict(version))

    @expose("/versions/<int:version_id>/activate", methods=["POST"])
    @protect()
    @safe
    def activate(self, version_id: int) -> Response:
        """Activate a checked version for ``{"organization_id": …}`` and the nodes below it.
        ---
        post:
          responses:
            200: {description: the activation}
            404: {description: version not found}
            422: {description: refused (failed check, outside the scope); Chinese reasons}
        """
        version = db.session.get(TemplateVersion, version_id)
        if version is None:
            return self.response_404()
        body = request.get_json(silent=True)
        org_id = body.get("organization_id") if isinstance(body, dict) else None
        if isinstance(org_id, bool) or not isinstance(org_id, int):
            return self.response_422(message="organization_id 应为整数")
        try:
            activation = service.activate(db.session, version, org_id, g.user)
        except service.TemplateRefused as exc:
            db.session.rollback()
            return self.response(422, message="；".join(exc.reasons), reasons=exc.reasons)
        db.session.commit()
        return self.response(200, result=activation_dict(activation))
