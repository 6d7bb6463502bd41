"""The log store (spec 6.7.2): system, error and security logs kept in ``sec_log``.

A ``logging`` handler on the root logger keeps every WARNING or worse record (kind ``system``,
``error`` from ERROR up) and every security event (kind ``security``: logins, failed logins, locks,
unlocks, IP and permission refusals, password changes) whatever its level. Operation logs are the
audit trail (``audit_entry``) and interface logs are ``cn_interface_log``; the 日志管理 page reads
all of them together.

Rows are written through their own connection, never the request's session: a request whose
transaction fails (the very case an error log is about) still leaves its log rows. During a web
request the rows are collected and written when the request's app context ends, after its session
is closed, so SQLite's single writer is never waited for; outside requests they are written at
once. Writing a log row never logs (no recursion) and never raises into the caller.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from typing import Any

from orgcarbon.security.models import LogRecord, utcnow

EVENTS_LOGGER = "orgcarbon.security.events"
KINDS = ("operation", "system", "error", "security", "interface")
# Loggers whose records are not stored: the database layer (it would recurse when the database is
# the problem) and FAB's "access denied" line, which the permission-refusal event replaces.
SKIPPED = ("sqlalchemy", "alembic", "orgcarbon.security.logstore", "flask_appbuilder.security.decorators")
_LIMITS = {"level": 16, "logger": 200, "username": 256, "ip": 64, "path": 500}
_MAX_TRACE = 20_000

_state = threading.local()
log = logging.getLogger(__name__)


def security_event(event: str, message: str, *, level: int = logging.INFO, username: str | None = None,
                   user_id: int | None = None, **details: Any) -> None:
    """Record a security event (also printed by the normal log handlers)."""
    logger = logging.getLogger(EVENTS_LOGGER)
    # logging.config.fileConfig (Alembic's env.py runs it) disables loggers that exist already.
    logger.disabled = False
    _attach()
    logger.log(
        level, message,
        extra={"log_kind": "security", "log_details": {"event": event, **details},
               "log_username": username, "log_user_id": user_id},
    )


def _clip(name: str, value: Any) -> Any:
    limit = _LIMITS.get(name)
    return value[:limit] if isinstance(value, str) and limit else value


def _request_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {"username": getattr(record, "log_username", None),
                              "user_id": getattr(record, "log_user_id", None)}
    try:
        from flask import has_request_context, request

        from orgcarbon.security.audit import current_actor

        actor = current_actor()
        if fields["username"] is None and actor.username not in ("system", "anonymous"):
            fields["username"], fields["user_id"] = actor.username, actor.user_id
        fields["ip"] = actor.ip
        if has_request_context():
            fields["path"] = f"{request.method} {request.path}"
    except Exception:  # noqa: BLE001 - a log line must not fail because its context is odd
        pass
    return fields


def build_row(record: logging.LogRecord, kind: str) -> dict[str, Any]:
    """The ``sec_log`` row of a log record."""
    details = dict(getattr(record, "log_details", None) or {})
    if record.exc_info and record.exc_info[0] is not None:
        details["traceback"] = "".join(traceback.format_exception(*record.exc_info))[-_MAX_TRACE:]
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001
        message = str(record.msg)
    row = {"at": utcnow(), "kind": kind, "level": record.levelname, "logger": record.name,
           "message": message, "details": details or None, **_request_fields(record)}
    return {name: _clip(name, value) for name, value in row.items()}


def write_rows(rows: list[dict[str, Any]]) -> None:
    """Insert rows through a connection of their own (needs an app context)."""
    from orgcarbon.platform.extensions import db

    _state.writing = True
    try:
        with db.engine.begin() as connection:
            connection.execute(LogRecord.__table__.insert(), rows)
    except Exception as exc:  # noqa: BLE001 - e.g. no table yet (before `orgcarbon init`)
        text = str(exc)
        if "sec_log" not in text or ("no such table" not in text and "does not exist" not in text):
            print(f"orgcarbon: log rows not stored: {exc.__class__.__name__}: {text[:300]}", file=sys.stderr)
    finally:
        _state.writing = False


class DatabaseLogHandler(logging.Handler):
    """Stores WARNING+ records and security events in ``sec_log``."""

    def __init__(self, store_level: int = logging.WARNING) -> None:
        super().__init__(logging.NOTSET)
        self.store_level = store_level

    def kind_of(self, record: logging.LogRecord) -> str | None:
        """The kind to store ``record`` as, or None to skip it."""
        kind = getattr(record, "log_kind", None)
        if kind:
            return str(kind)
        if record.levelno < self.store_level or record.name.startswith(SKIPPED):
            return None
        if "deprecated" in str(record.msg):  # library notices for developers, not operations
            return None
        return "error" if record.levelno >= logging.ERROR else "system"

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_state, "writing", False):
            return
        try:
            kind = self.kind_of(record)
            if kind is None:
                return
            from flask import g, has_app_context, has_request_context

            if not has_app_context():
                return
            row = build_row(record, kind)
            if has_request_context():
                g.setdefault("_orgcarbon_log_rows", []).append(row)
            else:
                write_rows([row])
        except Exception:  # noqa: BLE001
            self.handleError(record)


def flush_request_rows(exc: BaseException | None = None) -> None:
    """Write the rows collected during a request (teardown of its app context)."""
    from flask import g

    rows = g.pop("_orgcarbon_log_rows", None)
    if rows:
        write_rows(rows)


_handler: DatabaseLogHandler | None = None


def _attach() -> None:
    # Idempotent; also after logging.config.fileConfig has replaced the root logger's handlers.
    global _handler
    if _handler is None:
        _handler = DatabaseLogHandler()
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    logging.getLogger(EVENTS_LOGGER).setLevel(logging.INFO)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("orgcarbon") and isinstance(logger, logging.Logger):
            logger.disabled = False


def install_log_store(app: Any) -> None:
    """Attach the handler to the root logger (once per process) and the flush to ``app``."""
    _attach()
    # Registered before the database extension, so it runs after the session is removed.
    app.teardown_appcontext(flush_request_rows)
