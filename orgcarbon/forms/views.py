"""数据填报 pages: 我的填报, filling a form, a submission's page, 审核队列 and 期间管理.

Every page calls the workflow services (``service``, ``periods``, ``evidence``) and commits once
when they succeed; a refused step is rolled back and shown in Chinese, with the values the user
typed kept on screen. Permissions follow the areas of ``orgcarbon.security.roles``: filling,
saving, evidence, submitting and revising need write on DataEntry; reviewing, approving,
rejecting, closing a period and deciding a reopen need write on Review; reading needs read on
either. Every lookup goes through ``org_scope``: another organisation's rows answer 404.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flask import abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_appbuilder._compat import as_unicode
from flask_appbuilder.const import FLAMSG_ERR_SEC_ACCESS_DENIED
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import ValidationError

from orgcarbon.forms import periods as period_service
from orgcarbon.forms import service
from orgcarbon.forms.evidence import add_evidence, remove_evidence
from orgcarbon.forms.models import Evidence, FormDefinition, FormField, Period, Submission
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import OrgScope, org_scope

ENTRY, REVIEW = "DataEntry", "Review"
ENTRY_PERMISSIONS = {**METHOD_PERMISSIONS, "index": "read", "fill": "read", "save": "write", "submission": "read",
                     "download": "read", "remove_file": "write", "revise": "write", "comment": "read",
                     "periods": "read", "request_reopen": "write"}
REVIEW_PERMISSIONS = {**METHOD_PERMISSIONS, "queue": "read", "decide": "write", "close": "write",
                      "decide_reopen": "write"}
PERIOD_LABELS = {"open": _l("Open"), "closed": _l("Closed"), "reopen_requested": _l("Reopen requested"),
                 "inherited": _l("Closed by a parent node")}
WAIT_LABELS = {"review": _l("Waiting for review"), "approve": _l("Waiting for approval")}
PERIODS = {"month": range(1, 13), "quarter": range(1, 5), "year": range(0, 1)}
Row = TypeVar("Row", Submission, FormDefinition, FormField, Evidence, Period)
TEMPLATES = str(Path(__file__).resolve().parent / "templates")


# --- access --------------------------------------------------------------------------------------

def allowed(permission: str, *areas: str) -> bool:
    """True when the signed-in user holds ``can_<permission>`` on at least one of ``areas``."""
    cache = g.setdefault("_forms_access", {})  # asked per row on list pages; the answer holds per request
    key = (permission, areas)
    if key not in cache:
        sm = current_app.appbuilder.sm
        cache[key] = any(sm.has_access(f"can_{permission}", area) for area in areas)
    return bool(cache[key])


def requires_any(permission: str, *areas: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``has_access`` for pages open to holders of ``permission`` on any of ``areas`` (read on either)."""

    def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wraps(self: BaseView, *args: Any, **kwargs: Any) -> Any:
            if allowed(permission, *areas):
                return f(self, *args, **kwargs)
            if current_user.is_authenticated and current_user.is_active:
                abort(403)
            flash(as_unicode(FLAMSG_ERR_SEC_ACCESS_DENIED), "danger")
            login = self.appbuilder.sm.auth_view.__class__.__name__ + ".login"
            return redirect(url_for(login, next=request.url))

        wraps._permission_name = permission  # type: ignore[attr-defined]  # FAB registers can_<permission>
        return wraps

    return decorator


def _check_csrf() -> None:
    """Refuse a page POST without the form's token (the JSON API uses tokens instead of cookies)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (CSRFError, ValidationError):
        abort(400, "页面已过期，请刷新后重试")


# --- scoped lookups (shared with the API) ----------------------------------------------------------

def visible(model: type[Row], row_id: int) -> Row | None:
    """The row (submission, form, field, evidence, period) if the caller may read its organisation."""
    found = db.session.get(model, row_id)
    return found if found is not None and org_scope().can_read(found.organization_id) else None


def waits_for(submission: Submission) -> str | None:
    """``review`` or ``approve``: the step a submission under review waits for (None: not waiting)."""
    if submission.status == "submitted":
        return "review" if submission.form.review_steps >= 2 else "approve"
    return "approve" if submission.status == "reviewed" else None


def submission_actions(submission: Submission, user: Any) -> set[str]:
    """The buttons to offer this user; the services decide again when one is pressed."""
    if not org_scope().can_write(submission.organization_id):
        return set()
    actions: set[str] = set()
    me = getattr(user, "id", None)
    step = waits_for(submission)
    if step and allowed("write", REVIEW) and me != submission.submitted_by_id:
        actions.add("reject")
        if step == "review" or me != submission.reviewed_by_id:
            actions.add(step)
    if allowed("write", ENTRY):
        latest = service.current_submission(db.session, submission.form, submission.organization_id,
                                            submission.year, submission.period)
        if submission.status == "draft":
            actions.add("edit")
        elif submission.status == "approved" and latest is not None and latest.id == submission.id:
            actions.add("revise")
    return actions


def review_queue(scope: OrgScope) -> list[Submission]:
    """Submissions submitted or reviewed in the caller's scope, oldest submission first."""
    query = (select(Submission).where(Submission.status.in_(("submitted", "reviewed")))
             .order_by(Submission.submitted_at, Submission.id))
    if scope.readable is not None:
        query = query.where(Submission.organization_id.in_(sorted(scope.readable)))
    return list(db.session.execute(query).scalars())


# --- 期间管理 grid ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PeriodCell:
    """One month of one node: its state and, when it has one, its own ``Period`` row."""

    month: int
    state: str  # open | closed | reopen_requested | inherited
    period: Period | None


@dataclass(frozen=True)
class PeriodRow:
    """A node of the tree (indented by ``depth``) and its twelve months."""

    organization: Organization
    depth: int
    cells: list[PeriodCell]


def period_grid(scope: OrgScope, year: int) -> list[PeriodRow]:
    """Year × month states of every node the caller may read, in tree order."""
    orgs = db.session.execute(select(Organization).order_by(Organization.id)).scalars().all()
    parent = {o.id: o.parent_id for o in orgs}
    children: dict[int | None, list[Organization]] = {}
    for org in orgs:
        children.setdefault(parent[org.id] if parent[org.id] in parent else None, []).append(org)
    own = {(p.organization_id, p.month): p for p in db.session.execute(
        select(Period).where(Period.year == year)).scalars()}

    def state(org_id: int, month: int) -> PeriodCell:
        mine = own.get((org_id, month))
        if mine is not None and mine.status in period_service.LOCKED:
            return PeriodCell(month, mine.status, mine)
        node = parent.get(org_id)
        while node is not None:
            above = own.get((node, month))
            if above is not None and above.status in period_service.LOCKED:
                return PeriodCell(month, "inherited", mine)
            node = parent.get(node)
        return PeriodCell(month, "open", mine)

    rows: list[PeriodRow] = []

    def walk(node: int | None, depth: int) -> None:
        for org in children.get(node, []):
            shown = scope.can_read(org.id)
            if shown:
                rows.append(PeriodRow(org, depth, [state(org.id, m) for m in range(1, 13)]))
            walk(org.id, depth + 1 if shown else depth)

    walk(None, 0)
    return rows


# --- the fill page -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldRow:
    """A field on the fill page with what to show in its input and beside it."""

    field: FormField
    value: str
    error: str | None
    files: list[Evidence]


def format_value(value: float | str | None) -> str:
    """A stored value as the input shows it (no float noise, no thousands separators)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.15g}"
    return str(value)


def layout(form: FormDefinition, values: dict[int, str], errors: dict[int, str],
           files: list[Evidence]) -> list[tuple[str, str | None, list[FieldRow]]]:
    """Sections in order, each ``(name, description, rows)``; fields without a section come last."""
    by_section: dict[int | None, list[FieldRow]] = {}
    for f in form.fields:
        row = FieldRow(f, values.get(f.id, ""), errors.get(f.id), [e for e in files if e.field_id == f.id])
        by_section.setdefault(f.section_id, []).append(row)
    groups = [(s.name, s.description, by_section.pop(s.id)) for s in form.sections if s.id in by_section]
    rest = [row for rows in by_section.values() for row in rows]
    if rest:
        groups.append((_("Other fields"), None, rest))
    return groups


def _uploads() -> list[tuple[int | None, FileStorage]]:
    """Files sent with the fill form: per field (``e<field id>``) and for the whole form (``evidence``)."""
    chosen = request.form.get("evidence_field", "")
    whole = int(chosen) if chosen.isdigit() else None
    found: list[tuple[int | None, FileStorage]] = []
    for name, upload in request.files.items(multi=True):
        if not upload or not upload.filename:
            continue
        if name.startswith("e") and name[1:].isdigit():
            found.append((int(name[1:]), upload))
        elif name == "evidence":
            found.append((whole, upload))
    return found


class _PageView(BaseView):
    """Shared set-up of the 数据填报 pages: templates, the CSRF token, the 404 of another organisation."""

    template_folder = TEMPLATES

    def render_template(self, template: str, **kwargs: Any) -> str:
        form = kwargs.get("form") or getattr(kwargs.get("sub"), "form", None)
        fields_by_id = {f.id: f for f in form.fields} if form is not None else {}
        return super().render_template(
            template, csrf_token=generate_csrf, fields_by_id=fields_by_id, status_labels=service.STATUS_LABELS,
            action_labels=service.ACTION_LABELS, period_labels=PERIOD_LABELS, wait_labels=WAIT_LABELS, **kwargs)

    def _submission(self, submission_id: int) -> Submission:
        found = visible(Submission, submission_id)
        if found is None:
            abort(404)
        return found


class FormsView(_PageView):
    """我的填报, the fill page, a submission's page with its history, evidence downloads, 期间管理."""

    route_base = "/forms"
    class_permission_name = ENTRY
    method_permission_name = ENTRY_PERMISSIONS
    default_view = "index"

    @expose("/")
    @requires_any("read", ENTRY, REVIEW)
    def index(self) -> str:
        today = dt.date.today()
        year = request.args.get("year", today.year, type=int)
        items = service.forms_due(db.session, org_scope(), year, today, writable_only=allowed("write", ENTRY))
        years = list(range(today.year - 4, today.year + 1))
        return self.render_template("forms/due.html", items=items, year=year, years=years,
                                    can_fill=allowed("write", ENTRY))

    def _fill_page(self, form: FormDefinition, year: int, period: int, *, raw: dict[int, str] | None = None,
                   errors: dict[int, str] | None = None, reasons: list[str] | None = None,
                   status: int = 200) -> tuple[str, int]:
        """The fill page; after a refused save, ``raw`` keeps what was typed and ``errors`` says why."""
        current = service.current_submission(db.session, form, form.organization_id, year, period)
        locked = any(period_service.period_locked(db.session, form.organization_id, year, m)
                     for m in service.months_of(form.granularity, period))
        editable = (allowed("write", ENTRY) and org_scope().can_write(form.organization_id) and not locked
                    and (current is None or current.status == "draft"))
        if raw is None:
            stored = service.stored_values(current) if current is not None else {}
            raw = {f.id: format_value(stored[f.id]) if f.id in stored else
                   ("" if current is not None else (f.default or "")) for f in form.fields}
        files = list(current.evidence) if current is not None else []
        page = self.render_template(
            "forms/fill.html", form=form, year=year, period=period, submission=current, editable=editable,
            locked=locked, label=service.period_label(form.granularity, year, period),
            groups=layout(form, raw, errors or {}, files), files=files, reasons=reasons or [],
            actions=submission_actions(current, g.user) if current is not None else set(),
            validate_url=url_for("FormsApi.validate"))
        return page, status

    def _form_or_404(self, form_id: int, year: int, period: int) -> FormDefinition:
        form = visible(FormDefinition, form_id)
        if form is None or not 2000 <= year <= 2100 or period not in PERIODS.get(form.granularity, ()):
            abort(404)
        return form

    @expose("/fill/<int:form_id>/<int:year>/<int:period>")
    @requires_any("read", ENTRY, REVIEW)
    def fill(self, form_id: int, year: int, period: int) -> tuple[str, int]:
        return self._fill_page(self._form_or_404(form_id, year, period), year, period)

    @expose("/fill/<int:form_id>/<int:year>/<int:period>", methods=["POST"])
    @has_access
    def save(self, form_id: int, year: int, period: int) -> Any:
        """保存草稿 or 提交: values and files in one multipart post; all or nothing."""
        _check_csrf()
        form = self._form_or_404(form_id, year, period)
        scope, session, user = org_scope(), db.session, g.user
        raw = {f.id: request.form.get(f"f{f.id}", "") for f in form.fields}
        try:
            draft = service.get_or_create_draft(session, form, form.organization_id, year, period, user, scope=scope)
            service.save_draft(session, draft, raw, user, scope=scope)
            for field_id, upload in _uploads():
                add_evidence(session, current_app.instance_path, draft, upload.filename or "", upload.read(), user,
                             content_type=upload.mimetype, field_id=field_id, note=request.form.get("note") or None)
        except service.ValidationFailed as exc:
            session.rollback()
            return self._fill_page(form, year, period, raw=raw, errors={e.field_id: e.reason for e in exc.errors},
                                   reasons=[_("Nothing was saved: correct the fields marked in red.")], status=422)
        except service.WorkflowError as exc:
            session.rollback()
            return self._fill_page(form, year, period, raw=raw, reasons=exc.reasons, status=422)
        session.commit()
        if request.form.get("action") != "submit":
            flash(_("Draft saved."), "success")
            return redirect(url_for("FormsView.fill", form_id=form_id, year=year, period=period))
        try:
            service.submit(session, draft, user, request.form.get("comment") or None, scope=scope)
        except service.ValidationFailed as exc:
            session.rollback()
            return self._fill_page(form, year, period, raw=raw, errors={e.field_id: e.reason for e in exc.errors},
                                   reasons=[_("The draft was saved but not submitted:")] + exc.reasons, status=422)
        except service.WorkflowError as exc:
            session.rollback()
            return self._fill_page(form, year, period, raw=raw,
                                   reasons=[_("The draft was saved but not submitted:")] + exc.reasons, status=422)
        session.commit()
        flash(_("Submitted for review."), "success")
        return redirect(url_for("FormsView.submission", submission_id=draft.id))

    @expose("/submission/<int:submission_id>")
    @requires_any("read", ENTRY, REVIEW)
    def submission(self, submission_id: int) -> str:
        sub = self._submission(submission_id)
        values = service.stored_values(sub)
        previous = sub.previous
        return self.render_template(
            "forms/submission.html", sub=sub, values=values, groups=layout(sub.form, {
                f.id: format_value(values.get(f.id)) for f in sub.form.fields}, {}, list(sub.evidence)),
            label=service.period_label(sub.form.granularity, sub.year, sub.period), waits=waits_for(sub),
            diff=service.diff_versions(previous, sub) if previous is not None else [], previous=previous,
            actions=submission_actions(sub, g.user), signatures=_signatures(sub))

    @expose("/evidence/<int:evidence_id>")
    @requires_any("read", ENTRY, REVIEW)
    def download(self, evidence_id: int) -> Response:
        found = visible(Evidence, evidence_id)
        if found is None:
            abort(404)
        path = Path(current_app.instance_path) / found.stored_path
        if not path.is_file():
            abort(404)
        return send_file(path, as_attachment=True, download_name=found.filename,
                         mimetype=found.content_type or "application/octet-stream")

    @expose("/evidence/<int:evidence_id>/delete", methods=["POST"])
    @has_access
    def remove_file(self, evidence_id: int) -> Response:
        _check_csrf()
        found = visible(Evidence, evidence_id)
        if found is None:
            abort(404)
        sub = found.submission
        if not org_scope().can_write(found.organization_id):
            abort(403)
        try:
            remove_evidence(db.session, found, g.user)
            db.session.commit()
            flash(_("File removed: %(name)s", name=found.filename), "success")
        except service.WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("FormsView.fill", form_id=sub.form_id, year=sub.year, period=sub.period))

    @expose("/submission/<int:submission_id>/revise", methods=["POST"])
    @has_access
    def revise(self, submission_id: int) -> Response:
        """修改（创建新版本）: a new draft of approved data, with the reason in its history."""
        _check_csrf()
        sub = self._submission(submission_id)
        try:
            draft = service.start_revision(db.session, sub, g.user, request.form.get("reason", ""), scope=org_scope())
        except service.WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for("FormsView.submission", submission_id=submission_id))
        db.session.commit()
        flash(_("Version %(version)s created as a draft; change the values and submit it.", version=draft.version),
              "success")
        return redirect(url_for("FormsView.fill", form_id=sub.form_id, year=sub.year, period=sub.period))

    @expose("/submission/<int:submission_id>/comment", methods=["POST"])
    @requires_any("read", ENTRY, REVIEW)
    def comment(self, submission_id: int) -> Response:
        _check_csrf()
        sub = self._submission(submission_id)
        try:
            service.add_comment(db.session, sub, g.user, request.form.get("comment", ""), scope=org_scope())
            db.session.commit()
            flash(_("Comment added."), "success")
        except service.WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("FormsView.submission", submission_id=submission_id))

    @expose("/periods")
    @requires_any("read", ENTRY, REVIEW)
    def periods(self) -> str:
        year = request.args.get("year", dt.date.today().year, type=int)
        scope = org_scope()
        rows = period_grid(scope, year)
        pending = [c.period for r in rows for c in r.cells if c.state == "reopen_requested" and c.period]
        return self.render_template("forms/periods.html", year=year, rows=rows, pending=pending,
                                    years=list(range(dt.date.today().year - 4, dt.date.today().year + 2)),
                                    can_close=allowed("write", REVIEW), can_request=allowed("write", ENTRY, REVIEW))

    @expose("/periods/request-reopen", methods=["POST"])
    @requires_any("write", ENTRY, REVIEW)
    def request_reopen(self) -> Response:
        """申请重新开放: a reason is required; another person with write on Review decides."""
        _check_csrf()
        org_id, year, month = _period_key()
        period = period_service.get_period(db.session, org_id, year, month)
        try:
            if period is None or period.status not in period_service.LOCKED:
                raise service.WorkflowError(_not_closed_reason(org_id, year, month))
            period_service.request_reopen(db.session, period, g.user, request.form.get("reason", ""),
                                          scope=org_scope())
            db.session.commit()
            flash(_("Reopening requested; a reviewer decides."), "success")
        except service.WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("FormsView.periods", year=year))


def _period_key() -> tuple[int, int, int]:
    """Organisation, year and month posted by the period forms; 404 outside the caller's scope."""
    try:
        org_id, year, month = (int(request.form[k]) for k in ("organization_id", "year", "month"))
    except (KeyError, ValueError):
        abort(400, "需要组织、年份与月份")
    if not org_scope().can_read(org_id) or db.session.get(Organization, org_id) is None:
        abort(404)
    return org_id, year, month


def _not_closed_reason(org_id: int, year: int, month: int) -> str:
    org = db.session.get(Organization, org_id)
    name = org.name if org else str(org_id)
    if period_service.period_locked(db.session, org_id, year, month):
        return f"期间 {name} {year}-{month:02d} 由上级组织关闭，请对上级组织申请重新开放"
    return f"期间 {name} {year}-{month:02d} 未关闭，无需重新开放"


class ReviewView(_PageView):
    """审核队列, the review decisions and the period close / reopen decisions (write on Review)."""

    route_base = "/forms"
    class_permission_name = REVIEW
    method_permission_name = REVIEW_PERMISSIONS
    default_view = "queue"

    @expose("/review")
    @requires_any("read", ENTRY, REVIEW)
    def queue(self) -> str:
        items = [(s, service.period_label(s.form.granularity, s.year, s.period), waits_for(s),
                  submission_actions(s, g.user)) for s in review_queue(org_scope())]
        return self.render_template("forms/review.html", items=items)

    @expose("/submission/<int:submission_id>/<any(review, approve, reject):action>", methods=["POST"])
    @has_access
    def decide(self, submission_id: int, action: str) -> Response:
        """审核通过 / 批准 / 驳回（原因必填）."""
        _check_csrf()
        sub = self._submission(submission_id)
        text, scope = request.form.get("comment", ""), org_scope()
        try:
            if action == "reject":
                service.reject(db.session, sub, g.user, text, scope=scope)
            else:
                step = service.review if action == "review" else service.approve
                step(db.session, sub, g.user, text.strip() or None, scope=scope)
        except service.WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for("FormsView.submission", submission_id=submission_id))
        db.session.commit()
        done = {"review": _("Reviewed; waiting for approval."),
                "approve": _("Approved; the values are now activity data."),
                "reject": _("Rejected; the submitter sees the reason.")}
        flash(done[action], "success")
        return redirect(url_for("ReviewView.queue"))

    @expose("/periods/close", methods=["POST"])
    @has_access
    def close(self) -> Response:
        """关闭期间: locks the node's month for its whole subtree."""
        _check_csrf()
        org_id, year, month = _period_key()
        try:
            text = request.form.get("comment") or request.form.get("reason") or None
            period_service.close_period(db.session, org_id, year, month, g.user, text, scope=org_scope())
            db.session.commit()
            flash(_("Period closed."), "success")
        except service.WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("FormsView.periods", year=year))

    @expose("/periods/<int:period_id>/<any(approve, reject):decision>", methods=["POST"])
    @has_access
    def decide_reopen(self, period_id: int, decision: str) -> Response:
        """批准/拒绝重新开放 (not by the person who asked)."""
        _check_csrf()
        period = visible(Period, period_id)
        if period is None:
            abort(404)
        step = period_service.approve_reopen if decision == "approve" else period_service.reject_reopen
        try:
            step(db.session, period, g.user, request.form.get("comment") or None, scope=org_scope())
            db.session.commit()
            flash(_("Period reopened.") if decision == "approve" else _("Reopening refused; the period stays closed."),
                  "success")
        except service.WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("FormsView.periods", year=period.year))


def register_forms(appbuilder: AppBuilder) -> None:
    """Attach the 数据填报 pages, their menu entries and the JSON API."""
    from orgcarbon.forms.api import FormsApi

    category = {"category": "Forms", "category_label": _l("Data entry"), "category_icon": "fa-pencil-square-o"}
    forms = appbuilder.add_view(FormsView, "My forms", label=_l("My forms"), icon="fa-edit", **category)
    review = appbuilder.add_view_no_menu(ReviewView)
    # Menu entries name the view whose area grants them: the queue Review readers, the periods every reader.
    appbuilder.add_link("Review queue", label=_l("Review queue"), href="/forms/review", icon="fa-check-square-o",
                        category="Forms", baseview=review)
    appbuilder.add_link("Periods", label=_l("Periods"), href="/forms/periods", icon="fa-lock", category="Forms",
                        baseview=forms)
    appbuilder.add_api(FormsApi)


def _signatures(sub: Submission) -> list[dict[str, object]]:
    """The SM2 signatures of the submission's steps, each checked now (spec 8.2.3)."""
    from orgcarbon.security.signatures import check_signature, signatures_of

    session = db.session
    rows = []
    for signature in signatures_of(session, "fm_submission", sub.id):
        check = check_signature(session, signature)
        rows.append({"action": signature.action, "user": signature.username, "at": signature.signed_at,
                     "digest": signature.digest, "ok": check.ok, "reason": check.reason})
    return rows
