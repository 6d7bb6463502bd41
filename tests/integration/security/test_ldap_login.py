"""LDAP single sign-on (spec 5.4) against a real OpenLDAP ``slapd`` started on a loopback port.

Needs the ``slapd`` binary (Debian package ``slapd``) and python-ldap (the ``sso`` extra, built with
``libldap2-dev libsasl2-dev``); without either the tests are skipped with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from orgcarbon.platform.extensions import db
from tests.conftest import ADMIN_PASSWORD, build_app, dispose
from tests.services import services_required

SLAPD = shutil.which("slapd") or ("/usr/sbin/slapd" if os.path.exists("/usr/sbin/slapd") else None)
try:
    import ldap  # noqa: F401  (python-ldap, the ``sso`` extra)

    _MISSING = "" if SLAPD else "slapd is not installed (Debian: apt-get install slapd)"
except ImportError:
    _MISSING = "python-ldap is not installed (make install adds the sso extra when libldap2-dev is present)"
if _MISSING:
    if services_required():
        pytest.fail(f"required service unavailable: {_MISSING}", pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)

SUFFIX = "dc=orgcarbon,dc=test"
PEOPLE = f"ou=people,{SUFFIX}"
ADMIN_DN, ADMIN_PW = f"cn=admin,{SUFFIX}", "Directory-admin-1"
USER, USER_PW = "zhangsan", "Ldap-zhangsan-1"
SCHEMAS = ("core", "cosine", "inetorgperson")


def _ssha(password: str) -> str:
    salt = os.urandom(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


LDIF = f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: orgcarbon
o: orgcarbon test

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: uid={USER},{PEOPLE}
objectClass: inetOrgPerson
uid: {USER}
cn: 张三
sn: 张
givenName: 三
mail: zhangsan@example.com
userPassword: {{password}}
"""


@dataclass
class Directory:
    """A running slapd: its URL."""

    url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    """slapd with an mdb database (one person), listening on 127.0.0.1 only; stopped afterwards."""
    root = tmp_path_factory.mktemp("slapd")
    (root / "db").mkdir()
    conf = root / "slapd.conf"
    conf.write_text("\n".join([
        *(f"include /etc/ldap/schema/{s}.schema" for s in SCHEMAS),
        f"pidfile {root / 'slapd.pid'}", "modulepath /usr/lib/ldap", "moduleload back_mdb",
        "database mdb", "maxsize 10485760", f'suffix "{SUFFIX}"', f'rootdn "{ADMIN_DN}"', f"rootpw {ADMIN_PW}",
        f"directory {root / 'db'}", "",
    ]), encoding="utf-8")
    data = root / "data.ldif"
    data.write_text(LDIF.replace("{password}", _ssha(USER_PW)), encoding="utf-8")
    loaded = subprocess.run([SLAPD, "-T", "add", "-f", str(conf), "-l", str(data)], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    url = f"ldap://127.0.0.1:{_free_port()}"
    server = subprocess.Popen([SLAPD, "-f", str(conf), "-h", url + "/", "-d", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        port = int(url.rsplit(":", 1)[1])
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                time.sleep(0.1)
        yield Directory(url)
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture()
def ldap_app(database_url: str, tmp_path: Path, directory: Directory) -> Iterator[Flask]:
    """The application with ``AUTH_TYPE=ldap`` pointing at the test directory."""
    application = build_app(database_url, tmp_path / "instance", AUTH_TYPE="ldap", LDAP_SERVER=directory.url,
                            LDAP_SEARCH=PEOPLE, LDAP_BIND_USER=ADMIN_DN, LDAP_BIND_PASSWORD=ADMIN_PW)
    yield application
    dispose(application)


def _login(app: Flask, username: str, password: str) -> tuple[int, str]:
    client = app.test_client()
    answer = client.post("/login/", data={"username": username, "password": password}, follow_redirects=True)
    return answer.status_code, answer.get_data(as_text=True)


def _user(app: Flask, username: str):  # type: ignore[no-untyped-def]
    from flask_appbuilder.security.sqla.models import User

    with app.app_context():
        found = db.session.scalar(select(User).where(User.username == username))
        if found is not None:
            db.session.expunge(found)
        return found


def test_the_directory_decides_and_the_first_login_creates_a_read_only_user(ldap_app: Flask) -> None:
    status, page = _login(ldap_app, USER, "wrong-password")
    assert status == 200 and 'name="password"' in page  # still the login form
    assert _user(ldap_app, USER) is None

    status, page = _login(ldap_app, USER, USER_PW)
    assert status == 200 and 'name="password"' not in page
    user = _user(ldap_app, USER)
    assert user is not None and user.email == "zhangsan@example.com"
    assert (user.first_name, user.last_name) == ("三", "张")
    # The directory's password is not kept: FAB stores the hash of a random secret.
    from werkzeug.security import check_password_hash

    assert not check_password_hash(user.password, USER_PW) and not check_password_hash(user.password, "")
    with ldap_app.app_context():
        from flask_appbuilder.security.sqla.models import User

        roles = [r.name for r in db.session.get(User, user.id).roles]
    assert roles == ["只读用户"]


def test_sso_users_see_nothing_until_given_an_organisation(ldap_app: Flask) -> None:
    from orgcarbon.metamodel.models import Organization, UserOrganization

    token = ldap_app.test_client().post("/api/v1/security/login", json={
        "username": USER, "password": USER_PW, "provider": "ldap", "refresh": False})
    assert token.status_code == 200, token.get_data(as_text=True)
    bearer = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    client = ldap_app.test_client()
    assert client.get("/api/v1/organization/", headers=bearer).get_json()["count"] == 0
    with ldap_app.app_context():
        west = db.session.scalar(select(Organization.id).where(Organization.name == "西区"))
        db.session.add(UserOrganization(user_id=_user(ldap_app, USER).id, organization_id=west))
        db.session.commit()
    names = [r["name"] for r in client.get("/api/v1/organization/", headers=bearer).get_json()["result"]]
    assert names == ["西区"]


def test_local_passwords_are_not_checked_in_ldap_mode(ldap_app: Flask) -> None:
    """With AUTH_TYPE=ldap the directory alone signs people in: the local admin's password does not."""
    status, page = _login(ldap_app, "admin", ADMIN_PASSWORD)
    assert 'name="password"' in page
    refused = ldap_app.test_client().post("/api/v1/security/login", json={
        "username": "admin", "password": ADMIN_PASSWORD, "provider": "ldap", "refresh": False})
    assert refused.status_code == 401
