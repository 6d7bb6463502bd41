"""SM2 signatures of submissions and approvals: signed with the user's own key, verified later."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Text, select, type_coerce

from orgcarbon.platform.extensions import db
from orgcarbon.security.models import Signature, UserSecurity
from orgcarbon.security.signatures import check_signature, sign_action, verify_signature
from tests.conftest import run_cli

CONTENT = {"submission_id": 12, "version": 3, "values": {"coke_t": "1200.5", "gas_m3": 35000},
           "status": "submitted", "user": "filler"}


def _sign(app: Flask, username: str, object_id: int = 12, content: dict | None = None) -> int:  # type: ignore[type-arg]
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        signature = sign_action(db.session, user, "fm_submission", object_id, "submit", content or CONTENT)
        db.session.commit()
        return signature.id


def test_sign_verify_and_detect_a_changed_content(app: Flask) -> None:
    first = _sign(app, "filler")
    second = _sign(app, "filler", 13, {**CONTENT, "submission_id": 13})
    with app.app_context():
        row = db.session.get(Signature, first)
        assert verify_signature(db.session, row)
        assert row.username == "filler" and len(row.digest) == 64 and row.content == CONTENT
        state = db.session.get(UserSecurity, row.user_id)
        assert state.sm2_public_key == row.public_key  # one key per user, reused
        assert db.session.get(Signature, second).public_key == row.public_key
        raw = db.session.scalar(select(type_coerce(UserSecurity.__table__.c.sm2_private_key, Text))
                                .where(UserSecurity.user_id == row.user_id))
        assert raw.startswith("k") and ":" in raw and len(raw) > 64  # encrypted, not the 64 hex digits
        row.content = {**CONTENT, "values": {"coke_t": "1100.5", "gas_m3": 35000}}
        db.session.commit()
        result = check_signature(db.session, row)
        assert not result.ok and "内容已被修改" in result.reason
    output = run_cli(app, ["signatures", "verify", "--object-type", "fm_submission"])
    assert output.exit_code != 0 and f"签名 {first}" in output.output and f"签名 {second}" not in output.output
    ok = run_cli(app, ["signatures", "verify", "--object-id", "13"])
    assert ok.exit_code == 0 and "共 1 条，全部有效" in ok.output


def test_a_signature_made_with_another_key_fails(app: Flask) -> None:
    mine = _sign(app, "filler")
    theirs = _sign(app, "approver")
    with app.app_context():
        row, other = db.session.get(Signature, mine), db.session.get(Signature, theirs)
        row.signature = other.signature.replace('"approver"', '"filler"')
        row.public_key = other.public_key
        db.session.commit()
        assert not verify_signature(db.session, row)
        fresh = db.session.get(Signature, theirs)
        fresh.digest = "0" * 64
        db.session.commit()
        assert not verify_signature(db.session, fresh)
