"""Render a queued report: the run's result → context → file(s) → signed, stored ``ReportFile`` rows.

The engine ``Result`` of a stored run is recomputed from the run's own inputs: its organisation
subtree and year, its model version, its grid EF and — through ``recalc.pinned_library`` — the
exact factor versions it used. The recomputation must reproduce the run (same inputs digest, same
factor versions, same totals to 0.005 t), otherwise nothing is rendered: a report never shows
figures other than the stored run's.

Progress is committed at each step (10 % context, 50 % rendered, 70 % PDF, 90 % signed, 100 %
done) so a page can poll it. Files are written and rows added only once every step succeeded; a
failure leaves the report ``failed`` with a Chinese message and no file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.accounting.models import AccountingRun
from orgcarbon.report_templates.builtin import BUILTIN
from orgcarbon.report_templates.context import ReportInfo, build_context
from orgcarbon.report_templates.environment import RenderError
from orgcarbon.report_templates.generate import render_template
from orgcarbon.reports.models import Report, ReportFile
from orgcarbon.reports.service import KIND_TITLES, ReportRefused, draft_reasons, report_kind
from orgcarbon.rules.results import Result
from orgcarbon.security.models import utcnow

MEDIA_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".pdf": "application/pdf",
}
TOLERANCE_T = 0.005  # a recomputation must match the stored totals to this (reports show 0.01 t)
FOLDER = "reports"  # under the instance folder, files kept by SM3
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


@dataclass
class Rendered:
    """One file ready to be signed and stored."""

    filename: str
    content: bytes

    @property
    def media_type(self) -> str:
        """MIME type by extension."""
        return MEDIA_TYPES.get(Path(self.filename).suffix.lower(), "application/octet-stream")


# --- The run's result ------------------------------------------------------------------------------


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(float(a) - float(b)) <= TOLERANCE_T


def run_result(session: Session, run: AccountingRun) -> tuple[list[Any], Result]:
    """(activity rows, engine result) reproducing ``run`` exactly; ``ReportRefused`` if it cannot."""
    from orgcarbon.accounting.command import AccountingRefused, AccountOrganisation
    from orgcarbon.accounting.loader import inputs_digest
    from orgcarbon.accounting.recalc import pinned_library

    command = AccountOrganisation(session, run.organization_id, run.year, run.model_id, run.electricity_ef,
                                  library=pinned_library(session, run))
    try:
        _, model, rows, _, result = command.compute()
    except AccountingRefused as exc:
        raise ReportRefused(*(f"无法重现核算结果 #{run.id}：{reason}" for reason in exc.reasons)) from exc
    if inputs_digest(rows, run.factor_versions or {}, model, run.electricity_ef) != run.inputs_digest:
        raise ReportRefused(f"核算结果 #{run.id} 计算之后活动数据已变化，报告无法再现该核算结果；"
                            "请先重算（核算结果 → 重述 → 重算数据或模型已变化的结果），再为新的核算结果生成报告")
    used = {f.id: f.version for f in result.factors_used}
    categories = run.by_category or {}
    same = (used == (run.factor_versions or {}) and _close(result.total_tco2, run.total_tco2)
            and _close(result.direct_tco2, run.direct_tco2) and _close(result.indirect_tco2, run.indirect_tco2)
            and all(_close(result.by_category.get(k, 0.0), v) for k, v in categories.items())
            and len(result.lines) + len(result.products) == run.line_count)
    if not same:
        raise ReportRefused(f"重现的核算结果与核算结果 #{run.id} 不一致（排放总量 {result.total_tco2:,.2f} / "
                            f"{(run.total_tco2 or 0):,.2f} tCO2），未生成报告")
    return rows, result


def activity_sources(session: Session, rows: list[Any]) -> dict[str, str]:
    """``row:<n>`` → where the n-th activity row came from (form submission, import, demo data)."""
    from orgcarbon.accounting.explain import SOURCE_NAMES
    from orgcarbon.metamodel.models import ActivityRecord

    ids = [r.id for r in rows]
    origin: dict[int, tuple[str, int | None]] = {}
    for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        query = select(ActivityRecord.id, ActivityRecord.source, ActivityRecord.submission_id).where(
            ActivityRecord.id.in_(ids[start:start + 900]))
        origin.update({i: (s or "demo", sub) for i, s, sub in session.execute(query)})
    sources = {}
    for n, row in enumerate(rows, start=1):
        source, submission = origin.get(row.id, ("demo", None))
        text = SOURCE_NAMES.get(source, source)
        text += f"（填报 #{submission}，活动记录 {row.id}）" if submission else f"（活动记录 {row.id}）"
        sources[f"row:{n}"] = text
    return sources


def report_info(session: Session, run: AccountingRun, rows: list[Any]) -> ReportInfo:
    """Who reports and for when, from the organisation node; sources and traceability note."""
    org = run.organization
    note = (f"本报告根据平台核算结果 #{run.id} 生成（核算模型“{run.model.name}”第 {run.model_version} 版，"
            f"输入数据摘要 {(run.inputs_digest or '')[:16]}…）。")
    return ReportInfo(
        org_name=org.name, period_start=dt.date(run.year, 1, 1), period_end=dt.date(run.year, 12, 31),
        org_code=org.uscc or "", org_address=org.address or "", legal_representative=org.legal_representative or "",
        contact_person=org.contact_name or "", contact_phone=org.contact_phone or "",
        compile_date=dt.date.today(), activity_sources=activity_sources(session, rows), explanations=(note,),
    )


# --- Rendering -------------------------------------------------------------------------------------


def template_file(instance_path: str, report: Report) -> tuple[bytes, str]:
    """The template's bytes and file name (an activated version, else the built-in)."""
    if report.template_version is not None:
        from orgcarbon.reports import templates_service

        try:
            return templates_service.template_bytes(instance_path, report.template_version), \
                report.template_version.filename
        except ValueError as exc:  # TemplateRefused: missing or changed file
            raise ReportRefused(str(exc)) from exc
    path = BUILTIN[report.builtin_name or "gbt32151.5-report"][0]
    return path.read_bytes(), path.name


def output_name(report: Report, run: AccountingRun, suffix: str) -> str:
    """``华钢集团-2024年度温室气体排放报告-R12.docx`` (no path separators or spaces)."""
    org = _UNSAFE.sub("_", run.organization.name)
    return f"{org}-{run.year}年度{KIND_TITLES[report_kind(report)]}-R{report.id}{suffix}"


def _step(session: Session, report_id: int, progress: int, message: str, **values: Any) -> Report:
    """Record progress and commit, so a page polling the report sees it."""
    report = session.get(Report, report_id)
    assert report is not None
    report.progress, report.message = progress, message
    for key, value in values.items():
        setattr(report, key, value)
    session.commit()
    return report


def _render_files(session: Session, instance_path: str, report: Report, run: AccountingRun,
                  step: Callable[..., Report]) -> tuple[list[Rendered], list[str], list[str]]:
    """Context, template, PDF: the files to sign, the draft reasons and the notes for the user."""
    from orgcarbon.reports.pdf import PdfError, docx_to_pdf, pdf_converter

    rows, result = run_result(session, run)
    reasons = draft_reasons(session, run)
    context = build_context(result, report_info(session, run, rows), draft=bool(reasons))
    step(10, "已生成报告数据，正在套用模板")
    template, name = template_file(instance_path, report)
    try:
        rendered = render_template(template, name, context)
    except RenderError as exc:
        raise ReportRefused(f"模板“{name}”生成失败：{exc}") from exc
    suffix = Path(name).suffix.lower()
    files = [Rendered(output_name(report, run, suffix), rendered.content)]
    notes = list(rendered.warnings)
    step(50, "已生成报告文件")
    if report.want_pdf and suffix == ".docx":
        if pdf_converter() is None:
            notes.append("未安装 LibreOffice，未生成 PDF")
        else:
            try:
                files.append(Rendered(output_name(report, run, ".pdf"), docx_to_pdf(rendered.content)))
            except PdfError as exc:
                notes.append(str(exc))
        step(70, "PDF 转换完成" if len(files) > 1 else "已跳过 PDF")
    return files, reasons, notes


def _store_signed(session: Session, instance_path: str, report: Report, run: AccountingRun,
                  files: list[Rendered], user: Any, written: list[Path]) -> None:
    """Add a signed ``ReportFile`` per file and write the files; ``written`` collects the paths
    this call created (removed again by the caller if anything fails)."""
    from orgcarbon.forms.evidence import store_file
    from orgcarbon.reports.verify import sign_report_file
    from orgcarbon.security.crypto import sm3_hex

    for item in files:
        digest = sm3_hex(item.content)
        target = Path(instance_path) / FOLDER / digest[:2] / f"{digest}{Path(item.filename).suffix.lower()}"
        existed = target.exists()
        stored = store_file(instance_path, FOLDER, item.filename, item.content)
        if not existed:
            written.append(target)
        row = ReportFile(report_id=report.id, filename=item.filename, media_type=item.media_type,
                         file_path=stored.relative_path, sm3=stored.sm3, size=stored.size)
        session.add(row)
        session.flush()
        sign_report_file(session, row, report, run, user)


def render_report(session: Session, instance_path: str, report_id: int) -> Report | None:
    """Render a queued report: every step committed as progress; ``failed`` with the reason on error."""
    report = session.get(Report, report_id)
    if report is None or report.status not in ("queued", "running"):
        return report
    _step(session, report_id, 5, "正在重现核算结果", status="running")
    written: list[Path] = []
    try:
        run = session.get(AccountingRun, report.run_id)
        if run is None:
            raise ReportRefused(f"核算结果 #{report.run_id} 不存在")
        user = _requester(session, report)
        files, reasons, notes = _render_files(session, instance_path, report, run,
                                              lambda p, m: _step(session, report_id, p, m))
        report = _step(session, report_id, 90, "正在签名并保存报告文件")
        report.final, report.draft_reasons = not reasons, reasons or None  # signed with the files
        report.inputs_digest = run.inputs_digest
        _store_signed(session, instance_path, report, run, files, user, written)
        report.status, report.progress, report.finished_at = "done", 100, utcnow()
        report.message = "；".join(["报告已生成并签名", *notes])
        session.commit()
    except Exception as exc:  # noqa: BLE001 - every failure must end as a visible Chinese message
        session.rollback()
        for path in written:  # files of a failed report are not kept
            path.unlink(missing_ok=True)
        report = session.get(Report, report_id)
        assert report is not None
        report.status, report.finished_at = "failed", utcnow()
        report.message = ("；".join(exc.reasons) if isinstance(exc, ReportRefused)
                          else f"报告生成失败（{type(exc).__name__}：{exc}），请联系管理员")
        session.commit()
    return report


def _requester(session: Session, report: Report) -> Any:
    """The user who asked for the report: the files are signed with that user's SM2 key."""
    from flask_appbuilder.security.sqla.models import User

    user = session.get(User, report.requested_by_id) if report.requested_by_id is not None else None
    if user is None:
        raise ReportRefused("报告没有申请人，无法用申请人的 SM2 密钥签名")
    return user
