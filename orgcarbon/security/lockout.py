"""Login failure limit (spec 8.2.1.2): N failures lock an account for M minutes.

Flask-AppBuilder only counts ``fail_login_count``. The moment of the failure that reached the
limit is read from the audit trail, which already records every change of that counter (with its
time), so the lock needs no extra column and its history is the audit log itself. A locked account
is refused before its password is checked, for the web form and the API login alike; the lock ends
by itself after the lock time, or when an administrator resets the counter (unlock).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.security.models import AuditEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockPolicy:
    """How many failures lock an account, and for how long."""

    max_failures: int = 5
    lock_minutes: int = 15


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def locked_until(session: Session, user: Any, policy: LockPolicy, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the lock of ``user`` ends, or None if the account is not locked now."""
    if (user.fail_login_count or 0) < policy.max_failures:
        return None
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.table_name == "ab_user", AuditEntry.row_id == str(user.id), AuditEntry.action == "update")
        .order_by(AuditEntry.id.desc())
        .limit(50)
    )
    for entry in entries:
        count = (entry.after or {}).get("fail_login_count")
        if count is not None and count >= policy.max_failures:
            until = _aware(entry.occurred_at) + dt.timedelta(minutes=policy.lock_minutes)
            return until if until > (now or dt.datetime.now(dt.UTC)) else None
    return None


def unlock(session: Session, user: Any, by: str) -> bool:
    """Reset the failure counter; True if the account was locked. The change is audited."""
    was_locked = (user.fail_login_count or 0) > 0
    user.fail_login_count = 0
    session.add(user)
    session.commit()
    if was_locked:
        from orgcarbon.security.logstore import security_event

        security_event("account_unlocked", f"账户 {user.username} 已由 {by} 解锁", level=logging.WARNING,
                       username=by, target=user.username)
    return was_locked
