"""Password state of each user: when it was set, whether it must be changed, earlier hashes.

One SQLAlchemy listener sees every change of ``ab_user.password``, however it is made (FAB's user
form, the reset forms, the security API, ``sm.add_user``, the CLI), and records it in
``sec_user_security`` and ``sec_password_history`` in the same transaction. Only hashes are kept.

Who set the password decides whether it must be changed at the next login:

* the user themself (在“修改密码”页) → no;
* another signed-in user (an administrator adding a user or resetting a password, by page or API)
  → yes;
* a command or script → as the code says with ``password_set_by_owner()`` / ``must_change()``;
  otherwise unchanged (a new user: no). ``orgcarbon init`` forces a change for a generated admin
  password, not for one given in ``ORGCARBON_ADMIN_PASSWORD``; ``orgcarbon demo`` marks the
  published demo passwords as chosen.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import delete, event, inspect, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from orgcarbon.security.models import PasswordHistory, UserSecurity, utcnow

DEFAULT_HISTORY = 5

# None: decide from the request; True/False: forced by the code that sets the password.
_forced: contextvars.ContextVar[bool | None] = contextvars.ContextVar("password_must_change", default=None)


@contextlib.contextmanager
def must_change(value: bool = True) -> Iterator[None]:
    """Passwords set inside the block must (or need not) be changed at the next login."""
    token = _forced.set(value)
    try:
        yield
    finally:
        _forced.reset(token)


def password_set_by_owner() -> contextlib.AbstractContextManager[None]:
    """Passwords set inside the block were chosen by their users (no forced change)."""
    return must_change(False)


def _history_size() -> int:
    from flask import current_app, has_app_context

    if has_app_context():
        return int(current_app.config["ORGCARBON"].get("PASSWORD_HISTORY", DEFAULT_HISTORY))
    return DEFAULT_HISTORY


def _decision(user: Any) -> bool | None:
    """Must the new password of ``user`` be changed? None: leave as it is."""
    forced = _forced.get()
    if forced is not None:
        return forced
    from orgcarbon.security.audit import current_actor

    actor = current_actor()
    if actor.user_id is None:
        return None
    return actor.user_id != user.id


def _user_model() -> type:
    from flask_appbuilder.security.sqla.models import User

    return User


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    user_model = _user_model()
    changed = []
    for obj in [*session.new, *session.dirty]:
        if not isinstance(obj, user_model):
            continue
        history = inspect(obj).attrs.password.history
        if obj in session.new or history.has_changes():
            changed.append((obj, _decision(obj)))
    if changed:
        session.info.setdefault("_password_changes", []).extend(changed)


def _after_flush_postexec(session: Session, flush_context: Any) -> None:
    changes = session.info.pop("_password_changes", [])
    for user, decision in changes:
        if user.id is None or not user.password:
            continue
        record_password(session, user.id, user.password, decision)


def _discard(session: Session, previous_transaction: Any) -> None:
    session.info.pop("_password_changes", None)


def record_password(session: Session, user_id: int, password_hash: str, must_change_now: bool | None) -> None:
    """Note a new password hash of ``user_id``: its time, the forced-change flag, the history."""
    state = session.get(UserSecurity, user_id)
    if state is None:
        state = UserSecurity(user_id=user_id, must_change_password=bool(must_change_now))
        session.add(state)
    elif must_change_now is not None:
        state.must_change_password = must_change_now
    state.password_changed_at = utcnow()
    keep = _history_size()
    if keep > 0:
        # Called during a flush: the new row is not written yet, so keep one fewer of the old.
        old = session.scalars(
            select(PasswordHistory.id).where(PasswordHistory.user_id == user_id)
            .order_by(PasswordHistory.id.desc()).offset(keep - 1)
        ).all()
        session.add(PasswordHistory(user_id=user_id, password_hash=password_hash))
        if old:
            session.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(old)))


def set_must_change(session: Session, user_id: int, value: bool) -> None:
    """Set or clear the forced change for ``user_id`` (not committed)."""
    state = session.get(UserSecurity, user_id) or UserSecurity(user_id=user_id)
    state.must_change_password = value
    session.add(state)


def must_change_password(session: Session, user_id: int) -> bool:
    """True when ``user_id`` has to change the password before doing anything else."""
    state = session.get(UserSecurity, user_id)
    return bool(state is not None and state.must_change_password)


def reused(session: Session, user: Any, password: str, keep: int | None = None) -> bool:
    """True when ``password`` is the current one or one of the last ``keep`` of ``user``."""
    keep = _history_size() if keep is None else keep
    if keep <= 0:
        return False
    hashes = [user.password] if user.password else []
    hashes += session.scalars(
        select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc()).limit(keep)
    ).all()
    return any(check_password_hash(h, password) for h in hashes)


def expire_if_old(session: Session, user: Any, days: int, now: dt.datetime | None = None) -> bool:
    """Force a change when the password is older than ``days`` (0 = never); True if it expired."""
    if days <= 0:
        return False
    now = now or utcnow()
    state = session.get(UserSecurity, user.id)
    if state is None or state.password_changed_at is None:
        # No record yet (a user from before this feature): the clock starts now.
        state = state or UserSecurity(user_id=user.id)
        state.password_changed_at = now
        session.add(state)
        session.commit()
        return False
    changed = state.password_changed_at
    changed = changed if changed.tzinfo else changed.replace(tzinfo=dt.UTC)
    if state.must_change_password or now - changed <= dt.timedelta(days=days):
        return False
    state.must_change_password = True
    session.commit()
    return True


_installed = False


def install_password_listener() -> None:
    """Attach the password listener to every session (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush_postexec", _after_flush_postexec)
    event.listen(Session, "after_soft_rollback", _discard)
    _installed = True
