"""Sensitive columns: SM4-GCM in the database, masked for roles without clear access, key rotation."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from sqlalchemy import Text, select, type_coerce

from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.security.crypto import KeyRing
from orgcarbon.security.models import AuditEntry, UserSecurity
from orgcarbon.security.signatures import sign_action, verify_signature
from tests.conftest import ADMIN_PASSWORD, TEST_SECRETS, build_app, dispose, login, run_cli
from tests.integration.metamodel.helpers import Api

PHONE, EMAIL = "13812345678", "zhangsan@example.com"


def _org_with_contacts(app: Flask) -> int:
    # An organisation every demo user can read: the first one in the viewer's scope.
    org_id = Api(app, "viewer").get("organization/").get_json()["result"][0]["id"]
    with app.app_context():
        org = db.session.get(Organization, org_id)
        org.contact_phone, org.contact_email = PHONE, EMAIL
        db.session.commit()
        return org.id


def _raw(app: Flask, org_id: int) -> tuple[str, str]:
    table = Organization.__table__
    with app.app_context():
        row = db.session.execute(select(type_coerce(table.c.contact_phone, Text), type_coerce(table.c.contact_email, Text))
                                 .where(table.c.id == org_id)).one()
    return row[0], row[1]


def test_contacts_are_stored_encrypted_and_read_in_clear(app: Flask) -> None:
    org_id = _org_with_contacts(app)
    phone, email = _raw(app, org_id)
    active = KeyRing.from_hex(TEST_SECRETS["DATA_KEY"]).active_id
    assert phone.startswith(active + ":") and PHONE not in phone
    assert email.startswith(active + ":") and "zhangsan" not in email
    with app.app_context():
        assert db.session.get(Organization, org_id).contact_phone == PHONE
        insert_or_update = db.session.scalars(select(AuditEntry).where(AuditEntry.table_name == "mm_organization",
                                                                     AuditEntry.row_id == str(org_id))).all()
    trail = str([e.after for e in insert_or_update])
    assert "138****5678" in trail and PHONE not in trail and "zhangsan" not in trail


def test_viewers_and_auditors_see_masked_contacts_modellers_in_clear(app: Flask) -> None:
    org_id = _org_with_contacts(app)
    for user, shown in (("viewer", "138****5678"), ("auditor", "138****5678"), ("modeller", PHONE), ("admin", PHONE)):
        result = Api(app, user).get(f"organization/{org_id}").get_json()["result"]
        assert result["contact_phone"] == shown, user
        listed = Api(app, user).get("organization/").get_json()["result"]
        assert all(r.get("contact_phone") in (None, shown) for r in listed)
    viewer = app.test_client()
    login(viewer, "viewer", "Demo-viewer-1")
    page = viewer.get(f"/organizationview/show/{org_id}").get_data(as_text=True)
    assert "138****5678" in page and PHONE not in page and "z*******@example.com" in page
    modeller = app.test_client()
    login(modeller, "modeller", "Demo-modeller-1")
    assert PHONE in modeller.get(f"/organizationview/show/{org_id}").get_data(as_text=True)


def test_keys_rotate_reencrypts_every_column_and_old_values_stay_readable(app: Flask, database_url: str,
                                                                          tmp_path: Path) -> None:
    org_id = _org_with_contacts(app)
    with app.app_context():
        user = app.appbuilder.sm.find_user(username="approver")
        signature = sign_action(db.session, user, "fm_submission", 7, "approve", {"submission_id": 7, "status": "approved"})
        db.session.commit()
        signature_id, user_id = signature.id, user.id
    old = KeyRing.from_hex(TEST_SECRETS["DATA_KEY"]).active_id
    refused = run_cli(app, ["keys", "rotate"])
    assert refused.exit_code != 0 and "--key-file" in refused.output
    key_file = tmp_path / "keys" / "data.keys"
    result = run_cli(app, ["keys", "rotate", "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    ring = KeyRing.from_file(key_file)
    assert set(ring.keys) == {old, ring.active_id} and ring.active_id != old
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert re.search(r"mm_organization\.contact_phone：[1-9]\d* 条", result.output)
    assert re.search(r"sec_user_security\.sm2_private_key：[1-9]\d* 条", result.output)
    phone, email = _raw(app, org_id)
    assert phone.startswith(ring.active_id + ":") and email.startswith(ring.active_id + ":")
    with app.app_context():
        private = db.session.scalar(select(type_coerce(UserSecurity.__table__.c.sm2_private_key, Text))
                                    .where(UserSecurity.user_id == user_id))
        assert private.startswith(ring.active_id + ":")
        assert db.session.get(Organization, org_id).contact_phone == PHONE  # same process, new ring
    status = run_cli(app, ["keys", "status"])
    assert re.search(rf"mm_organization\.contact_phone：{ring.active_id} \d+ 条\n", status.output)
    assert old not in status.output.split("\n", 1)[1].replace(f"、{old}", "")  # no value left under the old key
    dispose(app)
    restarted = build_app(database_url, tmp_path / "restarted", DATA_KEY_FILE=str(key_file), DATA_KEY=None)
    try:
        with restarted.app_context():
            assert db.session.get(Organization, org_id).contact_email == EMAIL
            from orgcarbon.security.models import Signature

            assert verify_signature(db.session, db.session.get(Signature, signature_id))
    finally:
        dispose(restarted)


def test_key_file_replaces_the_environment_key(tmp_path: Path) -> None:
    from orgcarbon.config import resolve_settings
    from orgcarbon.security.keys import write_key_file

    ring = KeyRing.from_hex(TEST_SECRETS["DATA_KEY"]).with_new_key(bytes(range(16)))
    write_key_file(tmp_path / "k", ring)
    values = resolve_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", "ENV": "production",
                               "DATA_KEY_FILE": str(tmp_path / "k")}, {})
    assert values["DATA_KEY"] == bytes(range(16)).hex()


def test_admin_sees_clear_values_in_the_edit_form(app: Flask) -> None:
    org_id = _org_with_contacts(app)
    admin = app.test_client()
    login(admin, "admin", ADMIN_PASSWORD)
    assert PHONE in admin.get(f"/organizationview/edit/{org_id}").get_data(as_text=True)
