"""Period close (期间锁定): an organisation node's month is open or closed.

Closing a month locks it for the node and its whole subtree: no form of the subtree can be saved,
submitted, approved or imported for it, and accounting does not recompute or restate it. Reopening
needs a reason from one person and the approval of another; both steps are kept as
``WorkflowEvent`` rows (and audited like every change).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.forms.models import Period, Submission, WorkflowEvent
from orgcarbon.metamodel.models import Organization
from orgcarbon.security.scope import OrgScope, subtree_ids

LOCKED = ("closed", "reopen_requested")


class WorkflowError(Exception):
    """A workflow step is refused; ``reasons`` are Chinese sentences for the user."""

    def __init__(self, reasons: list[str] | str):
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        super().__init__("；".join(self.reasons))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ancestors_and_self(session: Session, organization_id: int) -> list[int]:
    """The node and every ancestor up to the root (a closed ancestor locks its subtree)."""
    parents = dict(session.execute(select(Organization.id, Organization.parent_id)).all())
    chain: list[int] = []
    node: int | None = organization_id
    while node is not None and node not in chain:
        chain.append(node)
        node = parents.get(node)
    return chain


def period_locked(session: Session, organization_id: int, year: int, month: int) -> bool:
    """True when the node or one of its ancestors has closed that month."""
    chain = ancestors_and_self(session, organization_id)
    found = session.execute(
        select(Period.id).where(Period.organization_id.in_(chain), Period.year == year,
                                Period.month == month, Period.status.in_(LOCKED)).limit(1)
    ).first()
    return found is not None


def locked_months(session: Session, organization_id: int, year: int) -> set[int]:
    """The months of ``year`` closed for the node (by itself or an ancestor)."""
    chain = ancestors_and_self(session, organization_id)
    rows = session.execute(
        select(Period.month).where(Period.organization_id.in_(chain), Period.year == year,
                                   Period.status.in_(LOCKED))
    ).scalars()
    return set(rows)


def _label(org: Organization | None, year: int, month: int) -> str:
    return f"{org.name if org else ''} {year}-{month:02d}"


def _check_month(year: int, month: int) -> None:
    if not 1 <= int(month) <= 12:
        raise WorkflowError(f"月份 {month} 无效，应为 1–12")
    if not 2000 <= int(year) <= 2100:
        raise WorkflowError(f"年份 {year} 无效")


def _check_scope(scope: OrgScope | None, organization_id: int) -> None:
    if scope is not None and not scope.can_write(organization_id):
        raise WorkflowError("无权操作该组织的期间")


def _event(session: Session, period: Period, action: str, before: str | None, user: Any,
           comment: str | None) -> None:
    session.add(WorkflowEvent(period=period, organization_id=period.organization_id, action=action,
                              from_status=before, to_status=period.status,
                              user_id=getattr(user, "id", None), user_name=getattr(user, "username", None),
                              comment=comment))


def get_period(session: Session, organization_id: int, year: int, month: int) -> Period | None:
    """The node's own row for the month (None: open, never closed)."""
    return session.execute(
        select(Period).where(Period.organization_id == organization_id, Period.year == year, Period.month == month)
    ).scalar_one_or_none()


def close_period(session: Session, organization_id: int, year: int, month: int, user: Any,
                 comment: str | None = None, scope: OrgScope | None = None) -> Period:
    """Close a month of a node; refused while a submission of its subtree waits for review."""
    _check_month(year, month)
    _check_scope(scope, organization_id)
    org = session.get(Organization, organization_id)
    if org is None:
        raise WorkflowError(f"组织 {organization_id} 不存在")
    from orgcarbon.forms.service import months_of  # the submission's months decide

    nodes = subtree_ids(session, [organization_id])
    pending = [s for s in session.execute(
        select(Submission).where(Submission.organization_id.in_(nodes), Submission.year == year,
                                 Submission.status.in_(("submitted", "reviewed")))
    ).scalars() if month in months_of(s.form.granularity, s.period)]
    if pending:
        raise WorkflowError(f"期间 {_label(org, year, month)} 还有 {len(pending)} 份填报待审核，审核完成后才能关闭")
    period = get_period(session, organization_id, year, month)
    if period is not None and period.status in LOCKED:
        raise WorkflowError(f"期间 {_label(org, year, month)} 已关闭")
    if period is None:
        period = Period(organization_id=organization_id, year=year, month=month, status="open")
        session.add(period)
    before = period.status
    period.status = "closed"
    period.closed_by_id = getattr(user, "id", None)
    period.closed_at = _utcnow()
    period.reopen_reason = None
    period.reopen_requested_by_id = None
    period.reopen_requested_at = None
    _event(session, period, "close", before, user, comment)
    session.flush()
    return period


def request_reopen(session: Session, period: Period, user: Any, reason: str,
                   scope: OrgScope | None = None) -> Period:
    """Ask to reopen a closed month: a reason is required; another person approves."""
    _check_scope(scope, period.organization_id)
    if period.status != "closed":
        raise WorkflowError(f"期间 {_label(period.organization, period.year, period.month)} 未关闭，无需重新开放")
    if not (reason or "").strip():
        raise WorkflowError("申请重新开放期间必须填写原因")
    before = period.status
    period.status = "reopen_requested"
    period.reopen_reason = reason.strip()
    period.reopen_requested_by_id = getattr(user, "id", None)
    period.reopen_requested_at = _utcnow()
    _event(session, period, "reopen_request", before, user, reason.strip())
    session.flush()
    return period


def approve_reopen(session: Session, period: Period, user: Any, comment: str | None = None,
                   scope: OrgScope | None = None) -> Period:
    """Reopen the month; the approver must not be the person who asked."""
    _check_scope(scope, period.organization_id)
    if period.status != "reopen_requested":
        raise WorkflowError("该期间没有待批准的重新开放申请")
    if period.reopen_requested_by_id is not None and period.reopen_requested_by_id == getattr(user, "id", None):
        raise WorkflowError("重新开放期间须由申请人以外的人批准")
    before = period.status
    period.status = "open"
    _event(session, period, "reopen", before, user, comment)
    session.flush()
    return period


def reject_reopen(session: Session, period: Period, user: Any, comment: str | None = None,
                  scope: OrgScope | None = None) -> Period:
    """Refuse a reopen request: the month stays closed."""
    _check_scope(scope, period.organization_id)
    if period.status != "reopen_requested":
        raise WorkflowError("该期间没有待批准的重新开放申请")
    before = period.status
    period.status = "closed"
    _event(session, period, "reopen_reject", before, user, comment)
    session.flush()
    return period


def periods_of(session: Session, scope: OrgScope, year: int) -> list[Period]:
    """Closed or pending periods of a year that the caller may read."""
    rows = session.execute(select(Period).where(Period.year == year).order_by(Period.organization_id, Period.month))
    return [p for p in rows.scalars() if scope.can_read(p.organization_id)]
