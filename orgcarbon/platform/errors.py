"""Error pages and API error bodies in the user's language, without stack traces."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Flask,
    abort,
    current_app,
    g,
    has_request_context,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask_appbuilder.api import ModelRestApi
from flask_babel import gettext as _
from sqlalchemy import JSON, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, UnprocessableEntity
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


class InvalidQueryValue(BadRequest):
    """A value in an API request that the database cannot take: answered 400 with the Chinese reason."""

    def __str__(self) -> str:
        return str(self.description)


class MalformedValue(UnprocessableEntity):
    """A value of a write that cannot be a value of its field: answered 422 with the Chinese reason."""

    def __str__(self) -> str:
        return str(self.description)


def _note_refused_statement(context: ExceptionContext) -> None:
    """Remember, for the current /api/ request, that the database refused a statement for its input.

    Filters, orders, pages and bodies of every ModelRestApi (ours and FAB's security APIs) reach
    the database unchecked: text compared with an integer column, an integer beyond the column's
    range, a NUL character (``DataError`` on PostgreSQL, ``OverflowError`` from SQLite's driver, a
    bind processor's ``StatementError``), or a missing or duplicate value (``IntegrityError``). FAB's
    ``@safe`` turns them into a 500 before any Flask error handler sees them (its relation filters
    first re-raise them as ``ApplyFilterException``). Nothing is raised here, so code that answers
    these errors itself keeps doing so; ``_answer_input_failure`` turns a 500 that follows into
    the caller's mistake.
    """
    if not (has_request_context() and request.path.startswith("/api/")):
        return
    error, original = context.sqlalchemy_exception, context.original_exception
    if isinstance(error, IntegrityError):
        g.orgcarbon_refused = 422
    elif (isinstance(error, DataError) or isinstance(original, OverflowError)
          or (isinstance(error, StatementError) and not isinstance(error, DBAPIError))):
        g.orgcarbon_refused = 400


def _answer_input_failure(response: Response) -> Response:
    """A 500 of an /api/ request caused by the caller's input: 400, 404 or 422 with the Chinese reason.

    Only a 500 is looked at: FAB's ``protect()`` has then already let the caller in, so nothing is
    said to a caller who may not use the API (401/403 stay as they are).
    """
    status = g.pop("orgcarbon_refused", None)
    if response.status_code != InternalServerError.code or not request.path.startswith("/api/"):
        return response
    # FAB's own UserApi.put edits ``None`` for an id that names no row: that is a 404.
    if status is None and not _unknown_object():
        return response
    _rollback()  # PostgreSQL refuses every later statement of the failed transaction
    if status is None:
        return make_response(_respond(404))
    if status == 400:
        return make_response(_respond(400, message=str(_invalid_value())))
    return make_response(_respond(422, message=_(
        "Not saved: the values of %(fields)s conflict with an existing record, are missing, "
        "or refer to a record that does not exist.", fields=", ".join(_named_fields()) or _("the request"))))


def _check_model_write() -> None:
    """A signed-in caller's write to a ModelRestApi: each value has the form of its field.

    marshmallow-sqlalchemy builds a new related object from a JSON object (``TypeError`` on an
    unknown key, a 500; or a new row nobody asked for) instead of looking one up, and passes an
    object or a list through to an integer column that no driver can bind. Checked here once for
    every ModelRestApi, ours and FAB's security APIs; a caller not signed in gets FAB's 401.
    """
    if request.method not in ("POST", "PUT") or not request.path.startswith("/api/"):
        return
    view = _model_api()
    if view is None or not _signed_in():
        return
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        return
    bad = [str(name) for name, value in body.items() if not _value_form_ok(view.datamodel, str(name), value)]
    if bad:
        raise MalformedValue(_("%(fields)s: the value has the wrong form: give the id of a related record (a list "
                               "of ids where several are allowed) or a single plain value, not an object or a list.",
                               fields=", ".join(bad)))


def _value_form_ok(datamodel: Any, name: str, value: object) -> bool:
    def is_id(item: object) -> bool:
        return isinstance(item, int) and not isinstance(item, bool)

    if datamodel.is_relation(name):
        if datamodel.is_relation_many_to_many(name) or datamodel.is_relation_one_to_many(name):
            return isinstance(value, list) and all(is_id(item) for item in value)
        return value is None or is_id(value)
    column = datamodel.obj.__table__.columns.get(name)
    return column is None or isinstance(column.type, JSON) or not isinstance(value, dict | list)


def _refuse_unusable_query_args() -> None:
    """Under /api/, a NUL character in a query argument or a negative page is refused up front.

    PostgreSQL refuses both (see above) while SQLite takes them; checking them here gives the
    same 400 on either database instead of an answer that depends on the backend.
    """
    if not request.path.startswith("/api/") or not _signed_in():
        return
    page = _rison_query().get("page")
    if any("\x00" in value for value in request.args.values()) or (isinstance(page, int) and page < 0):
        raise _invalid_value()


def _model_api() -> ModelRestApi | None:
    view = getattr(current_app.view_functions.get(request.endpoint or ""), "__self__", None)
    return view if isinstance(view, ModelRestApi) else None


def _signed_in() -> bool:
    """A browser session or a valid bearer token: the input checks never answer before FAB's 401."""
    from flask_jwt_extended import verify_jwt_in_request
    from flask_login import current_user

    if current_user.is_authenticated:
        return True
    try:
        return verify_jwt_in_request(optional=True) is not None
    except Exception:  # noqa: BLE001 - an invalid or expired token: the view answers 401
        return False


def _unknown_object() -> bool:
    """A PUT or DELETE on a ModelRestApi whose ``pk`` names no row at all."""
    view, pk = _model_api(), (request.view_args or {}).get("pk")
    if view is None or pk is None or request.method not in ("PUT", "DELETE"):
        return False
    try:
        return view.datamodel.get(pk) is None
    except Exception:  # noqa: BLE001 - the failed transaction: look again after a rollback
        _rollback()
        return view.datamodel.get(pk) is None


def _invalid_value() -> InvalidQueryValue:
    return InvalidQueryValue(_(
        "The value of %(fields)s is invalid: text where a number is expected, a number out of range, "
        "or a NUL control character.",
        fields=", ".join(_named_fields()) or _("the query"),
    ))


def _rison_query() -> dict[str, object]:
    """FAB's rison argument ``q`` as a dict ({} when absent or unreadable: FAB answers that itself)."""
    import prison

    try:
        query = prison.loads(request.args.get("q", "()"))
    except Exception:  # noqa: BLE001 - any parse failure of a caller's text
        return {}
    return query if isinstance(query, dict) else {}


def _named_fields() -> list[str]:
    """The fields the request gives values for: rison filters, order and page, or the JSON body's keys."""
    names: list[str] = []
    query = _rison_query()
    if query:
        filters = query.get("filters")
        names += [str(f.get("col")) for f in filters if isinstance(f, dict)] if isinstance(filters, list) else []
        names += [str(query[k]) if k == "order_column" else k for k in ("order_column", "page", "page_size")
                  if k in query]
    body = request.get_json(silent=True) if request.is_json else None
    names += [str(k) for k in body] if isinstance(body, dict) else []
    return list(dict.fromkeys(names))[:8]


def register_error_pages(app: Flask) -> None:
    """Answer 4xx/5xx with a Chinese page (JSON under /api/) instead of Werkzeug's English one."""
    from orgcarbon.platform.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "handle_error", _note_refused_statement)
    app.before_request(_refuse_unusable_query_args)
    app.before_request(_check_model_write)
    app.after_request(_answer_input_failure)

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
        if isinstance(error, InvalidQueryValue | MalformedValue):
            return _respond(error.code, message=str(error))
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
        if "orgcarbon_refused" not in g:  # else the caller's input: _answer_input_failure says so
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
