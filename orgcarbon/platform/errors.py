"""Error pages and API error bodies in the user's language, without stack traces."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
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


def _respond(status: int, detail: str | None = None) -> tuple[Response | str, int]:
    message = _messages().get(status, detail or _("The request could not be completed."))
    if request.path.startswith("/api/"):
        return jsonify({"message": message, "status": status}), status
    appbuilder = getattr(request, "appbuilder", None) or __import__("flask").current_app.appbuilder
    page = render_template(
        "orgcarbon/error.html", status=status, message=message, appbuilder=appbuilder, base_template=appbuilder.base_template
    )
    return page, status


def register_error_pages(app: Flask) -> None:
    """Answer 4xx/5xx with a Chinese page (JSON under /api/) instead of Werkzeug's English one."""

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> tuple[Response | str, int]:
        if error.code is None or error.code < 400:
            return error  # type: ignore[return-value]
        return _respond(error.code, error.description)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[Response | str, int]:
        if isinstance(error, HTTPException):
            return _http_error(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(InternalServerError.code)
