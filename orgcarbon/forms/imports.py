"""Imports (导入) of filled Excel templates and activity packages: keep, validate all, write all or nothing.

One way through: ``receive`` keeps the uploaded file by SM3 (``evidence.store_file``) and records
an ``ImportBatch`` whatever happens next; ``run_import`` (in the request, or as the task
``orgcarbon.forms.import`` for a long file) validates every row, then either writes everything in
one transaction or writes nothing and keeps an annotated copy of the workbook beside the original.
A file whose SM3 was already imported for the same form and organisation is refused as a
duplicate, so importing twice creates nothing new; a batch left ``running`` by a dead worker or
``failed`` can be run again (``prepare_resume``), which is safe for the same reasons.

Values are bulk-inserted with one Core statement (an ORM object per value took most of the time of
a large import); the audit listener sees ORM flushes only, so one audit entry per batch records the
values written and those replaced, while the drafts, their history events and the batch itself go
through the ORM and are audited row by row.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, joinedload, object_session

from orgcarbon.forms import service
from orgcarbon.forms.evidence import store_file, verify_file
from orgcarbon.forms.excel import DATA_SHEET, FieldSpec, FormSpec, PeriodSpec, build_template
from orgcarbon.forms.excel_check import (
    CellIssue,
    WorkbookCheck,
    WorkbookRefused,
    annotate,
    check_workbook,
    count_rows,
)
from orgcarbon.forms.models import (
    FormDefinition,
    ImportBatch,
    SubmissionValue,
    WorkflowEvent,
    utcnow,
)
from orgcarbon.forms.periods import WorkflowError, locked_months
from orgcarbon.metamodel.models import SubProcess
from orgcarbon.metamodel.versioned import Binding
from orgcarbon.security.audit import acting_as, current_actor, write_chained
from orgcarbon.security.scope import OrgScope, org_scope

log = logging.getLogger(__name__)

STATUS_LABELS = {"pending": "等待导入", "running": "正在导入", "done": "已导入", "rejected": "未通过校验，未导入",
                 "failed": "导入出错"}
KIND_LABELS = {"excel": "Excel 模板", "package": "活动数据包"}
FINAL = ("done", "rejected")
MAX_IMPORT_BYTES = 50 * 1024 * 1024
MAX_STORED_ERRORS = 1000  # the page shows these; the annotated workbook holds every one
PROGRESS_EVERY = 5000  # rows between progress reports...
PROGRESS_SECONDS = 1.0  # ...and at most one committed report a second (each commit costs a disk sync)
ANNOTATE_MAX_ROWS = 200_000  # openpyxl holds a whole workbook in memory to annotate it; beyond this, the list only


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _when(value: dt.datetime | None) -> str:
    aware = _aware(value)
    return aware.astimezone().strftime("%Y-%m-%d %H:%M") if aware else "—"


# --- the form as plain values, and its template ------------------------------------------------------

def form_spec(form: FormDefinition) -> FormSpec:
    """What the template and its check need of ``form``, as plain values."""
    from orgcarbon.forms.definitions import DATA_TYPE_LABELS, PARAMETER_LABELS

    session = object_session(form)
    assert session is not None
    # Sections and bindings in two queries, not one lazy load per field (forms run to thousands of fields).
    sections = {s.id: s.name for s in form.sections}
    binding_ids = {f.binding_id for f in form.fields if f.binding_id is not None}
    bindings = {b.id: (f"{b.subprocess.main_process.name}/{b.subprocess.name}", b.material.name)
                for b in session.scalars(select(Binding).where(Binding.id.in_(binding_ids)).options(
                    joinedload(Binding.subprocess).joinedload(SubProcess.main_process),
                    joinedload(Binding.material)))} if binding_ids else {}
    fields = []
    for f in form.fields:
        place, material = bindings.get(f.binding_id, ("", "")) if f.binding_id is not None else ("", "")
        fields.append(FieldSpec(
            id=f.id, code=f.code, label=f.label, unit=f.unit, data_type=f.data_type, choices=tuple(f.choice_list()),
            required=bool(f.required), min_value=f.min_value, max_value=f.max_value,
            allow_negative=bool(f.allow_negative), rule=f.rule, rule_message=f.rule_message, help_text=f.help_text,
            section=sections.get(f.section_id, "") if f.section_id is not None else "", place=place,
            material=material, parameter_label=PARAMETER_LABELS.get(f.parameter, f.parameter),
            type_label=DATA_TYPE_LABELS.get(f.data_type, f.data_type)))
    return FormSpec(form.id, form.code, form.name, form.revision, form.organization_id, form.organization.name,
                    form.granularity, tuple(fields))


def all_periods(granularity: str) -> list[int]:
    """Every period number of a year for the granularity."""
    return {"month": list(range(1, 13)), "quarter": [1, 2, 3, 4]}.get(granularity, [0])


def _blocked(session: Session, form: FormDefinition, year: int) -> dict[int, str]:
    """Periods of ``year`` that an import cannot change, with the reason (closed, under review, approved)."""
    closed = locked_months(session, form.organization_id, year)
    reasons: dict[int, str] = {}
    for period in all_periods(form.granularity):
        label = service.period_label(form.granularity, year, period)
        months = [m for m in service.months_of(form.granularity, period) if m in closed]
        current = service.current_submission(session, form, form.organization_id, year, period)
        if months:
            reasons[period] = (f"期间 {'、'.join(f'{year}-{m:02d}' for m in months)} 已关闭，不能导入；"
                               "如需修改请先申请重新开放")
        elif current is not None and current.status in ("submitted", "reviewed"):
            waiting = "已提交，等待审核" if current.status == "submitted" else "已审核，等待批准"
            reasons[period] = f"{label} 的填报{waiting}，不能通过导入修改；如需修改请审核人驳回"
        elif current is not None and current.status == "approved":
            reasons[period] = (f"{label} 的填报已批准（第 {current.version} 版），不能通过导入修改；"
                               "请先在填报页面创建新版本")
    return reasons


def template_for(session: Session, form: FormDefinition, year: int, periods: Sequence[int] | None = None) -> bytes:
    """The Excel template of ``form`` for ``year`` (all its periods, or ``periods``), pre-filled from drafts."""
    chosen = [p for p in all_periods(form.granularity) if periods is None or p in periods]
    if not chosen:
        raise WorkflowError("请至少选择一个期间")
    blocked = _blocked(session, form, year)
    specs = [PeriodSpec(p, service.period_label(form.granularity, year, p),
                        service.due_date(form.granularity, year, p, form.due_day), blocked.get(p)) for p in chosen]
    values: dict[tuple[int, int], Any] = {}
    for p in chosen:
        current = service.current_submission(session, form, form.organization_id, year, p)
        if current is not None and current.status == "draft":
            for field_id, value in service.stored_values(current).items():
                values[(p, field_id)] = value
    return build_template(form_spec(form), year, specs, values)


# --- receiving a file ------------------------------------------------------------------------------

def previous_batch(session: Session, batch: ImportBatch, statuses: Sequence[str]) -> ImportBatch | None:
    """An earlier batch of the same content, kind, form and organisation in one of ``statuses``."""
    query = select(ImportBatch).where(
        ImportBatch.sm3 == batch.sm3, ImportBatch.kind == batch.kind,
        ImportBatch.organization_id == batch.organization_id, ImportBatch.status.in_(statuses))
    query = query.where(ImportBatch.form_id.is_(None) if batch.form_id is None else ImportBatch.form_id == batch.form_id)
    if batch.id is not None:
        query = query.where(ImportBatch.id != batch.id)
    return session.execute(query.order_by(ImportBatch.id).limit(1)).scalar_one_or_none()


def duplicate_message(done: ImportBatch) -> str:
    """The refusal of a file already imported."""
    return f"该文件已于 {_when(done.finished_at or done.created_at)} 导入（批次 #{done.id}），未重复导入"


def receive(session: Session, instance_path: str | os.PathLike[str], *, kind: str, filename: str, content: bytes,
            organization_id: int, user: Any, form: FormDefinition | None = None,
            scope: OrgScope | None = None, stale_minutes: int = 10) -> ImportBatch:
    """Keep an uploaded file and record its batch (committed); a duplicate is recorded as refused.

    Refuses (``WorkflowError``, nothing kept) only what cannot be kept at all: no file, a file over
    the size limit, an organisation outside the caller's scope.
    """
    name = Path(filename or "").name.strip()
    if not name or not content:
        raise WorkflowError("请选择要上传的文件")
    if len(content) > MAX_IMPORT_BYTES:
        raise WorkflowError(f"文件“{name}”超过 {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    if scope is not None and not scope.can_write(organization_id):
        raise WorkflowError("无权向该组织导入数据")
    stored = store_file(instance_path, "imports", name, content)
    batch = ImportBatch(kind=kind, form_id=form.id if form is not None else None, organization_id=organization_id,
                        filename=name, sm3=stored.sm3, size=stored.size, stored_path=stored.relative_path,
                        status="pending", created_by_id=getattr(user, "id", None))
    done = previous_batch(session, batch, ("done",))
    busy = None if done else previous_batch(session, batch, ("pending", "running"))
    if done is not None:
        batch.status, batch.message, batch.finished_at = "rejected", duplicate_message(done), utcnow()
    elif busy is not None:
        batch.status, batch.finished_at = "rejected", utcnow()
        batch.message = (f"该文件的导入（批次 #{busy.id}）已中断，请在导入记录中点“继续”，未重复导入"
                         if is_stale(busy, stale_minutes) else
                         f"该文件正在导入（批次 #{busy.id}），请等待其完成后查看结果，未重复导入")
    elif kind == "excel":
        batch.total_rows = count_rows(content)
    else:
        from orgcarbon.forms.package_import import count_records

        batch.total_rows = count_records(name, content)
    session.add(batch)
    session.commit()
    return batch


# --- running a batch -------------------------------------------------------------------------------

def progress(session: Session, batch_id: int, done: int, message: str | None = None) -> None:
    """Record progress (and the heartbeat) in its own commit, so that the page sees it."""
    values: dict[str, Any] = {"done_rows": done, "finished_at": utcnow()}
    if message is not None:
        values["message"] = message
    session.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(**values))
    session.commit()


class _Throttled:
    """The progress callback of a check: commits a report at most every ``PROGRESS_SECONDS``."""

    def __init__(self, session: Session, batch_id: int) -> None:
        self.session, self.batch_id, self.last = session, batch_id, 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_SECONDS:
            self.last = now
            progress(self.session, self.batch_id, done)


def original_bytes(instance_path: str | os.PathLike[str], batch: ImportBatch) -> bytes:
    """The kept file, checked against its SM3 digest first."""
    if not verify_file(instance_path, batch.stored_path, batch.sm3):
        raise WorkflowError("保存的原始文件缺失或与记录的 SM3 摘要不符，请重新上传")
    return (Path(instance_path) / batch.stored_path).read_bytes()


def user_and_scope(session: Session, batch: ImportBatch) -> tuple[Any, OrgScope | None]:
    """The uploader and their data scope (None for a batch without one: a trusted caller)."""
    user = session.get(User, batch.created_by_id) if batch.created_by_id is not None else None
    return user, (org_scope(user, session) if user is not None else None)


def run_import(session: Session, instance_path: str | os.PathLike[str], batch_id: int) -> ImportBatch | None:
    """Validate and write one batch as the user who uploaded it; the outcome is stored on it
    (done, rejected or failed)."""
    batch = session.get(ImportBatch, batch_id)
    if batch is None or batch.status in FINAL:
        return batch
    uploader = batch.created_by
    # Outside a request (a worker, the CLI) the audit trail names the uploader, not "system".
    with acting_as(uploader.username if uploader else "task:import", uploader.id if uploader else None):
        _run(session, instance_path, batch)
    return session.get(ImportBatch, batch_id)


def _run(session: Session, instance_path: str | os.PathLike[str], batch: ImportBatch) -> None:
    batch_id = batch.id
    batch.status, batch.done_rows, batch.finished_at = "running", 0, utcnow()
    batch.message, batch.errors, batch.error_count, batch.report_path = "正在校验", None, 0, None
    session.commit()
    try:
        if batch.kind == "package":
            from orgcarbon.forms.package_import import run_package

            run_package(session, instance_path, batch)
        else:
            _run_workbook(session, instance_path, batch)
    except WorkflowError as exc:
        session.rollback()
        reject(session, instance_path, batch_id, [CellIssue("", None, "", "", None, r) for r in exc.reasons])
    except Exception as exc:
        session.rollback()
        log.exception("import %s failed", batch_id)
        failed = session.get(ImportBatch, batch_id)
        if failed is not None:
            failed.status, failed.finished_at = "failed", utcnow()
            failed.message = f"导入出错（未写入任何数据，可点“继续”重试）：{type(exc).__name__}: {exc}"[:2000]
            session.commit()


def reject(session: Session, instance_path: str | os.PathLike[str], batch_id: int, issues: Sequence[CellIssue],
           content: bytes | None = None, message: str | None = None) -> None:
    """Store the refusal: the problems, their count and the annotated workbook beside the original."""
    batch = session.get(ImportBatch, batch_id)
    assert batch is not None
    report = None
    if content is not None and any(i.row for i in issues) and count_rows(content) <= ANNOTATE_MAX_ROWS:
        report = annotate(content, issues)
    if report is not None:
        stem = Path(batch.filename).stem
        batch.report_path = store_file(instance_path, "imports", f"{stem}-错误标注.xlsx", report).relative_path
    batch.status, batch.finished_at = "rejected", utcnow()
    batch.errors = [i.as_dict() for i in issues[:MAX_STORED_ERRORS]]
    batch.error_count = len(issues)
    whole = [i.reason for i in issues if i.row is None and not i.field]
    batch.message = message or ("；".join(whole) if whole and len(whole) == len(issues)
                                else f"发现 {len(issues)} 处错误，未导入任何数据")
    session.commit()


def _parse(spec: FieldSpec, raw: Any) -> tuple[Any, str | None]:
    # FieldSpec carries FormField's attribute names, so the form's own rules apply unchanged.
    return service.parse_value(spec, raw)  # type: ignore[arg-type]


def _state_issues(session: Session, form: FormDefinition, check: WorkbookCheck,
                  scope: OrgScope | None) -> list[CellIssue]:
    """What the database forbids: an inactive form, the scope, closed periods, data under review or approved."""
    if not form.active:
        return [CellIssue("", None, "", "", None, f"表单“{form.name}”已停用，不能导入")]
    if scope is not None and not scope.can_write(form.organization_id):
        return [CellIssue("", None, "", "", None, "无权向该组织导入数据")]
    assert check.year is not None
    blocked = _blocked(session, form, check.year)
    return [CellIssue(DATA_SHEET, row, "A", "", service.period_label(form.granularity, check.year, period),
                      blocked[period]) for period, row in sorted(check.first_row.items()) if period in blocked]


def _run_workbook(session: Session, instance_path: str | os.PathLike[str], batch: ImportBatch) -> None:
    batch_id = batch.id
    content = original_bytes(instance_path, batch)
    form = session.get(FormDefinition, batch.form_id)
    if form is None:
        raise WorkflowError("导入对应的表单已不存在")
    spec = form_spec(form)
    user, scope = user_and_scope(session, batch)
    try:
        check = check_workbook(spec, content, _parse, progress=_Throttled(session, batch_id), every=PROGRESS_EVERY)
    except WorkbookRefused as exc:
        reject(session, instance_path, batch_id, [CellIssue("", None, "", "", None, str(exc))])
        return
    issues = check.issues + _state_issues(session, form, check, scope)
    if issues:
        reject(session, instance_path, batch_id, sorted(issues, key=lambda i: (i.row or 0, i.column)), content)
        return
    if not check.rows:
        reject(session, instance_path, batch_id, [CellIssue("", None, "", "", None, "文件中没有填写任何数值，未导入")])
        return
    progress(session, batch_id, check.data_rows, "正在写入")
    write_values(session, batch_id, form, spec, check, user, scope)


def lock_for_write(session: Session, batch_id: int, form_id: int | None) -> None:
    """Take the write lock first: imports of one form take turns, so the duplicate check below holds."""
    session.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(finished_at=utcnow()))
    if form_id is not None:
        session.execute(select(FormDefinition.id).where(FormDefinition.id == form_id).with_for_update())


def write_values(session: Session, batch_id: int, form: FormDefinition, spec: FormSpec, check: WorkbookCheck,
                 user: Any, scope: OrgScope | None) -> None:
    """Create or update one draft per period and store every value, all in one transaction."""
    lock_for_write(session, batch_id, form.id)
    batch = session.get(ImportBatch, batch_id)
    assert batch is not None and check.year is not None
    if (done := previous_batch(session, batch, ("done",))) is not None:
        raise WorkflowError(duplicate_message(done))  # run_import rolls back and records the refusal
    units = {f.id: f.unit for f in spec.fields}
    codes = {f.id: f.code for f in spec.fields}
    by_period: dict[int, list[Any]] = {}
    for row in check.rows:
        by_period.setdefault(row.period, []).append(row)
    now, submission_ids, replaced = utcnow(), [], {}
    for period, rows in sorted(by_period.items()):
        draft = service.get_or_create_draft(session, form, form.organization_id, check.year, period, user,
                                            source="excel", import_id=batch_id, scope=scope)
        draft.source, draft.import_id, draft.form_revision, draft.updated_at = "excel", batch_id, form.revision, now
        old = session.execute(select(SubmissionValue.field_id, SubmissionValue.value_number,
                                     SubmissionValue.value_text).where(SubmissionValue.submission_id == draft.id)).all()
        if old:
            replaced[str(draft.id)] = {codes.get(f, str(f)): n if n is not None else t for f, n, t in old}
            session.execute(delete(SubmissionValue).where(SubmissionValue.submission_id == draft.id))
        insert_values(session, [
            (draft.id, r.field_id, form.organization_id, r.value if isinstance(r.value, float) else None,
             r.value if isinstance(r.value, str) else None, units.get(r.field_id), r.row) for r in rows])
        session.expire(draft, ["values"])
        notes = {codes[r.field_id]: r.note for r in rows if r.note}
        session.add(WorkflowEvent(
            submission=draft, organization_id=draft.organization_id, action="import", from_status=draft.status,
            to_status=draft.status, user_id=getattr(user, "id", None), user_name=getattr(user, "username", None),
            comment=f"Excel 导入（批次 #{batch_id}，{batch.filename}）",
            details={"import_id": batch_id, "values": len(rows), "replaced": len(old), **({"notes": notes} if notes
                                                                                       else {})}))
        submission_ids.append(draft.id)
    labels = "、".join(service.period_label(form.granularity, check.year, p) for p in sorted(by_period))
    batch.status, batch.finished_at, batch.done_rows = "done", utcnow(), check.data_rows
    batch.total_rows, batch.created_count, batch.submission_ids = check.data_rows, len(check.rows), submission_ids
    batch.message = f"已导入 {len(check.rows)} 个数值到 {len(submission_ids)} 份草稿（{labels}）"
    session.flush()
    _audit_values(session, batch, submission_ids, len(check.rows), replaced)
    session.commit()


VALUE_COLUMNS = ("submission_id", "field_id", "organization_id", "value_number", "value_text", "unit", "import_row")


def insert_values(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert value rows (``VALUE_COLUMNS`` order) in the session's transaction.

    Core on the table, not the ORM entity (whose bulk path still builds a state per row); on
    PostgreSQL with psycopg a ``COPY``, several times faster than an ``INSERT`` executemany there.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        raw = connection.connection.driver_connection
        assert raw is not None
        statement = f"COPY {SubmissionValue.__tablename__} ({', '.join(VALUE_COLUMNS)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    session.execute(insert(SubmissionValue.__table__), [dict(zip(VALUE_COLUMNS, row, strict=True)) for row in rows])


def _audit_values(session: Session, batch: ImportBatch, submission_ids: list[int], count: int,
                  replaced: dict[str, dict[str, Any]]) -> None:
    """One audit entry for the bulk-inserted values (the listener only sees ORM flushes)."""
    actor = current_actor()
    write_chained(session.connection(), [{
        "occurred_at": utcnow(), "user_id": actor.user_id, "username": actor.username, "ip": actor.ip,
        "action": "insert", "table_name": SubmissionValue.__tablename__, "row_id": None,
        "before": {"replaced_values": replaced} if replaced else None,
        "after": {"import_id": batch.id, "sm3": batch.sm3, "filename": batch.filename,
                  "submission_ids": submission_ids, "values": count},
    }])


# --- resuming ---------------------------------------------------------------------------------------

def is_stale(batch: ImportBatch, stale_minutes: int, now: dt.datetime | None = None) -> bool:
    """True when a pending or running batch has reported no progress for ``stale_minutes``."""
    if batch.status not in ("pending", "running"):
        return False
    last = _aware(batch.finished_at or batch.created_at)
    return last is not None and (now or utcnow()) - last > dt.timedelta(minutes=stale_minutes)


def resumable(batch: ImportBatch, stale_minutes: int, now: dt.datetime | None = None) -> bool:
    """Failed, or left running by a worker that stopped: running it again is safe (all or nothing)."""
    return batch.status == "failed" or is_stale(batch, stale_minutes, now)


def prepare_resume(session: Session, batch: ImportBatch, user: Any, stale_minutes: int,
                   scope: OrgScope | None = None) -> ImportBatch:
    """Put a failed or stalled batch back to pending (committed); the caller starts it again."""
    if scope is not None and not scope.can_write(batch.organization_id):
        raise WorkflowError("无权操作该组织的导入")
    if not resumable(batch, stale_minutes):
        raise WorkflowError(f"只有出错或超过 {stale_minutes} 分钟没有进展的导入可以继续"
                            f"（当前：{STATUS_LABELS.get(batch.status, batch.status)}）")
    batch.status, batch.done_rows, batch.finished_at = "pending", 0, utcnow()
    batch.message = f"{getattr(user, 'username', '')} 于 {_when(utcnow())} 继续导入"
    session.commit()
    return batch


# --- reading batches --------------------------------------------------------------------------------

def batch_dict(batch: ImportBatch, stale_minutes: int) -> dict[str, Any]:
    """A batch as JSON (the API and the progress bar)."""
    total = batch.total_rows or 0
    done = min(batch.done_rows or 0, total) if total else (batch.done_rows or 0)
    percent = 100 if batch.status in FINAL or batch.status == "failed" else (int(done * 100 / total) if total else 0)
    return {
        "id": batch.id, "kind": batch.kind, "kind_label": KIND_LABELS.get(batch.kind, batch.kind),
        "form_id": batch.form_id, "form": batch.form.name if batch.form else None,
        "organization_id": batch.organization_id, "organization": batch.organization.name,
        "filename": batch.filename, "sm3": batch.sm3, "size": batch.size, "status": batch.status,
        "status_label": STATUS_LABELS.get(batch.status, batch.status), "total_rows": total, "done_rows": done,
        "percent": percent, "error_count": batch.error_count, "errors": batch.errors or [],
        "message": batch.message, "created_count": batch.created_count, "submission_ids": batch.submission_ids or [],
        "created_by": batch.created_by.username if batch.created_by else None,
        "created_at": _aware(batch.created_at).isoformat() if batch.created_at else None,  # type: ignore[union-attr]
        "finished_at": _aware(batch.finished_at).isoformat() if batch.finished_at else None,  # type: ignore[union-attr]
        "has_report": bool(batch.report_path), "resumable": resumable(batch, stale_minutes),
        "final": batch.status in (*FINAL, "failed"),
    }


def visible_batches(session: Session, scope: OrgScope, *, user_id: int | None = None, limit: int = 200,
                    ) -> list[ImportBatch]:
    """Batches of organisations the caller may read (only ``user_id``'s when given), newest first."""
    query = select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)
    if scope.readable is not None:
        query = query.where(ImportBatch.organization_id.in_(sorted(scope.readable)))
    if user_id is not None:
        query = query.where(ImportBatch.created_by_id == user_id)
    return list(session.execute(query).scalars())
