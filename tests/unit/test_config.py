"""Settings: defaults, ORGCARBON_* overrides, development secrets, production refusal."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from orgcarbon.config import SettingsError, flask_config, resolve_settings


def test_production_refuses_to_start_without_secrets_and_names_them(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as err:
        resolve_settings({"ENV": "production", "INSTANCE_PATH": str(tmp_path)}, environ={})
    assert "ORGCARBON_SECRET_KEY" in str(err.value)
    assert "ORGCARBON_DATA_KEY" in str(err.value)
    assert not (tmp_path / "secrets.json").exists()


def test_production_names_only_the_missing_secret(tmp_path: Path) -> None:
    env = {"ORGCARBON_ENV": "production", "ORGCARBON_SECRET_KEY": "s" * 40, "ORGCARBON_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(SettingsError) as err:
        resolve_settings(environ=env)
    assert "ORGCARBON_DATA_KEY" in str(err.value)
    assert "ORGCARBON_SECRET_KEY" not in str(err.value)


def test_production_with_secrets_uses_them(tmp_path: Path) -> None:
    env = {
        "ORGCARBON_ENV": "production",
        "ORGCARBON_SECRET_KEY": "k" * 40,
        "ORGCARBON_DATA_KEY": "ab" * 16,
        "ORGCARBON_INSTANCE_PATH": str(tmp_path),
    }
    values = resolve_settings(environ=env)
    assert values["SECRET_KEY"] == "k" * 40
    assert values["DATA_KEY"] == "ab" * 16
    assert flask_config(values)["SESSION_COOKIE_SECURE"] is True


def test_development_creates_secrets_once_owner_only(tmp_path: Path) -> None:
    first = resolve_settings({"INSTANCE_PATH": str(tmp_path)}, environ={})
    second = resolve_settings({"INSTANCE_PATH": str(tmp_path)}, environ={})
    path = tmp_path / "secrets.json"
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert len(first["SECRET_KEY"]) >= 40
    assert json.loads(path.read_text())["DATA_KEY"] == first["DATA_KEY"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_environment_overrides_defaults_and_overrides_win(tmp_path: Path) -> None:
    env = {
        "ORGCARBON_LANGUAGE": "en",
        "ORGCARBON_SESSION_TIMEOUT_MINUTES": "12",
        "ORGCARBON_REDIS_URL": "redis://example:6379/0",
        "ORGCARBON_INSTANCE_PATH": str(tmp_path),
    }
    values = resolve_settings({"LANGUAGE": "zh"}, environ=env)
    assert values["LANGUAGE"] == "zh"
    assert values["SESSION_TIMEOUT_MINUTES"] == 12
    assert values["REDIS_URL"] == "redis://example:6379/0"
    assert values["DATABASE_URL"] == f"sqlite:///{tmp_path.resolve() / 'orgcarbon.db'}"
    assert flask_config(values)["PERMANENT_SESSION_LIFETIME"].total_seconds() == 12 * 60


def test_bad_integer_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ORGCARBON_SESSION_TIMEOUT_MINUTES"):
        resolve_settings(environ={"ORGCARBON_SESSION_TIMEOUT_MINUTES": "half an hour", "ORGCARBON_INSTANCE_PATH": str(tmp_path)})


def test_plain_postgresql_url_uses_psycopg3(tmp_path: Path) -> None:
    values = resolve_settings({"DATABASE_URL": "postgresql://u@h/db", "INSTANCE_PATH": str(tmp_path)}, environ={})
    assert flask_config(values)["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_defaults_are_chinese_app_with_admin_role(tmp_path: Path) -> None:
    config = flask_config(resolve_settings({"INSTANCE_PATH": str(tmp_path)}, environ={}))
    assert config["APP_NAME"] == "组织碳平台"
    assert config["BABEL_DEFAULT_LOCALE"] == "zh"
    assert config["AUTH_ROLE_ADMIN"] == "系统管理员"
    assert config["FAB_CREATE_DB"] is False
