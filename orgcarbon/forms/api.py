"""``/api/v1/forms/``: what is due, submissions, the review steps and field validation, as JSON.

The same services, permissions and data scope as the pages (``orgcarbon.forms.views``): JWT or the
browser session; another organisation's submission answers 404; bad values answer 422 with
``{"errors": [{"field", "reason"}]}``, a refused step 422 with the Chinese ``message``; nothing is
written unless the whole call succeeds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from flask import g, request
from flask_appbuilder import expose
from flask_appbuilder.api import BaseApi, safe
from flask_jwt_extended import verify_jwt_in_request
from flask_login import current_user
from werkzeug.wrappers import Response

from orgcarbon.forms import service
from orgcarbon.forms.models import FormDefinition, FormField, Submission
from orgcarbon.forms.views import (
    ENTRY,
    REVIEW,
    allowed,
    visible,
    waits_for,
)
from orgcarbon.platform.extensions import db
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope


def protect_any(permission: str, *areas: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """FAB's ``protect`` for holders of ``permission`` on any of ``areas``.

    A browser session may call the API (the fill page validates fields through it), but only with
    a JSON body when it changes something: a cross-site form cannot send one, so cookies alone
    cannot be used to approve or submit on a user's behalf.
    """

    def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wraps(self: BaseApi, *args: Any, **kwargs: Any) -> Response:
            if not current_user.is_authenticated:
                verify_jwt_in_request()
            elif request.method != "GET" and not request.is_json:
                return self.response_400(message="请以 JSON 提交（Content-Type: application/json）")
            if allowed(permission, *areas):
                return f(self, *args, **kwargs)
            return self.response_403()

        wraps._permission_name = permission  # type: ignore[attr-defined]
        return wraps

    return decorator


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _name(user: Any) -> str | None:
    return getattr(user, "username", None)


def submission_dict(sub: Submission) -> dict[str, Any]:
    """A submission as JSON: values by field code with units, evidence, history and the change from v-1."""
    form = sub.form
    values = service.stored_values(sub)
    fields = {f.id: f for f in form.fields}
    return {
        "id": sub.id, "form_id": sub.form_id, "form": form.name, "form_revision": sub.form_revision,
        "organization_id": sub.organization_id, "organization": sub.organization.name, "year": sub.year,
        "period": sub.period, "period_label": service.period_label(form.granularity, sub.year, sub.period),
        "version": sub.version, "previous_id": sub.previous_id, "status": sub.status,
        "status_label": service.STATUS_LABELS.get(sub.status, sub.status), "waits_for": waits_for(sub),
        "rejection_reason": sub.rejection_reason if sub.status == "draft" else None, "source": sub.source,
        "submitted_by": _name(sub.submitted_by), "submitted_at": _iso(sub.submitted_at),
        "reviewed_by": _name(sub.reviewed_by), "reviewed_at": _iso(sub.reviewed_at),
        "approved_by": _name(sub.approved_by), "approved_at": _iso(sub.approved_at),
        "values": {fields[k].code: v for k, v in values.items() if k in fields},
        "units": {f.code: f.unit for f in form.fields},
        "evidence": [{"id": e.id, "filename": e.filename, "field": fields[e.field_id].code if e.field_id in fields
                      else None, "size": e.size, "sm3": e.sm3, "uploaded_at": _iso(e.uploaded_at),
                      "url": f"/forms/evidence/{e.id}"} for e in sub.evidence],
        "history": [{"action": e.action, "label": service.ACTION_LABELS.get(e.action, e.action),
                     "from": e.from_status, "to": e.to_status, "user": e.user_name, "at": _iso(e.at),
                     "comment": e.comment} for e in sub.events],
        "changes": service.diff_versions(sub.previous, sub) if sub.previous is not None else [],
    }


def _field_errors(errors: list[service.FieldError]) -> list[dict[str, str]]:
    return [{"field": e.code, "reason": e.reason} for e in errors]


class FormsApi(BaseApi):
    """``/api/v1/forms/``: due forms, drafts, submit / review / approve / reject / comment / revise, validate."""

    resource_name = "forms"
    class_permission_name = ENTRY
    method_permission_name = {**METHOD_PERMISSIONS, "due": "read", "get_submission": "read", "put_submission":
                              "write", "submit": "write", "review": "write", "approve": "write", "reject": "write",
                              "comment": "read", "revise": "write", "validate": "read"}
    allow_browser_login = True
    openapi_spec_tag = "Forms"

    def _refused(self, exc: service.WorkflowError) -> Response:
        db.session.rollback()
        if isinstance(exc, service.ValidationFailed):
            return self.response(422, message=exc.reasons, errors=_field_errors(exc.errors))
        return self.response_422(message=exc.reasons)

    def _step(self, submission_id: int, run: Callable[[Submission, dict[str, Any]], Submission | None]) -> Response:
        sub = visible(Submission, submission_id)
        if sub is None:
            return self.response_404()
        body = request.get_json(silent=True) or {}
        try:
            result = run(sub, body) or sub
        except service.WorkflowError as exc:
            return self._refused(exc)
        db.session.commit()
        return self.response(200, result=submission_dict(result))

    @expose("/due", methods=["GET"])
    @protect_any("read", ENTRY, REVIEW)
    @safe
    def due(self) -> Response:
        """Forms due in ``?year=`` (default this year) for the caller's organisations, with status.
        ---
        get:
          responses:
            200: {description: due forms and periods}
        """
        year = request.args.get("year", dt.date.today().year, type=int)
        items = service.forms_due(db.session, org_scope(), year, writable_only=allowed("write", ENTRY))
        rows = [{**dataclasses.asdict(i), "due_date": i.due_date.isoformat()} for i in items]
        return self.response(200, result=rows)

    @expose("/submissions/<int:submission_id>", methods=["GET"])
    @protect_any("read", ENTRY, REVIEW)
    @safe
    def get_submission(self, submission_id: int) -> Response:
        """One submission with values, evidence, history and the difference from the previous version.
        ---
        get:
          responses:
            200: {description: the submission}
            404: {description: not found or outside the data scope}
        """
        sub = visible(Submission, submission_id)
        if sub is None:
            return self.response_404()
        return self.response(200, result=submission_dict(sub))

    @expose("/submissions", methods=["PUT"])
    @protect_any("write", ENTRY)
    @safe
    def put_submission(self) -> Response:
        """Save a draft: ``{"form_id", "organization_id", "year", "period", "values": {code: value}}``.
        ---
        put:
          responses:
            200: {description: the draft}
            403: {description: readable but not writable}
            404: {description: form outside the data scope}
            422: {description: bad values (errors by field) or a refused step (message)}
        """
        body = request.get_json(silent=True) or {}
        try:
            form_id, org_id = int(body["form_id"]), int(body.get("organization_id") or 0)
            year, period = int(body["year"]), int(body.get("period") or 0)
            values = body.get("values") or {}
            if not isinstance(values, dict):
                raise TypeError
        except (KeyError, TypeError, ValueError):
            return self.response_422(message="需要 form_id、organization_id、year、period（整数）与 values（字段代码 → 数值）")
        form = visible(FormDefinition, form_id)
        if form is None:
            return self.response_404()
        scope = org_scope()
        if not scope.can_write(org_id or form.organization_id):
            return self.response(403, message="无权填报该组织的数据（超出您的数据范围）")
        try:
            draft = service.get_or_create_draft(db.session, form, org_id or form.organization_id, year, period, g.user,
                                                scope=scope)
            service.save_draft(db.session, draft, values, g.user, scope=scope)
        except service.WorkflowError as exc:
            return self._refused(exc)
        db.session.commit()
        return self.response(200, result=submission_dict(draft))

    @expose("/submissions/<int:submission_id>/submit", methods=["POST"])
    @protect_any("write", ENTRY)
    @safe
    def submit(self, submission_id: int) -> Response:
        """Draft → submitted: ``{"comment"?}``.
        ---
        post:
          responses:
            200: {description: submitted}
            404: {description: not found or outside the data scope}
            422: {description: refused (missing or bad values, evidence, closed period)}
        """
        return self._step(submission_id, lambda s, b: service.submit(db.session, s, g.user, b.get("comment"),
                                                                     scope=org_scope()))

    @expose("/submissions/<int:submission_id>/review", methods=["POST"])
    @protect_any("write", REVIEW)
    @safe
    def review(self, submission_id: int) -> Response:
        """Submitted → reviewed (not by the submitter): ``{"comment"?}``.
        ---
        post:
          responses:
            200: {description: reviewed}
            404: {description: not found or outside the data scope}
            422: {description: refused}
        """
        return self._step(submission_id, lambda s, b: service.review(db.session, s, g.user, b.get("comment"),
                                                                     scope=org_scope()))

    @expose("/submissions/<int:submission_id>/approve", methods=["POST"])
    @protect_any("write", REVIEW)
    @safe
    def approve(self, submission_id: int) -> Response:
        """Approve (neither submitter nor reviewer); the values become activity data: ``{"comment"?}``.
        ---
        post:
          responses:
            200: {description: approved}
            404: {description: not found or outside the data scope}
            422: {description: refused}
        """
        return self._step(submission_id, lambda s, b: service.approve(db.session, s, g.user, b.get("comment"),
                                                                      scope=org_scope()))

    @expose("/submissions/<int:submission_id>/reject", methods=["POST"])
    @protect_any("write", REVIEW)
    @safe
    def reject(self, submission_id: int) -> Response:
        """Back to draft with a reason: ``{"reason"}`` (required).
        ---
        post:
          responses:
            200: {description: rejected}
            404: {description: not found or outside the data scope}
            422: {description: refused (no reason, own submission, wrong status)}
        """
        return self._step(submission_id, lambda s, b: service.reject(
            db.session, s, g.user, str(b.get("reason") or b.get("comment") or ""), scope=org_scope()))

    @expose("/submissions/<int:submission_id>/comment", methods=["POST"])
    @protect_any("read", ENTRY, REVIEW)
    @safe
    def comment(self, submission_id: int) -> Response:
        """A comment in the history: ``{"comment"}``.
        ---
        post:
          responses:
            200: {description: the submission with the comment}
            404: {description: not found or outside the data scope}
            422: {description: empty comment}
        """
        def run(sub: Submission, body: dict[str, Any]) -> None:
            service.add_comment(db.session, sub, g.user, str(body.get("comment") or ""), scope=org_scope())

        return self._step(submission_id, run)

    @expose("/submissions/<int:submission_id>/revise", methods=["POST"])
    @protect_any("write", ENTRY)
    @safe
    def revise(self, submission_id: int) -> Response:
        """A new draft version of approved data: ``{"reason"}`` (required); returns the new draft.
        ---
        post:
          responses:
            200: {description: the new draft}
            404: {description: not found or outside the data scope}
            422: {description: refused}
        """
        return self._step(submission_id, lambda s, b: service.start_revision(
            db.session, s, g.user, str(b.get("reason") or ""), scope=org_scope()))

    @expose("/validate", methods=["POST"])
    @protect_any("read", ENTRY, REVIEW)
    @safe
    def validate(self) -> Response:
        """One field's raw value: ``{"field_id", "value"}`` → ``{"ok", "value"}`` or ``{"ok": false, "reason"}``.
        ---
        post:
          responses:
            200: {description: ok, or the Chinese reason}
            404: {description: field outside the data scope}
        """
        body = request.get_json(silent=True) or {}
        try:
            field_id = int(body["field_id"])
        except (KeyError, TypeError, ValueError):
            return self.response_422(message="需要 field_id（整数）与 value")
        found = visible(FormField, field_id)
        if found is None:
            return self.response_404()
        value, reason = service.parse_value(found, body.get("value"))  # empty is fine in a draft
        if reason:
            return self.response(200, ok=False, field=found.code, reason=reason)
        return self.response(200, ok=True, field=found.code, value=value)
