"""``register_security``: the request hooks and listeners that apply to every page and API."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, g, request, session

from orgcarbon.security.access import register_access_checks
from orgcarbon.security.audit import install_audit_listener
from orgcarbon.security.encrypted import data_key_ring
from orgcarbon.security.logstore import install_log_store
from orgcarbon.security.password_state import install_password_listener
from orgcarbon.security.permission_cache import init_app as init_permission_cache
from orgcarbon.security.sso import auth_config

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
    """Install the audit and password listeners, the log store, CSRF, the IP and password checks,
    the idle session timeout, security headers and per-user language persistence."""
    from flask_wtf.csrf import CSRFProtect
    from werkzeug.middleware.proxy_fix import ProxyFix

    settings = app.config["ORGCARBON"]
    install_audit_listener()
    install_password_listener()
    install_log_store(app)                      # before the database: its flush runs after the session closes
    init_permission_cache(app)                  # roles, permissions, IP lists, scope: seconds per process
    data_key_ring(app)                          # the field keys, from the key file or the environment
    app.config.update(auth_config(settings))    # local accounts, LDAP or OpenID Connect
    app.config.setdefault("FAB_PASSWORD_COMPLEXITY_VALIDATOR", _validator())
    # FAB's download views read UPLOAD_FOLDER; without it every download URL is a 500.
    app.config.setdefault("UPLOAD_FOLDER", str(Path(app.instance_path) / "uploads"))
    production = settings["ENV"] == "production"
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SECURE", production)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    # Every POST/PUT/DELETE of a page needs the form's token; FAB exempts its REST APIs (token auth)
    # when they are created, which is why this comes before the views.
    CSRFProtect(app)
    hops = int(settings.get("TRUSTED_PROXY_HOPS") or 0)
    if hops > 0:
        # Only then is X-Forwarded-For believed: otherwise any client could name its own address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    register_access_checks(app)                 # IP allowlists, forced password change, refusal log

    session_cookie = app.config.get("SESSION_COOKIE_NAME", "session")

    @app.before_request
    def _idle_timeout() -> None:
        # PERMANENT_SESSION_LIFETIME only applies to permanent sessions; refreshed on each request
        # it becomes an idle timeout (SESSION_REFRESH_EACH_REQUEST). An API call with a bearer token
        # and no session cookie has no session to keep alive: it gets no cookie either.
        if session_cookie not in request.cookies and request.headers.get("Authorization", "").startswith("Bearer "):
            return
        session.permanent = True

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
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
