"""Searching the logs of every kind as one list (spec 6.7.2), and counting them per kind and day.

Three tables hold them: ``sec_log`` (system, error, security), ``audit_entry`` (operation: every
data change) and ``cn_interface_log`` (interface: connector runs and API calls, read only here).
Each is queried with the same filters, newest first, and the results are merged in Python; a page
needs at most ``offset + limit`` rows of each.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from orgcarbon.security.logstore import KINDS
from orgcarbon.security.models import AuditEntry, LogRecord

KIND_LABELS = {"operation": "操作日志", "system": "系统日志", "error": "错误日志", "security": "安全日志",
               "interface": "接口日志"}
ACTION_LABELS = {"insert": "新增", "update": "修改", "delete": "删除"}
MAX_EXPORT = 50_000


@dataclass(frozen=True)
class LogQuery:
    """Filters of the log page; None or "" means "any"."""

    kind: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None  # inclusive
    user: str | None = None
    text: str | None = None

    def kinds(self) -> tuple[str, ...]:
        return (self.kind,) if self.kind in KINDS else KINDS


@dataclass(frozen=True)
class LogLine:
    """One log line, whatever table it came from."""

    at: dt.datetime
    kind: str
    level: str
    username: str
    ip: str
    subject: str
    message: str

    def as_row(self) -> list[str]:
        return [self.at.strftime("%Y-%m-%d %H:%M:%S"), KIND_LABELS.get(self.kind, self.kind), self.level,
                self.username, self.ip, self.subject, self.message]


EXPORT_HEADERS = ["时间", "类型", "级别", "用户", "IP 地址", "对象/路径", "内容"]


def _bounds(query: LogQuery) -> tuple[dt.datetime | None, dt.datetime | None]:
    start = dt.datetime.combine(query.start, dt.time.min, dt.UTC) if query.start else None
    end = dt.datetime.combine(query.end + dt.timedelta(days=1), dt.time.min, dt.UTC) if query.end else None
    return start, end


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _interface_model() -> Any:
    try:
        from orgcarbon.collection.models import InterfaceLog
    except ImportError:  # pragma: no cover - collection not installed
        return None
    return InterfaceLog


def _time_filter(stmt: Any, column: Any, query: LogQuery) -> Any:
    start, end = _bounds(query)
    if start is not None:
        stmt = stmt.where(column >= start)
    if end is not None:
        stmt = stmt.where(column < end)
    return stmt


def _sec_log(session: Session, query: LogQuery, kinds: Iterable[str], limit: int) -> list[LogLine]:
    stmt = _time_filter(select(LogRecord).where(LogRecord.kind.in_(list(kinds))), LogRecord.at, query)
    if query.user:
        stmt = stmt.where(LogRecord.username.ilike(_like(query.user), escape="\\"))
    if query.text:
        pattern = _like(query.text)
        stmt = stmt.where(or_(LogRecord.message.ilike(pattern, escape="\\"),
                              LogRecord.path.ilike(pattern, escape="\\"),
                              LogRecord.logger.ilike(pattern, escape="\\")))
    rows = session.scalars(stmt.order_by(LogRecord.at.desc(), LogRecord.id.desc()).limit(limit))
    return [LogLine(r.at, r.kind, r.level, r.username or "—", r.ip or "—", r.path or r.logger or "", r.message)
            for r in rows]


def _audit(session: Session, query: LogQuery, limit: int) -> list[LogLine]:
    from orgcarbon.platform.views import TABLE_LABELS

    stmt = _time_filter(select(AuditEntry), AuditEntry.occurred_at, query)
    if query.user:
        stmt = stmt.where(AuditEntry.username.ilike(_like(query.user), escape="\\"))
    if query.text:
        pattern = _like(query.text)
        stmt = stmt.where(or_(AuditEntry.table_name.ilike(pattern, escape="\\"),
                              AuditEntry.row_id.ilike(pattern, escape="\\"),
                              cast(AuditEntry.after, Text).ilike(pattern, escape="\\"),
                              cast(AuditEntry.before, Text).ilike(pattern, escape="\\")))
    rows = session.scalars(stmt.order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc()).limit(limit))
    lines = []
    for r in rows:
        table = str(TABLE_LABELS.get(r.table_name, r.table_name))
        fields = "、".join(sorted((r.after or r.before or {}).keys()))[:300]
        lines.append(LogLine(r.occurred_at, "operation", "INFO", r.username or "—", r.ip or "—",
                             f"{table} #{r.row_id}", f"{ACTION_LABELS.get(r.action, r.action)}：{fields}"))
    return lines


def _interface(session: Session, query: LogQuery, limit: int) -> list[LogLine]:
    model = _interface_model()
    if model is None or query.user:  # interface calls are made by systems, not users
        return []
    stmt = _time_filter(select(model), model.started_at, query)
    if query.text:
        pattern = _like(query.text)
        stmt = stmt.where(or_(model.error.ilike(pattern, escape="\\"), model.request_path.ilike(pattern, escape="\\"),
                              model.batch_id.ilike(pattern, escape="\\"), model.status.ilike(pattern, escape="\\")))
    rows = session.scalars(stmt.order_by(model.started_at.desc(), model.id.desc()).limit(limit))
    lines = []
    for r in rows:
        level = "ERROR" if r.status in ("failed", "refused") else "INFO"
        message = (f"{r.kind} {r.status}：取得 {r.fetched}，接受 {r.accepted}，过滤 {r.filtered}，拒绝 {r.rejected}"
                   + (f"；{r.error}" if r.error else ""))
        lines.append(LogLine(r.started_at, "interface", level, "—", r.remote_addr or "—",
                             r.request_path or f"connector #{r.connector_id}", message))
    return lines


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def search(session: Session, query: LogQuery, offset: int = 0, limit: int = 50) -> list[LogLine]:
    """Lines matching ``query``, newest first, ``offset``..``offset + limit``."""
    need = offset + limit
    kinds = query.kinds()
    lines: list[LogLine] = []
    stored = [k for k in kinds if k not in ("operation", "interface")]
    if stored:
        lines += _sec_log(session, query, stored, need)
    if "operation" in kinds:
        lines += _audit(session, query, need)
    if "interface" in kinds:
        lines += _interface(session, query, need)
    lines.sort(key=lambda line: _aware(line.at), reverse=True)
    return lines[offset:need]


def _day(value: Any) -> str:
    return value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)[:10]


def statistics(session: Session, query: LogQuery) -> dict[str, Counter[str]]:
    """Number of lines per day (``YYYY-MM-DD``) and kind, with the page's filters."""
    per_day: dict[str, Counter[str]] = {}

    def add(rows: Iterable[Any], kind: str | None = None) -> None:
        for row in rows:
            day, row_kind, count = (row[0], kind, row[1]) if kind else (row[0], row[1], row[2])
            per_day.setdefault(_day(day), Counter())[row_kind] += int(count)

    kinds = query.kinds()
    stored = [k for k in kinds if k not in ("operation", "interface")]
    if stored:
        day = func.date(LogRecord.at)
        stmt = _time_filter(select(day, LogRecord.kind, func.count()).where(LogRecord.kind.in_(stored)), LogRecord.at, query)
        if query.user:
            stmt = stmt.where(LogRecord.username.ilike(_like(query.user), escape="\\"))
        if query.text:
            stmt = stmt.where(LogRecord.message.ilike(_like(query.text), escape="\\"))
        add(session.execute(stmt.group_by(day, LogRecord.kind)))
    if "operation" in kinds:
        day = func.date(AuditEntry.occurred_at)
        stmt = _time_filter(select(day, func.count()), AuditEntry.occurred_at, query)
        if query.user:
            stmt = stmt.where(AuditEntry.username.ilike(_like(query.user), escape="\\"))
        if query.text:
            stmt = stmt.where(AuditEntry.table_name.ilike(_like(query.text), escape="\\"))
        add(session.execute(stmt.group_by(day)), "operation")
    model = _interface_model()
    if "interface" in kinds and model is not None and not query.user:
        day = func.date(model.started_at)
        stmt = _time_filter(select(day, func.count()), model.started_at, query)
        if query.text:
            stmt = stmt.where(model.error.ilike(_like(query.text), escape="\\"))
        add(session.execute(stmt.group_by(day)), "interface")
    return dict(sorted(per_day.items(), reverse=True))
