"""Versions: publish a draft, start a new version, read what was in force at a date.

Published and superseded versions are immutable. ``install_version_guard`` enforces that for
every session (views, APIs, scripts); the views also check first so the user gets the message in
the form instead of a database error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, event, func, inspect, or_, select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.formula_check import parse_test_cases, run_test_cases
from orgcarbon.metamodel.versioned import AccountingModel, Binding, Factor, Formula, VersionedMixin

FROZEN_MESSAGE = "已发布的版本不可修改或删除，请先“新建版本”，在草稿上修改后再发布"
# Publishing the next version only touches these columns of the previous one.
LIFECYCLE_COLUMNS = frozenset({"status", "superseded_at"})


class VersionError(ValueError):
    """A version operation is refused; the message is Chinese."""


def utcnow() -> dt.datetime:
    """Current UTC time."""
    return dt.datetime.now(dt.UTC)


def lineage_column(cls: type) -> Any:
    """The column that ties the versions of one entity together."""
    return cls.code if cls in (Factor, Binding) else cls.name


def current_versions(cls: type, as_of: dt.datetime | None = None) -> Select[Any]:
    """Published versions, or the versions that were published and not yet replaced at ``as_of``."""
    if as_of is None:
        return select(cls).where(cls.status == "published")
    return select(cls).where(
        cls.status.in_(("published", "superseded")),
        cls.published_at <= as_of,
        or_(cls.superseded_at.is_(None), cls.superseded_at > as_of),
    )


def committed_status(item: Any) -> str | None:
    """The status as stored, even if the object was changed in memory since."""
    history = inspect(item).attrs.status.history
    if history.deleted:
        return history.deleted[0]
    return item.status


def check_editable(item: Any) -> None:
    """Refuse changing or deleting a published or superseded version."""
    if inspect(item).persistent and committed_status(item) in ("published", "superseded"):
        raise VersionError(FROZEN_MESSAGE)


def _prerequisites(item: Any) -> list[str]:
    problems: list[str] = []
    if isinstance(item, Formula):
        values = {f: getattr(item, f) for f in ("activity", "factor", "variables", "test_cases")}
        if not parse_test_cases(item.test_cases):
            problems.append("公式至少需要一个测试用例（输入→期望值）才能发布")
        problems += run_test_cases(values)
    elif isinstance(item, Binding):
        if item.formula is None or item.formula.status != "published":
            problems.append(f"绑定使用的公式“{item.formula}”尚未发布")
    elif isinstance(item, AccountingModel):
        if not item.bindings:
            problems.append("核算模型至少需要一个绑定")
        problems += [f"绑定“{b}”尚未发布" for b in item.bindings if b.status != "published"]
    return problems


def publish(item: Any, session: Session) -> Any:
    """Publish a draft: the lineage's current published version becomes superseded."""
    if item.status != "draft":
        raise VersionError("只有草稿可以发布")
    if problems := _prerequisites(item):
        raise VersionError("不能发布：" + "；".join(problems))
    cls, key = type(item), lineage_column(type(item))
    now = utcnow()
    for previous in session.scalars(
        select(cls).where(key == getattr(item, key.key), cls.status == "published", cls.id != item.id)
    ):
        previous.status, previous.superseded_at = "superseded", now
    item.status, item.published_at = "published", now
    session.flush()
    return item


def new_version(item: Any, session: Session) -> Any:
    """A draft copy of ``item`` with the next version number (the existing draft if there is one)."""
    cls, key = type(item), lineage_column(type(item))
    lineage = getattr(item, key.key)
    draft = session.scalars(select(cls).where(key == lineage, cls.status == "draft")).first()
    if draft is not None:
        return draft
    top = session.scalar(select(func.max(cls.version)).where(key == lineage)) or 0
    skip = {"id", "version", "status", "published_at", "superseded_at"}
    copy = cls(**{c.key: getattr(item, c.key) for c in inspect(cls).column_attrs if c.key not in skip})
    copy.version, copy.status = top + 1, "draft"
    if isinstance(item, AccountingModel):
        copy.bindings = list(item.bindings)
    session.add(copy)
    session.flush()
    return copy


def _guard(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, VersionedMixin) and committed_status(obj) in ("published", "superseded"):
            raise VersionError(FROZEN_MESSAGE)
    for obj in session.dirty:
        if not isinstance(obj, VersionedMixin) or committed_status(obj) not in ("published", "superseded"):
            continue
        state = inspect(obj)
        changed = {a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()}
        if changed - LIFECYCLE_COLUMNS:
            raise VersionError(FROZEN_MESSAGE + "（字段：" + "、".join(sorted(changed)) + "）")


_installed = False


def install_version_guard() -> None:
    """Refuse, in every session, a flush that changes or deletes a frozen version (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _guard)
        _installed = True
