"""Settings of orgcarbon: documented defaults, overridden by ``ORGCARBON_*`` environment variables.

Order of precedence (later wins): the defaults below → ``ORGCARBON_<NAME>`` environment variables
→ the ``overrides`` mapping given to ``create_app`` (tests). Every setting is listed in
``SETTINGS`` with its meaning, so the README's configuration table and ``orgcarbon config`` print
the same thing.

Secrets (``SECRET_KEY`` and the data-encryption key) are never defaults. In development mode they
are generated once and kept in ``<instance>/secrets.json`` (outside git, readable by the owner
only); in production mode the application refuses to start until they are given through the
environment, and says which one is missing.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "ORGCARBON_"


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Setting:
    """One configurable value: its Flask config key, default and meaning."""

    name: str
    default: Any
    help: str
    kind: type = str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("ENV", "development", "`development` or `production`; production refuses missing secrets"),
    Setting(
        "DATABASE_URL",
        None,
        "SQLAlchemy URL; default: SQLite file `orgcarbon.db` in the instance folder. "
        "Example: `postgresql+psycopg://user@host/orgcarbon`",
    ),
    Setting(
        "REDIS_URL",
        None,
        "Redis URL for Celery broker/results and caches; unset = tasks run in-process",
    ),
    Setting("SECRET_KEY", None, "Flask session signing key (required in production)", secret=True),
    Setting(
        "DATA_KEY",
        None,
        "Hex key (32 hex digits) for encrypting sensitive fields with SM4 (required in production)",
        secret=True,
    ),
    Setting(
        "ADMIN_PASSWORD",
        None,
        "Password of the first administrator created by `orgcarbon init`; generated and printed once if unset",
    ),
    Setting("ADMIN_USERNAME", "admin", "User name of the first administrator"),
    Setting("LANGUAGE", "zh", "Default interface language (`zh` or `en`)"),
    Setting("SESSION_TIMEOUT_MINUTES", 30, "Idle minutes before a web session expires", int),
    Setting("LOGIN_MAX_FAILURES", 5, "Failed logins that lock an account (web form and API)", int),
    Setting("LOGIN_LOCK_MINUTES", 15, "Minutes an account stays locked", int),
    Setting("LOGIN_RATE_LIMIT", "20 per minute", "Login attempts allowed per client IP (web form and API)"),
    Setting("PERMISSION_CACHE_SECONDS", 5, "Seconds a user's roles, permissions, IP lists and data scope are cached per process; security changes on this host apply at the next request; 0 = off", int),
    Setting(
        "REQUIRE_SERVICES",
        False,
        "Tests: fail instead of skip when PostgreSQL, Redis or MQTT is unreachable",
        bool,
    ),
    Setting("INSTANCE_PATH", None, "Folder for the SQLite file, dev secrets, uploads; default `./instance`"),
    Setting("LOG_LEVEL", "INFO", "Python logging level"),
    Setting("BACKUP_DIR", None, "Folder for encrypted backups; default `<instance>/backups`"),
    Setting("IMPORT_TASK_ROWS", 2000, "Excel/package imports with more rows run as a background task", int),
    Setting("IMPORT_STALE_MINUTES", 10, "Minutes without progress after which a running import may be resumed", int),
    Setting(
        "API_KEY_FILE",
        None,
        "Key file of the ingest API's SM2 private keys (`<key_id> = <64 hex>` lines, `active = <key_id>`); "
        "development: generated once as `<instance>/api_sm2_keys`; production: required for sealed requests",
    ),
    Setting(
        "API_PLAIN_CLIENTS",
        "",
        "Comma-separated API client ids allowed to send unsigned plain JSON, and only from this machine "
        "(loopback, not through a proxy); for the ingest benchmark. Default: none",
    ),
    Setting(
        "BACKUP_KEY_FILE",
        None,
        "Key-ring file for backup encryption (kept apart from the data); default: derived from DATA_KEY",
    ),
    Setting(
        "DATA_KEY_FILE",
        None,
        "Key-ring file of the field-encryption keys (`<key_id> = <32 hex>` lines, `active = <key_id>`); "
        "when set it replaces DATA_KEY and `orgcarbon keys rotate` adds keys to it",
    ),
    Setting(
        "TRUSTED_PROXY_HOPS",
        0,
        "Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted; 0 = trust none",
        int,
    ),
    Setting("PASSWORD_EXPIRY_DAYS", 0, "Days after which a password must be changed; 0 = never", int),
    Setting("PASSWORD_HISTORY", 5, "Recent passwords of a user that may not be reused; 0 = no check", int),
    Setting("AUTH_TYPE", "db", "Login: `db` (local accounts), `ldap` or `oidc` (single sign-on)"),
    Setting("LDAP_SERVER", None, "LDAP server URL, e.g. `ldaps://ldap.example.com` (AUTH_TYPE=ldap)"),
    Setting("LDAP_SEARCH", None, "LDAP base DN to search users in, e.g. `ou=people,dc=example,dc=com`"),
    Setting("LDAP_UID_FIELD", "uid", "LDAP attribute holding the user name (`sAMAccountName` for AD)"),
    Setting("LDAP_BIND_USER", None, "DN of the LDAP service account used to search (unset: anonymous)"),
    Setting("LDAP_BIND_PASSWORD", None, "Password of the LDAP service account"),
    Setting("OIDC_METADATA_URL", None, "OpenID Connect discovery URL (`…/.well-known/openid-configuration`)"),
    Setting("OIDC_CLIENT_ID", None, "OpenID Connect client id of this platform"),
    Setting("OIDC_CLIENT_SECRET", None, "OpenID Connect client secret of this platform"),
    Setting("OIDC_NAME", "统一身份认证", "Label of the single sign-on button on the login page"),
    Setting("SSO_DEFAULT_ROLE", "只读用户", "Role of a user created at the first single sign-on login"),
)

SECRET_NAMES = tuple(s.name for s in SETTINGS if s.secret)


def _parse(setting: Setting, raw: str) -> Any:
    """Turn an environment string into the setting's type."""
    if setting.kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"{ENV_PREFIX}{setting.name} must be an integer, got {raw!r}") from exc
    return raw


def read_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the settings given as ``ORGCARBON_*`` variables, typed."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(ENV_PREFIX + setting.name)
        if raw not in (None, ""):
            found[setting.name] = _parse(setting, raw)
    return found


def default_instance_path() -> Path:
    """The instance folder used when ``ORGCARBON_INSTANCE_PATH`` is unset: ``./instance``."""
    return Path.cwd() / "instance"


def _dev_secrets(instance: Path) -> dict[str, str]:
    """Load, or create once, the development secrets file in the instance folder."""
    path = instance / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_KEY": secrets.token_hex(16),
    }
    missing = {k: v for k, v in generated.items() if k not in stored}
    if missing:
        stored.update(missing)
        instance.mkdir(parents=True, exist_ok=True)
        # Created with owner-only permissions: these keys sign sessions and encrypt data.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(stored, fh, indent=2)
    return stored


def resolve_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Merge defaults, environment and overrides into one typed dict; fill or refuse secrets."""
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    values.update(read_environment(environ))
    values.update(dict(overrides or {}))

    if values["ENV"] not in {"development", "production"}:
        raise SettingsError(f"{ENV_PREFIX}ENV must be 'development' or 'production', got {values['ENV']!r}")
    instance = Path(values["INSTANCE_PATH"] or default_instance_path()).resolve()
    values["INSTANCE_PATH"] = str(instance)

    if values.get("DATA_KEY_FILE"):
        # The key ring in the file wins: its active key is the one every module encrypts with.
        from orgcarbon.security.crypto.fields import KeyRing

        try:
            ring = KeyRing.from_file(values["DATA_KEY_FILE"])
        except (OSError, ValueError) as exc:
            raise SettingsError(f"{ENV_PREFIX}DATA_KEY_FILE cannot be read: {exc}") from exc
        values["DATA_KEY"] = ring.keys[ring.active_id].hex()
    missing = [name for name in SECRET_NAMES if not values.get(name)]
    if missing and values["ENV"] == "production":
        names = ", ".join(ENV_PREFIX + name for name in missing)
        raise SettingsError(
            f"Production mode needs these secrets set in the environment: {names}. "
            "No default secret is ever used in production."
        )
    if missing:
        dev = _dev_secrets(instance)
        for name in missing:
            values[name] = dev[name]

    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance / 'orgcarbon.db'}"
    return values


def flask_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """Translate resolved settings into the Flask / Flask-AppBuilder configuration keys."""
    from datetime import timedelta

    from flask_appbuilder.const import AUTH_DB

    production = values["ENV"] == "production"
    db_url = values["DATABASE_URL"]
    if db_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; the bare scheme would ask for psycopg2.
        db_url = "postgresql+psycopg://" + db_url[len("postgresql://") :]
    config: dict[str, Any] = {
        "ORGCARBON": dict(values),
        "SECRET_KEY": values["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "APP_NAME": "组织碳平台",
        "APP_THEME": "",
        "AUTH_TYPE": AUTH_DB,
        "AUTH_ROLE_ADMIN": "系统管理员",
        "AUTH_ROLE_PUBLIC": "匿名用户",
        "AUTH_USER_REGISTRATION": False,
        # Tables come from Alembic migrations and permissions from `orgcarbon init`, never as a
        # side effect of building the app (which would race between web and worker processes).
        "FAB_CREATE_DB": False,
        "FAB_UPDATE_PERMS": False,
        "FAB_ADD_SECURITY_API": True,
        "FAB_API_SWAGGER_UI": True,
        "FAB_PASSWORD_COMPLEXITY_ENABLED": True,
        "FAB_SECURITY_MANAGER_CLASS": "orgcarbon.security.manager.OrgcarbonSecurityManager",
        "FAB_INDEX_VIEW": "orgcarbon.platform.home.HomeView",
        "BABEL_DEFAULT_LOCALE": values["LANGUAGE"],
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        "LANGUAGES": {
            "zh": {"flag": "cn", "name": "中文"},
            "en": {"flag": "gb", "name": "English"},
        },
        # API tokens expire like web sessions do.
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=int(values["SESSION_TIMEOUT_MINUTES"])),
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=int(values["SESSION_TIMEOUT_MINUTES"])),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "WTF_CSRF_ENABLED": True,
        "REDIS_URL": values["REDIS_URL"],
        # Login rate limit per client IP; FAB limits only the web form, register_security adds the API.
        "RATELIMIT_ENABLED": True,
        "AUTH_RATE_LIMITED": True,
        "AUTH_RATE_LIMIT": values["LOGIN_RATE_LIMIT"],
        "RATELIMIT_STORAGE_URI": values["REDIS_URL"] or "memory://",
    }
    return config
