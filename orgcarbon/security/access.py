"""Checks made on every request before any view runs, and the log of refusals.

* **IP allowlists** (``ip_allowlist``): a login with the right password from an address the user
  may not use is refused before a session exists (web form and REST login); a signed-in user
  (session cookie or API token) whose address is not allowed is refused and signed out.
* **Forced password change**: a user who must change the password (first login after an
  administrator set it, a reset, expiry) reaches only the change-password form and logout; the
  API answers ``403 {"code": "password_change_required"}``.
* **Refusals are security events**: every 403 answer is stored in the log with user, address
  and path.

The allowlists, the password state and the data scope of a signed-in user come from the
per-process permission cache (``permission_cache.grants_for``), so a request that passes asks the
database nothing here; a login is still checked against the stored lists.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, flash, g, redirect, request, url_for
from flask_login import current_user, logout_user
from werkzeug.security import check_password_hash

from orgcarbon.security.ip_allowlist import decide_for_user
from orgcarbon.security.logstore import security_event
from orgcarbon.security.permission_cache import grants_for, remember_scope

LOGIN_ENDPOINTS = frozenset({"AuthDBView.login", "SecurityApi.login"})
# Reachable whatever the checks say: static files, health, language, logout.
OPEN_ENDPOINTS = frozenset({
    "static", "appbuilder.static", "HealthView.health", "LocaleView.index",
    "AuthDBView.logout", "AuthLDAPView.logout", "AuthOAuthView.logout",
})
PASSWORD_ENDPOINTS = frozenset({"ResetMyPasswordView.this_form_get", "ResetMyPasswordView.this_form_post"})


def _credentials() -> tuple[str | None, str | None]:
    if request.endpoint == "SecurityApi.login":
        body = request.get_json(silent=True) or {}
        if not isinstance(body, dict) or body.get("provider", "db") != "db":
            return None, None
        return body.get("username"), body.get("password")
    return request.form.get("username"), request.form.get("password")


def _api_user() -> Any:
    """The user of a JWT bearer token, or None (invalid tokens are left to the API's own check)."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    try:
        from flask_jwt_extended import decode_token

        # Decoded here without verify_jwt_in_request, which would leave its result in ``g`` and
        # change how FAB's protect() later finds the user.
        identity = decode_token(header[7:].strip()).get("sub")
    except Exception:  # noqa: BLE001 - expired, forged or an API key: protect() answers later
        return None
    user = current_app.appbuilder.sm.load_user(identity) if identity else None  # type: ignore[attr-defined]
    # Held for the request: the session's identity map keeps objects only while something refers
    # to them, and FAB's own JWT check then finds the same user without a second query.
    g._orgcarbon_api_user = user
    return user


def _request_user() -> Any:
    if current_user and current_user.is_authenticated:
        return current_user
    if request.path.startswith("/api/"):
        return _api_user()
    return None


def _ip_refusal(user: Any, address: str | None, refused_by: str | None) -> Any:
    from orgcarbon.platform.errors import refusal

    g._orgcarbon_refusal_logged = True
    user = user._get_current_object() if hasattr(user, "_get_current_object") else user
    if current_user and current_user.is_authenticated:
        logout_user()
    g.user = current_user._get_current_object()  # the page renders before FAB's own hook sets it
    scope = "用户" if refused_by == "user" else "角色"
    security_event("ip_refused", f"用户 {user.username} 从 {address} 访问被拒绝：不在{scope}的 IP 白名单内",
                   level=logging.WARNING, username=user.username, user_id=user.id, refused_by=refused_by)
    return refusal(403, f"您当前的 IP 地址（{address}）不在允许访问的范围内。如需从此地址访问，请联系系统管理员。",
                   "ip_not_allowed")


def _check_login() -> Any:
    sm = current_app.appbuilder.sm  # type: ignore[attr-defined]
    username, password = _credentials()
    if not username or not password:
        return None
    user = sm.find_user(username=username)
    # Only a correct password learns about the allowlist; a wrong one fails (and counts) as usual.
    if user is None or not user.is_active or not user.password or not check_password_hash(user.password, password):
        return None
    decision = decide_for_user(sm.session, user, request.remote_addr)
    return None if decision.allowed else _ip_refusal(user, request.remote_addr, decision.refused_by)


def _check_user(user: Any) -> Any:
    sm = current_app.appbuilder.sm  # type: ignore[attr-defined]
    # Allowlists, password state and data scope come from the permission cache: no query at all
    # while the user's entry is fresh (see permission_cache for how fresh).
    grants = grants_for(sm, user)
    decision = grants.ip_decision(request.remote_addr)
    if not decision.allowed:
        return _ip_refusal(user, request.remote_addr, decision.refused_by)
    remember_scope(grants)
    if request.endpoint in PASSWORD_ENDPOINTS or "ResetMyPasswordView.this_form_get" not in current_app.view_functions:
        return None
    if grants.must_change_password:
        if request.path.startswith("/api/"):
            from orgcarbon.platform.errors import refusal

            g._orgcarbon_refusal_logged = True
            return refusal(403, "须先修改密码：请登录网页，在“修改密码”页设置新密码后再调用接口。", "password_change_required")
        flash("首次登录或密码已被重置、已过期：请先设置新密码。", "warning")
        return redirect(url_for("ResetMyPasswordView.this_form_get"))
    return None


def check_request() -> Any:
    """``before_request``: the IP allowlists and the forced password change."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in OPEN_ENDPOINTS:
        return None
    if endpoint in LOGIN_ENDPOINTS and request.method == "POST":
        return _check_login()
    user = _request_user()
    return _check_user(user) if user is not None else None


def log_refusal(response: Response) -> Response:
    """``after_request``: a 403 answer becomes a security event (once per request)."""
    if response.status_code == 403 and not g.get("_orgcarbon_refusal_logged"):
        user = getattr(g, "user", None)
        name = getattr(user, "username", None) if getattr(user, "is_authenticated", False) else None
        security_event("permission_denied", f"权限不足，拒绝访问：{request.method} {request.path}",
                       level=logging.WARNING, username=name, endpoint=request.endpoint)
    return response


def register_access_checks(app: Flask) -> None:
    """Install the request checks and the refusal log on ``app``."""
    app.before_request(check_request)
    app.after_request(log_refusal)
