"""Unified identity (spec 5.4): LDAP or OpenID Connect through Flask-AppBuilder's own auth types.

``AUTH_TYPE`` chooses the login: ``db`` (local accounts, the default), ``ldap`` (``AUTH_LDAP``:
user name and password checked against the directory) or ``oidc`` (``AUTH_OAUTH`` with one OpenID
Connect provider found through its discovery URL). A user signing in through LDAP or OIDC for the
first time is created with ``SSO_DEFAULT_ROLE``; an administrator then gives roles and
organisations. The local administrator of ``orgcarbon init`` keeps working only with ``db``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_appbuilder.const import AUTH_DB, AUTH_LDAP, AUTH_OAUTH

from orgcarbon.config import ENV_PREFIX, SettingsError

OIDC_PROVIDER = "oidc"
AUTH_TYPES = {"db": AUTH_DB, "ldap": AUTH_LDAP, "oidc": AUTH_OAUTH}


def _require(settings: Mapping[str, Any], *names: str) -> None:
    missing = [ENV_PREFIX + n for n in names if not settings.get(n)]
    if missing:
        raise SettingsError(f"{ENV_PREFIX}AUTH_TYPE={settings['AUTH_TYPE']} needs: {', '.join(missing)}")


def auth_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The Flask-AppBuilder configuration keys for the chosen login type."""
    kind = str(settings.get("AUTH_TYPE") or "db").lower()
    if kind not in AUTH_TYPES:
        raise SettingsError(f"{ENV_PREFIX}AUTH_TYPE must be db, ldap or oidc, got {kind!r}")
    config: dict[str, Any] = {"AUTH_TYPE": AUTH_TYPES[kind]}
    if kind == "db":
        return config
    config |= {"AUTH_USER_REGISTRATION": True, "AUTH_USER_REGISTRATION_ROLE": settings["SSO_DEFAULT_ROLE"]}
    if kind == "ldap":
        _require(settings, "LDAP_SERVER", "LDAP_SEARCH")
        config |= {
            "AUTH_LDAP_SERVER": settings["LDAP_SERVER"],
            "AUTH_LDAP_SEARCH": settings["LDAP_SEARCH"],
            "AUTH_LDAP_UID_FIELD": settings["LDAP_UID_FIELD"] or "uid",
            "AUTH_LDAP_BIND_USER": settings.get("LDAP_BIND_USER") or "",
            "AUTH_LDAP_BIND_PASSWORD": settings.get("LDAP_BIND_PASSWORD") or "",
            "AUTH_LDAP_FIRSTNAME_FIELD": "givenName",
            "AUTH_LDAP_LASTNAME_FIELD": "sn",
            "AUTH_LDAP_EMAIL_FIELD": "mail",
        }
        return config
    _require(settings, "OIDC_METADATA_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
    try:
        import authlib  # noqa: F401
    except ImportError as exc:
        raise SettingsError(
            f"{ENV_PREFIX}AUTH_TYPE=oidc needs Authlib: install orgcarbon[sso] (pip install authlib)"
        ) from exc
    config["OAUTH_PROVIDERS"] = [{
        "name": OIDC_PROVIDER,
        "icon": "fa-key",
        "token_key": "access_token",
        "remote_app": {
            "client_id": settings["OIDC_CLIENT_ID"],
            "client_secret": settings["OIDC_CLIENT_SECRET"],
            "server_metadata_url": settings["OIDC_METADATA_URL"],
            "client_kwargs": {"scope": "openid email profile"},
        },
    }]
    return config


def oidc_user_info(claims: Mapping[str, Any]) -> dict[str, Any]:
    """FAB's user info from OpenID Connect claims (ID token or userinfo endpoint)."""
    name = str(claims.get("name") or "")
    return {
        "username": claims.get("preferred_username") or claims.get("email") or claims.get("sub"),
        "email": claims.get("email") or "",
        "first_name": claims.get("given_name") or name or "",
        "last_name": claims.get("family_name") or "",
        "role_keys": list(claims.get("groups") or []),
    }
