"""Single sign-on settings map onto Flask-AppBuilder's own auth types."""

from __future__ import annotations

import pytest
from flask_appbuilder.const import AUTH_DB, AUTH_LDAP, AUTH_OAUTH

from orgcarbon.config import SettingsError, resolve_settings
from orgcarbon.security.sso import OIDC_PROVIDER, auth_config, oidc_user_info


def settings(tmp_path, **extra):  # type: ignore[no-untyped-def]
    return resolve_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s", "DATA_KEY": "00" * 16, **extra}, {})


def test_local_accounts_are_the_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert auth_config(settings(tmp_path)) == {"AUTH_TYPE": AUTH_DB}


def test_ldap_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = auth_config(settings(tmp_path, AUTH_TYPE="ldap", LDAP_SERVER="ldaps://ldap.example.com",
                                  LDAP_SEARCH="ou=people,dc=example,dc=com", LDAP_UID_FIELD="sAMAccountName"))
    assert config["AUTH_TYPE"] == AUTH_LDAP
    assert config["AUTH_LDAP_SERVER"] == "ldaps://ldap.example.com"
    assert config["AUTH_LDAP_UID_FIELD"] == "sAMAccountName"
    assert config["AUTH_USER_REGISTRATION_ROLE"] == "只读用户"


def test_oidc_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = auth_config(settings(tmp_path, AUTH_TYPE="oidc", OIDC_METADATA_URL="https://idp/.well-known/openid-configuration",
                                  OIDC_CLIENT_ID="orgcarbon", OIDC_CLIENT_SECRET="x"))
    assert config["AUTH_TYPE"] == AUTH_OAUTH
    (provider,) = config["OAUTH_PROVIDERS"]
    assert provider["name"] == OIDC_PROVIDER
    assert provider["remote_app"]["server_metadata_url"].endswith("openid-configuration")


@pytest.mark.parametrize(("extra", "words"), [
    ({"AUTH_TYPE": "ldap"}, "ORGCARBON_LDAP_SERVER"),
    ({"AUTH_TYPE": "oidc", "OIDC_CLIENT_ID": "x"}, "ORGCARBON_OIDC_METADATA_URL"),
    ({"AUTH_TYPE": "kerberos"}, "must be db, ldap or oidc"),
])
def test_incomplete_settings_are_refused_by_name(tmp_path, extra, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError, match=words):
        auth_config(settings(tmp_path, **extra))


def test_oidc_claims_become_user_info() -> None:
    info = oidc_user_info({"sub": "42", "preferred_username": "zhangsan", "email": "z@example.com",
                           "given_name": "三", "family_name": "张", "groups": ["carbon"]})
    assert info == {"username": "zhangsan", "email": "z@example.com", "first_name": "三", "last_name": "张",
                    "role_keys": ["carbon"]}
    assert oidc_user_info({"sub": "42"})["username"] == "42"
