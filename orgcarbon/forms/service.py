"""Filling and review of forms: values, drafts, the review workflow and approval into activity data.

One way through: ``validate_values`` (every field, Chinese reasons) → ``save_draft`` → ``submit`` →
(``review`` →) ``approve``, which writes the values into ``mm_activity``; ``reject`` sends a
submission back to draft with a reason. The submitter, reviewer and approver must be three
different people (two with one review step). A change after approval is ``start_revision``: a new
draft version whose approval replaces the activity rows of the previous version, which is kept as
``superseded``. Every step is a ``WorkflowEvent``; nothing is committed here — the caller commits
once, so a refused step writes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from orgcarbon.forms.models import (
    FormDefinition,
    FormField,
    Submission,
    SubmissionValue,
    WorkflowEvent,
)
from orgcarbon.forms.periods import WorkflowError, period_locked
from orgcarbon.metamodel.models import ActivityRecord
from orgcarbon.security.scope import OrgScope

__all__ = [
    "FieldError", "ValidationFailed", "WorkflowError", "DueItem", "months_of", "period_label", "parse_value",
    "validate_values", "current_submission", "get_or_create_draft", "save_draft", "submit", "review", "approve",
    "reject", "add_comment", "start_revision", "diff_versions", "forms_due", "STATUS_LABELS",
]

STATUS_LABELS = {
    "none": "未填报", "draft": "草稿", "submitted": "已提交", "reviewed": "已审核", "approved": "已批准",
    "superseded": "已被新版本取代",
}
ACTION_LABELS = {
    "create": "创建", "save": "保存草稿", "submit": "提交", "review": "审核通过", "approve": "批准",
    "reject": "驳回", "comment": "评论", "revise": "修改已批准数据（新版本）", "import": "导入",
    "close": "关闭期间", "reopen_request": "申请重新开放", "reopen": "重新开放", "reopen_reject": "拒绝重新开放",
    "evidence": "上传证据",
}
# Parameter of a field → column of the activity row it fills.
PARAMETER_COLUMNS = {"ncv": "ncv", "cc": "carbon_content", "of": "oxidation_factor", "purity": "purity", "ef": "ef"}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class FieldError:
    """One field's problem, for the page (next to the field) and for import reports."""

    field_id: int
    code: str
    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label}：{self.reason}"


class ValidationFailed(WorkflowError):
    """Some fields are wrong; ``errors`` says which and why (nothing was written)."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__([str(e) for e in errors])


# --- periods -----------------------------------------------------------------------------------

def months_of(granularity: str, period: int) -> list[int]:
    """The months a period covers: a month, a quarter's three, or the year's twelve."""
    if granularity == "month":
        return [period]
    if granularity == "quarter":
        return [3 * period - 2, 3 * period - 1, 3 * period]
    return list(range(1, 13))


def period_label(granularity: str, year: int, period: int) -> str:
    """Chinese label: ``2024-03``, ``2024年第1季度``, ``2024年``."""
    if granularity == "month":
        return f"{year}-{period:02d}"
    if granularity == "quarter":
        return f"{year}年第{period}季度"
    return f"{year}年"


def _check_period(form: FormDefinition, year: int, period: int) -> None:
    limits = {"month": (1, 12), "quarter": (1, 4), "year": (0, 0)}
    low, high = limits.get(form.granularity, (1, 12))
    if not low <= period <= high:
        raise WorkflowError(f"期间 {period} 对按{ {'month': '月', 'quarter': '季度', 'year': '年'}.get(form.granularity)}"
                            f"填报的表单无效")


def activity_month(granularity: str, year: int, period: int) -> str:
    """The ``mm_activity.month`` an approved value is stored under.

    Monthly values under their month; a quarter's under the quarter's last month (季末月, as
    quarterly statistics are dated); a year's under the year alone, which accounting treats as the
    whole year.
    """
    if granularity == "month":
        return f"{year}-{period:02d}"
    if granularity == "quarter":
        return f"{year}-{3 * period:02d}"
    return str(year)


def _locked_months(session: Session, submission: Submission) -> list[int]:
    form = submission.form
    return [m for m in months_of(form.granularity, submission.period)
            if period_locked(session, submission.organization_id, submission.year, m)]


def _refuse_if_locked(session: Session, submission: Submission) -> None:
    locked = _locked_months(session, submission)
    if locked:
        months = "、".join(f"{submission.year}-{m:02d}" for m in locked)
        raise WorkflowError(f"期间 {submission.organization.name} {months} 已关闭，不能修改；如需修改请先申请重新开放")


# --- values ------------------------------------------------------------------------------------

def parse_value(field: FormField, raw: Any) -> tuple[float | str | None, str | None]:
    """A raw input (text from a form or a cell) → the stored value, or a Chinese reason.

    Empty input gives ``(None, None)``; required fields are checked at submission.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if field.data_type == "number":
        if isinstance(raw, bool):
            return None, f"应为数字，实际为“{raw}”"
        if isinstance(raw, int | float):
            number = float(raw)
        else:
            text = str(raw).strip().replace(",", "").replace("，", "")
            if not _NUMBER.match(text):
                return None, f"应为数字，实际为“{str(raw).strip()}”"
            number = float(text)
        if not math.isfinite(number):
            return None, "数值无效"
        if number < 0 and not field.allow_negative:
            return None, f"不能为负数（{_fmt(number)}）"
        if field.min_value is not None and number < field.min_value:
            return None, f"不能小于 {_fmt(field.min_value)}（填写了 {_fmt(number)}）"
        if field.max_value is not None and number > field.max_value:
            return None, f"不能大于 {_fmt(field.max_value)}（填写了 {_fmt(number)}）"
        if field.rule:
            reason = _check_rule(field, number)
            if reason:
                return None, reason
        return number, None
    text = str(raw).strip()
    if isinstance(raw, dt.datetime | dt.date):
        text = raw.strftime("%Y-%m-%d")
    if field.data_type == "choice":
        choices = field.choice_list()
        if text not in choices:
            return None, f"“{text}”不在可选值中（{'、'.join(choices)}）"
    elif field.data_type == "date":
        try:
            dt.date.fromisoformat(text[:10])
        except ValueError:
            return None, f"日期格式应为 YYYY-MM-DD，实际为“{text}”"
        text = text[:10]
    if len(text) > 2000:
        return None, "文本过长（最多 2000 字）"
    return text, None


def _fmt(number: float) -> str:
    return f"{number:,.6g}" if abs(number) < 1e6 else f"{number:,.2f}"


def _check_rule(field: FormField, number: float) -> str | None:
    from orgcarbon.rules import ExpressionError, compile_expression

    try:
        expr = compile_expression(field.rule or "", variables={"value"})
        ok = bool(expr.evaluate_scalar({"value": number}))
    except ExpressionError as exc:
        return f"校验规则无效：{exc}"
    if ok:
        return None
    return field.rule_message or f"不满足校验规则 {field.rule}"


def validate_values(form: FormDefinition, raw: Mapping[Any, Any], *, complete: bool = False,
                    ) -> tuple[dict[int, float | str | None], list[FieldError]]:
    """Parse every given field (keys: field id or code); with ``complete``, required fields must be filled.

    Returns the parsed values by field id and the errors; unknown keys are errors too.
    """
    by_id = {f.id: f for f in form.fields}
    by_code = {f.code: f for f in form.fields}
    values: dict[int, float | str | None] = {}
    errors: list[FieldError] = []
    for key, raw_value in raw.items():
        field = by_id.get(key) if isinstance(key, int) else by_code.get(str(key))
        if field is None and isinstance(key, str) and key.isdigit():
            field = by_id.get(int(key))
        if field is None:
            errors.append(FieldError(0, str(key), str(key), "表单中没有此字段"))
            continue
        value, reason = parse_value(field, raw_value)
        if reason:
            errors.append(FieldError(field.id, field.code, field.label, reason))
        else:
            values[field.id] = value
    if complete:
        for field in form.fields:
            if field.required and values.get(field.id) is None and field.id not in {e.field_id for e in errors}:
                errors.append(FieldError(field.id, field.code, field.label, "必填项未填写"))
    return values, errors


def stored_values(submission: Submission) -> dict[int, float | str | None]:
    """The submission's values by field id."""
    return {v.field_id: (v.value_number if v.value_number is not None else v.value_text) for v in submission.values}


# --- submissions -------------------------------------------------------------------------------

def _event(session: Session, submission: Submission, action: str, before: str | None, user: Any,
           comment: str | None = None, details: dict[str, Any] | None = None) -> None:
    event = WorkflowEvent(submission=submission, organization_id=submission.organization_id, action=action,
                          from_status=before, to_status=submission.status,
                          user_id=getattr(user, "id", None), user_name=getattr(user, "username", None),
                          comment=comment, details=details)
    session.add(event)


def signed_content(submission: Submission, action: str) -> dict[str, Any]:
    """What a user's step signs: the submission, its period and version, every value by field code."""
    codes = {f.id: f.code for f in submission.form.fields}
    values = {codes.get(fid, str(fid)): value for fid, value in stored_values(submission).items()}
    return {"submission_id": submission.id, "form": submission.form.code, "form_revision": submission.form_revision,
            "organization_id": submission.organization_id, "year": submission.year, "period": submission.period,
            "version": submission.version, "action": action, "status": submission.status,
            "values": dict(sorted(values.items())), "evidence_sm3": sorted(e.sm3 for e in submission.evidence)}


def _sign(session: Session, submission: Submission, user: Any, action: str) -> None:
    """Non-repudiation (spec 8.2.3): the step is signed with the user's SM2 key, in the same transaction."""
    if getattr(user, "id", None) is None:
        return
    from orgcarbon.security.signatures import sign_action

    sign_action(session, user, "fm_submission", submission.id, action, signed_content(submission, action))


def _check_scope(scope: OrgScope | None, organization_id: int, write: bool = True) -> None:
    if scope is None:
        return
    allowed = scope.can_write(organization_id) if write else scope.can_read(organization_id)
    if not allowed:
        raise WorkflowError("无权操作该组织的数据")


def current_submission(session: Session, form: FormDefinition, organization_id: int, year: int,
                       period: int) -> Submission | None:
    """The latest version for the form, node and period (None: never filled)."""
    return session.execute(
        select(Submission).where(Submission.form_id == form.id, Submission.organization_id == organization_id,
                                 Submission.year == year, Submission.period == period)
        .order_by(Submission.version.desc()).limit(1)
    ).scalar_one_or_none()


def get_or_create_draft(session: Session, form: FormDefinition, organization_id: int, year: int, period: int,
                        user: Any, *, source: str = "form", import_id: int | None = None,
                        scope: OrgScope | None = None) -> Submission:
    """The draft to edit: the current draft, or a new version 1. Submitted data cannot be edited;
    approved data only through ``start_revision``."""
    _check_scope(scope, organization_id)
    if not form.active:
        raise WorkflowError(f"表单“{form.name}”已停用")
    _check_period(form, year, period)
    if organization_id != form.organization_id:
        raise WorkflowError(f"表单“{form.name}”不属于该组织")
    current = current_submission(session, form, organization_id, year, period)
    label = period_label(form.granularity, year, period)
    if current is not None:
        if current.status == "draft":
            return current
        if current.status in ("submitted", "reviewed"):
            raise WorkflowError(f"{form.name} {label} 已提交审核，不能修改；如需修改请审核人驳回")
        raise WorkflowError(f"{form.name} {label} 已批准；修改须创建新版本")
    submission = Submission(form=form, form_revision=form.revision, organization_id=organization_id, year=year,
                            period=period, version=1, status="draft", source=source, import_id=import_id,
                            created_by_id=getattr(user, "id", None))
    session.add(submission)
    session.flush()
    if _locked_months(session, submission):
        _refuse_if_locked(session, submission)
    _event(session, submission, "create", None, user)
    return submission


def save_draft(session: Session, submission: Submission, raw: Mapping[Any, Any], user: Any, *,
               scope: OrgScope | None = None, replace: bool = False, import_rows: Mapping[int, int] | None = None,
               ) -> Submission:
    """Validate and store values of a draft; any invalid value refuses the whole save (``ValidationFailed``).

    ``replace`` clears fields not given (an import replaces the draft's values).
    """
    _check_scope(scope, submission.organization_id)
    if submission.status != "draft":
        raise WorkflowError(f"{STATUS_LABELS.get(submission.status, submission.status)}的填报不能修改")
    _refuse_if_locked(session, submission)
    values, errors = validate_values(submission.form, raw)
    if errors:
        raise ValidationFailed(errors)
    existing = {v.field_id: v for v in submission.values}
    fields = {f.id: f for f in submission.form.fields}
    changed = 0
    for field_id, value in values.items():
        row = existing.get(field_id)
        if value is None:
            if row is not None:
                submission.values.remove(row)
                changed += 1
            continue
        number = value if isinstance(value, float) else None
        text = value if isinstance(value, str) else None
        if row is None:
            row = SubmissionValue(field_id=field_id, organization_id=submission.organization_id)
            submission.values.append(row)
        elif row.value_number == number and row.value_text == text:
            continue
        row.value_number, row.value_text, row.unit = number, text, fields[field_id].unit
        if import_rows and field_id in import_rows:
            row.import_row = import_rows[field_id]
        changed += 1
    if replace:
        for field_id, row in existing.items():
            if field_id not in values:
                submission.values.remove(row)
                changed += 1
    submission.form_revision = submission.form.revision
    if changed:
        submission.updated_at = dt.datetime.now(dt.UTC)
        _event(session, submission, "save", submission.status, user, details={"changed": changed})
    session.flush()
    return submission


def _missing_evidence(submission: Submission) -> list[str]:
    form = submission.form
    reasons = []
    if form.evidence_required and not submission.evidence:
        reasons.append(f"表单“{form.name}”要求上传至少一份证据材料")
    with_files = {e.field_id for e in submission.evidence}
    values = stored_values(submission)
    for field in form.fields:
        if field.evidence_required and values.get(field.id) is not None and field.id not in with_files:
            reasons.append(f"{field.label}：须上传证据材料（化验单、发票或计量照片）")
    return reasons


def submit(session: Session, submission: Submission, user: Any, comment: str | None = None, *,
           scope: OrgScope | None = None) -> Submission:
    """Draft → submitted: every required field filled and valid, evidence attached, period open."""
    _check_scope(scope, submission.organization_id)
    if submission.status != "draft":
        raise WorkflowError(f"只有草稿可以提交（当前：{STATUS_LABELS.get(submission.status, submission.status)}）")
    _refuse_if_locked(session, submission)
    if submission.form_revision != submission.form.revision:
        submission.form_revision = submission.form.revision
    _, errors = validate_values(submission.form, stored_values(submission), complete=True)
    if errors:
        raise ValidationFailed(errors)
    missing = _missing_evidence(submission)
    if missing:
        raise WorkflowError(missing)
    before = submission.status
    submission.status = "submitted"
    submission.submitted_by_id = getattr(user, "id", None)
    submission.submitted_at = dt.datetime.now(dt.UTC)
    submission.reviewed_by_id = None
    submission.reviewed_at = None
    _event(session, submission, "submit", before, user, comment)
    _sign(session, submission, user, "submit")
    session.flush()
    return submission


def _same(user: Any, user_id: int | None) -> bool:
    return user_id is not None and getattr(user, "id", None) == user_id


def review(session: Session, submission: Submission, user: Any, comment: str | None = None, *,
           scope: OrgScope | None = None) -> Submission:
    """Submitted → reviewed (first of two steps); the reviewer is not the submitter."""
    _check_scope(scope, submission.organization_id)
    if submission.form.review_steps < 2:
        raise WorkflowError("该表单只有一级审核，请直接批准")
    if submission.status != "submitted":
        raise WorkflowError(f"只有已提交的填报可以审核（当前：{STATUS_LABELS.get(submission.status)}）")
    if _same(user, submission.submitted_by_id):
        raise WorkflowError("审核人不能是提交人本人")
    before = submission.status
    submission.status = "reviewed"
    submission.reviewed_by_id = getattr(user, "id", None)
    submission.reviewed_at = dt.datetime.now(dt.UTC)
    _event(session, submission, "review", before, user, comment)
    _sign(session, submission, user, "review")
    session.flush()
    return submission


def approve(session: Session, submission: Submission, user: Any, comment: str | None = None, *,
            scope: OrgScope | None = None) -> Submission:
    """Reviewed (or submitted, with one step) → approved; writes the values into activity data."""
    _check_scope(scope, submission.organization_id)
    wanted = "reviewed" if submission.form.review_steps >= 2 else "submitted"
    if submission.status != wanted:
        raise WorkflowError(f"只有{STATUS_LABELS[wanted]}的填报可以批准（当前：{STATUS_LABELS.get(submission.status)}）")
    if _same(user, submission.submitted_by_id):
        raise WorkflowError("批准人不能是提交人本人")
    if _same(user, submission.reviewed_by_id):
        raise WorkflowError("批准人不能是审核人本人（审核与批准须由不同的人完成）")
    _refuse_if_locked(session, submission)
    before = submission.status
    submission.status = "approved"
    submission.approved_by_id = getattr(user, "id", None)
    submission.approved_at = dt.datetime.now(dt.UTC)
    details = materialise(session, submission)
    _event(session, submission, "approve", before, user, comment, details)
    _sign(session, submission, user, "approve")
    session.flush()
    return submission


def reject(session: Session, submission: Submission, user: Any, reason: str, *,
           scope: OrgScope | None = None) -> Submission:
    """Submitted or reviewed → draft, with the reason shown to the submitter."""
    _check_scope(scope, submission.organization_id)
    if submission.status not in ("submitted", "reviewed"):
        raise WorkflowError(f"只有待审核的填报可以驳回（当前：{STATUS_LABELS.get(submission.status)}）")
    if not (reason or "").strip():
        raise WorkflowError("驳回必须填写原因")
    if _same(user, submission.submitted_by_id):
        raise WorkflowError("提交人不能驳回自己的填报；可请审核人驳回")
    before = submission.status
    submission.status = "draft"
    submission.rejection_reason = reason.strip()
    _event(session, submission, "reject", before, user, reason.strip())
    _sign(session, submission, user, "reject")
    session.flush()
    return submission


def add_comment(session: Session, submission: Submission, user: Any, text: str, *,
                scope: OrgScope | None = None) -> None:
    """A comment in the submission's history (any reader of the organisation)."""
    _check_scope(scope, submission.organization_id, write=False)
    if not (text or "").strip():
        raise WorkflowError("评论不能为空")
    _event(session, submission, "comment", submission.status, user, text.strip())
    session.flush()


def start_revision(session: Session, approved: Submission, user: Any, reason: str, *,
                   scope: OrgScope | None = None) -> Submission:
    """A change after approval: a new draft version with the approved values copied."""
    _check_scope(scope, approved.organization_id)
    if approved.status != "approved":
        raise WorkflowError("只有已批准的填报需要创建新版本")
    latest = current_submission(session, approved.form, approved.organization_id, approved.year, approved.period)
    if latest is not None and latest.id != approved.id:
        raise WorkflowError(f"已有更新的版本 v{latest.version}（{STATUS_LABELS.get(latest.status)}）")
    if not (reason or "").strip():
        raise WorkflowError("修改已批准的数据必须填写原因")
    _refuse_if_locked(session, approved)
    draft = Submission(form=approved.form, form_revision=approved.form.revision,
                       organization_id=approved.organization_id, year=approved.year, period=approved.period,
                       version=approved.version + 1, previous_id=approved.id, status="draft",
                       source=approved.source, created_by_id=getattr(user, "id", None))
    for value in approved.values:
        draft.values.append(SubmissionValue(field_id=value.field_id, organization_id=value.organization_id,
                                            value_number=value.value_number, value_text=value.value_text,
                                            unit=value.unit))
    session.add(draft)
    session.flush()
    _event(session, draft, "revise", None, user, reason.strip(), {"previous_id": approved.id})
    return draft


def diff_versions(before: Submission | None, after: Submission) -> list[dict[str, Any]]:
    """Field by field: the values that differ between two versions (for the page and the history)."""
    old = stored_values(before) if before is not None else {}
    new = stored_values(after)
    rows = []
    for field in after.form.fields:
        a, b = old.get(field.id), new.get(field.id)
        if a != b:
            rows.append({"field_id": field.id, "code": field.code, "label": field.label, "unit": field.unit,
                         "before": a, "after": b,
                         "change": (b - a) if isinstance(a, float) and isinstance(b, float) else None})
    return rows


# --- approval into activity data ---------------------------------------------------------------

def materialise(session: Session, submission: Submission) -> dict[str, Any]:
    """Write an approved submission's values into ``mm_activity``; returns what changed.

    One activity row per binding with a quantity: organisation, sub-process, material and category
    from the binding, the quantity in the field's unit (accounting converts), measured parameters
    from the binding's other fields. Rows of earlier versions of the same form, node and period are
    replaced, and so is any other row of the same binding key and month (an approved form is the
    newer data); the replaced row ids are returned for the history.
    """
    form = submission.form
    month = activity_month(form.granularity, submission.year, submission.period)
    values = stored_values(submission)
    per_binding: dict[int, dict[str, Any]] = {}
    for field in form.fields:
        if field.binding_id is None or field.parameter == "note":
            continue
        value = values.get(field.id)
        if not isinstance(value, float):
            continue
        entry = per_binding.setdefault(field.binding_id, {"binding": field.binding})
        if field.parameter == "quantity":
            entry["quantity"], entry["unit"] = value, field.unit or field.binding.material.unit
        else:
            entry[PARAMETER_COLUMNS[field.parameter]] = value
    earlier = select(Submission.id).where(
        Submission.form_id == form.id, Submission.organization_id == submission.organization_id,
        Submission.year == submission.year, Submission.period == submission.period,
        Submission.id != submission.id)
    replaced: list[int] = list(session.execute(
        select(ActivityRecord.id).where(ActivityRecord.submission_id.in_(earlier))).scalars())
    for entry in per_binding.values():
        binding = entry["binding"]
        replaced += session.execute(select(ActivityRecord.id).where(
            ActivityRecord.subprocess_id == binding.subprocess_id, ActivityRecord.material_id == binding.material_id,
            ActivityRecord.category == binding.category, ActivityRecord.month == month)).scalars().all()
    replaced = sorted(set(replaced))
    if replaced:
        for row in session.execute(select(ActivityRecord).where(ActivityRecord.id.in_(replaced))).scalars():
            session.delete(row)  # ORM deletes: the audit trail records each replaced row
        session.flush()
    created = []
    for binding_id, entry in per_binding.items():
        if "quantity" not in entry:
            continue  # parameters without a quantity describe nothing to account
        binding = entry["binding"]
        row = ActivityRecord(
            organization_id=binding.organization_id, subprocess_id=binding.subprocess_id,
            material_id=binding.material_id, category=binding.category, month=month,
            quantity=entry["quantity"], unit=entry["unit"], source=submission.source if submission.source in
            ("form", "excel", "package", "api") else "form", submission_id=submission.id, binding_id=binding_id,
            **{col: entry.get(col) for col in PARAMETER_COLUMNS.values()})
        session.add(row)
        created.append(row)
    previous = session.execute(select(Submission).where(earlier.whereclause, Submission.status == "approved")
                               ).scalars().all()
    for old in previous:
        old.status = "superseded"
    session.flush()
    return {"activity_created": [r.id for r in created], "activity_replaced": replaced,
            "superseded": [s.id for s in previous], "month": month}


def delete_activity_of(session: Session, submission_ids: Iterable[int]) -> int:
    """Remove activity rows of the given submissions (used by tests and tools)."""
    ids = list(submission_ids)
    if not ids:
        return 0
    result = session.execute(delete(ActivityRecord).where(ActivityRecord.submission_id.in_(ids)))
    return int(result.rowcount or 0)


# --- what is due -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DueItem:
    """A form a user should fill for a period, with its state."""

    form_id: int
    form_name: str
    organization_id: int
    organization_name: str
    year: int
    period: int
    label: str
    due_date: dt.date
    status: str  # none | draft | submitted | reviewed | approved
    status_label: str
    submission_id: int | None
    version: int | None
    overdue: bool
    rejection_reason: str | None


def due_date(granularity: str, year: int, period: int, due_day: int) -> dt.date:
    """The ``due_day`` of the month after the period ends."""
    last = months_of(granularity, period)[-1] if granularity != "year" else 12
    month, y = (last + 1, year) if last < 12 else (1, year + 1)
    return dt.date(y, month, min(max(due_day, 1), 28))


def periods_until(granularity: str, year: int, today: dt.date) -> list[int]:
    """Periods of ``year`` that have started by ``today`` (all of them for a past year)."""
    if granularity == "year":
        return [0] if year <= today.year else []
    count = 12 if granularity == "month" else 4
    if year < today.year:
        return list(range(1, count + 1))
    if year > today.year:
        return []
    current = today.month if granularity == "month" else (today.month - 1) // 3 + 1
    return list(range(1, current + 1))


def forms_due(session: Session, scope: OrgScope, year: int, today: dt.date | None = None,
              writable_only: bool = True) -> list[DueItem]:
    """Every active form in the caller's scope and every period of ``year`` up to today, with status."""
    today = today or dt.date.today()
    forms = session.execute(select(FormDefinition).where(FormDefinition.active.is_(True))
                            .order_by(FormDefinition.id)).scalars().all()
    items: list[DueItem] = []
    for form in forms:
        allowed = scope.can_write(form.organization_id) if writable_only else scope.can_read(form.organization_id)
        if not allowed:
            continue
        latest: dict[int, Submission] = {}
        for sub in session.execute(select(Submission).where(
                Submission.form_id == form.id, Submission.organization_id == form.organization_id,
                Submission.year == year).order_by(Submission.version)).scalars():
            latest[sub.period] = sub
        for period in periods_until(form.granularity, year, today):
            sub = latest.get(period)
            status = sub.status if sub else "none"
            due = due_date(form.granularity, year, period, form.due_day)
            items.append(DueItem(form.id, form.name, form.organization_id, form.organization.name, year, period,
                                 period_label(form.granularity, year, period), due, status,
                                 STATUS_LABELS.get(status, status), sub.id if sub else None,
                                 sub.version if sub else None, status != "approved" and today > due,
                                 sub.rejection_reason if sub and sub.status == "draft" else None))
    items.sort(key=lambda i: (i.status == "approved", i.due_date, i.form_id))
    return items
