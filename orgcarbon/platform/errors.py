"""Error pages and API error bodies in the user's language, without stack traces."""

from __future__ import annotations

import logging

from flask import Flask, abort, g, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)


def _messages() -> dict[int, str]:
    return {
        400: _("The request is invalid."),
        401: _("Please log in first."),
        403: _("Your role does not have permission to open this page."),
        404: _("The page or record does not exist, or is outside your data scope."),
        405: _("This operation is not allowed here."),
        413: _("The uploaded file is too large."),
        429: _("Too many requests; please try again later."),
        500: _("An internal error occurred. It has been logged; please contact the administrator."),
    }


def _respond(status: int, detail: str | None = None, message: str | None = None,
             code: str | None = None) -> tuple[Response | str, int]:
    message = message or _messages().get(status, detail or _("The request could not be completed."))
    if request.path.startswith("/api/"):
        body: dict[str, object] = {"message": message, "status": status}
        if code:
            body["code"] = code
        return jsonify(body), status
    appbuilder = getattr(request, "appbuilder", None) or __import__("flask").current_app.appbuilder
    if "user" not in g:
        # Refused before FAB's own hook ran (CSRF, IP allowlist): the menu still needs the user.
        from flask_login import current_user

        g.user = current_user._get_current_object()
    page = render_template(
        "orgcarbon/error.html", status=status, message=message, appbuilder=appbuilder, base_template=appbuilder.base_template
    )
    return page, status


def refusal(status: int, message: str, code: str) -> tuple[Response | str, int]:
    """A refusal with its own Chinese reason: a page, or ``{"code", "message", "status"}`` under /api/."""
    return _respond(status, message=message, code=code)


def register_error_pages(app: Flask) -> None:
    """Answer 4xx/5xx with a Chinese page (JSON under /api/) instead of Werkzeug's English one."""

    @app.url_value_preprocessor
    def _refuse_oversized_ids(endpoint: str | None, values: dict[str, object] | None) -> None:
        # An id no id column can hold names no row: 404, never a driver overflow (500, and FAB's @safe
        # APIs would turn it into one). SQLite integers have 64 bits; PostgreSQL id columns are
        # 32-bit integers except the audit trail's 64-bit ids.
        limit = _id_limit(endpoint)
        for value in (values or {}).values():
            if isinstance(value, int) and not -limit <= value < limit:
                abort(404)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> tuple[Response | str, int]:
        if error.code is None or error.code < 400:
            return error  # type: ignore[return-value]
        return _respond(error.code, error.description)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[Response | str, int]:
        if isinstance(error, HTTPException):
            return _http_error(error)
        if isinstance(error, FileNotFoundError | IsADirectoryError) or (
            isinstance(error, IndexError) and str(request.endpoint).endswith(".download")
        ):
            # FAB's download views hand any file name to send_file (and split it without checking).
            return _respond(404)
        log.exception("unhandled error on %s %s", request.method, request.path)
        _rollback()  # the page below must not run on the failed transaction
        return _respond(InternalServerError.code)


def _id_limit(endpoint: str | None) -> int:
    from orgcarbon.platform.extensions import db

    try:
        dialect = db.engine.dialect.name
    except Exception:  # noqa: BLE001 - no database bound: the SQLite bound is the wider one
        dialect = "sqlite"
    if dialect == "postgresql" and "audit" not in (endpoint or "").lower():
        return 2**31
    return 2**63


def _rollback() -> None:
    try:
        from orgcarbon.platform.extensions import db

        db.session.rollback()
    except Exception:  # noqa: BLE001 - the error page matters more than a failed rollback
        log.warning("rollback after an unhandled error failed", exc_info=True)
