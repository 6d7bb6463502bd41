"""The audit trail is append-only and `orgcarbon audit verify` finds any tampering."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select, text

from orgcarbon.platform.extensions import db
from orgcarbon.security.audit import AuditTrailReadOnly, acting_as
from orgcarbon.security.models import AuditEntry
from tests.conftest import run_cli


def _ids(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def test_fresh_trail_verifies_and_new_changes_extend_the_chain(app: Flask) -> None:
    with app.app_context(), acting_as("script:test"):
        app.appbuilder.sm.add_role("链测试角色")
    result = run_cli(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "审计日志完整" in result.output
    checked = int(result.output.split("已校验 ")[1].split(" 条")[0])
    assert checked == len(_ids(app))


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        ("UPDATE audit_entry SET username = 'mallory' WHERE id = :victim", "被修改"),
        ("DELETE FROM audit_entry WHERE id = :victim", "删除"),
    ],
)
def test_edited_or_removed_entry_is_named(app: Flask, tamper: str, words: str) -> None:
    ids = _ids(app)
    victim = ids[len(ids) // 2]
    with app.app_context():
        db.session.execute(text(tamper), {"victim": victim})
        db.session.commit()
    result = run_cli(app, ["audit", "verify"])
    assert result.exit_code != 0
    assert words in result.output
    expected = victim if "UPDATE" in tamper else ids[ids.index(victim) + 1]
    assert f"记录 {expected}：" in result.output


def test_the_application_cannot_change_or_delete_audit_entries(app: Flask) -> None:
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).limit(1)).one()
        entry.username = "mallory"
        with pytest.raises(AuditTrailReadOnly):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalars(select(AuditEntry).limit(1)).one())
        with pytest.raises(AuditTrailReadOnly):
            db.session.flush()
        db.session.rollback()
