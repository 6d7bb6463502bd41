"""``register_security``: the request hooks and listeners that apply to every page and API."""

from __future__ import annotations

from flask import Flask, Response, g, request, session

from orgcarbon.security.audit import install_audit_listener

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
)


def register_security(app: Flask) -> None:
    """Install the audit listener, the idle session timeout and per-user language persistence."""
    install_audit_listener()
    app.config.setdefault("FAB_PASSWORD_COMPLEXITY_VALIDATOR", _validator())

    @app.before_request
    def _idle_timeout() -> None:
        # PERMANENT_SESSION_LIFETIME only applies to permanent sessions; refreshed on each request
        # it becomes an idle timeout (SESSION_REFRESH_EACH_REQUEST).
        session.permanent = True

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith("/swagger"):
            # FAB's pages use inline scripts and styles; everything else must come from us.
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    @app.after_request
    def _remember_language(response: Response) -> Response:
        # FAB's /lang/<locale> stores the choice in the session only; keep it with the user.
        if request.endpoint == "LocaleView.index" and response.status_code in (301, 302):
            user = getattr(g, "user", None)
            locale = session.get("locale")
            if user is not None and getattr(user, "is_authenticated", False) and locale:
                _save_locale(user.id, locale)
        return response


def _validator():  # type: ignore[no-untyped-def]
    from orgcarbon.security.passwords import validate_password

    return validate_password


def _save_locale(user_id: int, locale: str) -> None:
    from orgcarbon.platform.extensions import db
    from orgcarbon.security.models import UserSetting

    setting = db.session.get(UserSetting, user_id) or UserSetting(user_id=user_id)
    if setting.locale != locale:
        setting.locale = locale
        db.session.add(setting)
        db.session.commit()


def limit_api_login(app: Flask) -> None:
    """Apply the login rate limit to the REST login too (FAB limits only the web form)."""
    if not app.config.get("AUTH_RATE_LIMITED"):
        return
    from flask_appbuilder.security.api import SecurityApi

    appbuilder = app.appbuilder  # type: ignore[attr-defined]
    for view in appbuilder.baseviews:
        if isinstance(view, SecurityApi):
            appbuilder.sm.limiter.limit(app.config["AUTH_RATE_LIMIT"], methods=["POST"])(view.blueprint)
