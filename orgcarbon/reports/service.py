"""Rendered reports: request one for an accounting run, find the ones a user may see, describe them.

``request_report`` validates (run, scope, kind) and adds a queued ``Report``; the task
(``reports.tasks``) renders it with ``render.render_report``. Whether a report may be final is
decided here (``draft_reasons``: every month of the year closed, no data waiting for approval, the
run current and unchanged), and so is whether a finished report is out of date (``outdated_reasons``:
its run is stale, superseded, or a newer run of the same organisation, year and model exists).

Pure SQLAlchemy: the caller passes the session and commits. Reasons are Chinese sentences.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.report_templates.builtin import BUILTIN
from orgcarbon.reports.models import KINDS, Report, ReportFile, TemplateVersion
from orgcarbon.security.scope import OrgScope, org_scope

BUILTIN_FOR_KIND = {"report": "gbt32151.5-report", "tables": "gbt32151.5-tables"}
KIND_TITLES = {"report": "温室气体排放报告", "tables": "补充数据表"}
STATUS_LABELS = {"queued": "排队中", "running": "生成中", "done": "已完成", "failed": "失败"}
PAGE_SIZE = 500


class ReportRefused(ValueError):
    """A report cannot be requested or rendered; ``reasons`` are Chinese, one per problem."""

    def __init__(self, *reasons: str) -> None:
        super().__init__("；".join(reasons))
        self.reasons = list(reasons)


# --- Templates -------------------------------------------------------------------------------------


def choose_template(session: Session, organization_id: int, kind: str) -> tuple[TemplateVersion | None, str | None]:
    """The version activated for the node (template management), else the built-in template's name."""
    try:
        from orgcarbon.reports import templates_service
    except ImportError:  # template management not installed: the built-in templates only
        return None, BUILTIN_FOR_KIND[kind]
    finder = getattr(templates_service, "active_version", None)
    version = finder(session, organization_id, kind) if finder is not None else None
    return (version, None) if version is not None else (None, BUILTIN_FOR_KIND[kind])


def template_label(report: Report) -> str:
    """Name and version of the template a report uses, as people read it."""
    if report.template_version is not None:
        return str(report.template_version)
    if report.builtin_name in BUILTIN:
        _, version, title = BUILTIN[report.builtin_name]
        return f"{title}（内置，第 {version} 版）"
    return report.builtin_name or "—"


def report_kind(report: Report) -> str:
    """``report`` or ``tables``."""
    if report.template_version is not None and report.template_version.template is not None:
        return report.template_version.template.kind
    return next((k for k, name in BUILTIN_FOR_KIND.items() if name == report.builtin_name), "report")


# --- Requesting ------------------------------------------------------------------------------------


def request_report(session: Session, run: AccountingRun | None, user: Any, *, kind: str = "report",
                   want_pdf: bool = True, scope: OrgScope | None = None) -> Report:
    """Add a queued report of ``run`` (not committed); ``ReportRefused`` with Chinese reasons if unfit."""
    scope = scope if scope is not None else org_scope(user, session)
    if run is None or not scope.can_read(run.organization_id):
        raise ReportRefused("核算结果不存在，或超出您的数据范围")
    org = run.organization
    if not scope.can_write(run.organization_id):
        raise ReportRefused(f"无权为组织“{org.name}”生成报告（超出您的数据范围）")
    if kind not in KINDS:
        raise ReportRefused("报告类型：应为 report（温室气体排放报告）或 tables（补充数据表）")
    if run.status == "superseded":
        raise ReportRefused(f"核算结果 #{run.id} 已被核算结果 #{run.superseded_by_id} 替代，请为最新的核算结果生成报告")
    if run.status != "done":
        raise ReportRefused(f"核算结果 #{run.id} 尚未完成（状态：{run.status}），只能为已完成的核算结果生成报告")
    version, builtin = choose_template(session, run.organization_id, kind)
    report = Report(
        run_id=run.id, organization_id=run.organization_id, template_version_id=version.id if version else None,
        builtin_name=builtin, title=f"{org.name} {run.year} 年度{KIND_TITLES[kind]}", status="queued", progress=0,
        message="排队等待生成", final=False, want_pdf=bool(want_pdf), inputs_digest=run.inputs_digest,
        requested_by_id=getattr(user, "id", None),
    )
    session.add(report)
    session.flush()
    return report


# --- Approved and locked? --------------------------------------------------------------------------


def _months(year: int, months: Iterable[int]) -> str:
    return "、".join(f"{year}-{m:02d}" for m in sorted(months))


def open_months(session: Session, run: AccountingRun) -> list[int]:
    """Months of the run's year not closed for its node (itself or an ancestor) nor for every
    node the run's lines come from (a group whose plants each closed the month counts as closed)."""
    from orgcarbon.forms.periods import locked_months

    missing = set(range(1, 13)) - locked_months(session, run.organization_id, run.year)
    if not missing:
        return []
    nodes = set(session.scalars(select(ResultLine.organization_id).where(ResultLine.run_id == run.id).distinct()))
    if nodes and nodes != {run.organization_id}:
        closed_everywhere = set(range(1, 13))
        for node in nodes:
            closed_everywhere &= locked_months(session, node, run.year)
        missing -= closed_everywhere
    return sorted(missing)


def unapproved_data(session: Session, run: AccountingRun) -> list[str]:
    """Submissions of the run's subtree and year waiting for review, and run records whose
    submission is not (or no longer) approved."""
    from orgcarbon.accounting.recalc import run_record_ids
    from orgcarbon.forms.models import Submission
    from orgcarbon.metamodel.models import ActivityRecord
    from orgcarbon.security.scope import subtree_ids

    reasons = []
    nodes = sorted(subtree_ids(session, [run.organization_id]))
    pending = session.scalar(select(func.count()).select_from(Submission).where(
        Submission.organization_id.in_(nodes), Submission.year == run.year,
        Submission.status.in_(("submitted", "reviewed"))))
    if pending:
        reasons.append(f"{run.year} 年还有 {pending} 份填报等待审核或批准")
    ids = sorted(run_record_ids(session, run.id))
    unapproved = 0
    for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        unapproved += session.scalar(
            select(func.count()).select_from(ActivityRecord).join(Submission, ActivityRecord.submission_id == Submission.id)
            .where(ActivityRecord.id.in_(ids[start:start + 900]), Submission.status != "approved")) or 0
    if unapproved:
        reasons.append(f"核算结果中有 {unapproved} 条活动数据来自未批准的填报")
    return reasons


def draft_reasons(session: Session, run: AccountingRun) -> list[str]:
    """Why a report of ``run`` must carry the 草稿 mark; empty: the data is approved and locked."""
    reasons = []
    if missing := open_months(session, run):
        reasons.append(f"{run.organization.name} 以下期间尚未关闭锁定：{_months(run.year, missing)}")
    reasons += unapproved_data(session, run)
    reasons += [f"核算结果已过期：{r}" for r in outdated_reasons(session, run)]
    return reasons


# --- Out of date? ----------------------------------------------------------------------------------


def newer_runs(session: Session, run: AccountingRun) -> list[AccountingRun]:
    """Finished runs of the same organisation, year and model (any version) made after ``run``."""
    from orgcarbon.metamodel.versioned import AccountingModel

    query = (select(AccountingRun).join(AccountingModel, AccountingRun.model_id == AccountingModel.id)
             .where(AccountingRun.organization_id == run.organization_id, AccountingRun.year == run.year,
                    AccountingRun.id > run.id, AccountingRun.status.in_(("done", "superseded")),
                    AccountingModel.name == run.model.name)
             .order_by(AccountingRun.id))
    return list(session.scalars(query))


def outdated_reasons(session: Session, run: AccountingRun, inputs_digest: str | None = None) -> list[str]:
    """Why a report of ``run`` (rendered from inputs ``inputs_digest``) is out of date; empty: current."""
    from orgcarbon.accounting.recalc import stale_run

    reasons = []
    if inputs_digest is not None and inputs_digest != run.inputs_digest:
        reasons.append(f"核算结果 #{run.id} 的输入摘要与生成报告时不同")
    if run.status == "superseded" or run.superseded_by_id:
        reasons.append(f"核算结果 #{run.id} 已被核算结果 #{run.superseded_by_id} 替代")
    elif newer := newer_runs(session, run):
        reasons.append(f"同一组织和年度已有更新的核算结果 #{newer[-1].id}")
    if run.status == "done" and (stale := stale_run(session, run)) is not None:
        reasons += stale.reasons
    return reasons


class OutdatedCache:
    """``outdated_reasons`` per run, computed once for a page listing many reports of one run."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._runs: dict[int, list[str]] = {}

    def reasons(self, report: Report) -> list[str]:
        """Reasons the report is out of date (empty for reports not rendered yet)."""
        if report.status != "done":
            return []
        run = self.session.get(AccountingRun, report.run_id)
        if run is None:
            return ["核算结果已被删除"]
        if run.id not in self._runs:
            self._runs[run.id] = outdated_reasons(self.session, run)
        own = [] if report.inputs_digest in (None, run.inputs_digest) else ["核算结果的输入摘要与生成报告时不同"]
        return own + self._runs[run.id]


# --- Lookups and JSON ------------------------------------------------------------------------------


def visible_reports(session: Session, scope: OrgScope, run_id: int | None = None) -> list[Report]:
    """Reports of the organisation nodes ``scope`` may read, newest first."""
    query = select(Report).order_by(Report.id.desc()).limit(PAGE_SIZE)
    if scope.readable is not None:
        query = query.where(Report.organization_id.in_(sorted(scope.readable)))
    if run_id is not None:
        query = query.where(Report.run_id == run_id)
    return list(session.scalars(query))


def visible_report(session: Session, scope: OrgScope, report_id: int) -> Report | None:
    """The report if ``scope`` may read its organisation, else None."""
    report = session.get(Report, report_id)
    return report if report is not None and scope.can_read(report.organization_id) else None


def visible_file(session: Session, scope: OrgScope, file_id: int) -> ReportFile | None:
    """The report file if ``scope`` may read its report's organisation, else None."""
    found = session.get(ReportFile, file_id)
    return found if found is not None and scope.can_read(found.report.organization_id) else None


def file_dict(found: ReportFile) -> dict[str, Any]:
    """A report file as JSON (signature summary included, never the key)."""
    signature = found.signature or {}
    return {"id": found.id, "filename": found.filename, "media_type": found.media_type, "sm3": found.sm3,
            "size": found.size, "signed_by": signature.get("signer_id"), "signed_at": signature.get("signed_at"),
            "algorithm": signature.get("algorithm")}


def report_dict(session: Session, report: Report, outdated: list[str] | None = None) -> dict[str, Any]:
    """A report as JSON; ``outdated`` are the reasons it is out of date (None: not computed)."""
    run = session.get(AccountingRun, report.run_id)
    return {
        "id": report.id, "run_id": report.run_id, "organization_id": report.organization_id,
        "organization": run.organization.name if run is not None else None,
        "year": run.year if run is not None else None, "title": report.title, "kind": report_kind(report),
        "template": template_label(report), "template_version_id": report.template_version_id,
        "builtin_name": report.builtin_name, "status": report.status,
        "status_label": STATUS_LABELS.get(report.status, report.status), "progress": report.progress,
        "message": report.message, "final": report.final, "draft_reasons": report.draft_reasons or [],
        "outdated": bool(outdated) if outdated is not None else None, "outdated_reasons": outdated or [],
        "inputs_digest": report.inputs_digest, "want_pdf": report.want_pdf,
        "requested_by_id": report.requested_by_id,
        "requested_at": report.requested_at.isoformat() if report.requested_at else None,
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
        "files": [file_dict(f) for f in report.files],
    }
