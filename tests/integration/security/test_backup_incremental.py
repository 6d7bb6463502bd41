"""Incremental backups carry every change since the previous backup, whatever made it.

Full backup; then an ORM update, insert and delete, rows written in bulk past the ORM (an
interface-log entry), a stored security log (``sec_log``) and a key rotation that re-encrypts every
sensitive value; an incremental; the chain restored into an empty database holds every table byte
for byte as the source did — ciphertext included, under the rotated key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Text, create_engine, select, type_coerce

from orgcarbon.metamodel.models import Organization, UserOrganization
from orgcarbon.platform.extensions import db
from orgcarbon.security.audit import acting_as
from orgcarbon.security.crypto import KeyRing
from tests.conftest import build_app, dispose, run_cli
from tests.databases import DatabaseFactory
from tests.integration.security.test_backup import invoke, take

PHONE = "13900001111"
LOG_TABLE = "sec_log"


def raw_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table as stored (encrypted columns as their ciphertext), sorted."""
    from orgcarbon.platform.metadata import all_metadata
    from orgcarbon.security.backup_logical import present_tables, raw_table

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: sorted((tuple(r) for r in conn.execute(select(raw_table(t)))), key=repr)
                    for t in present_tables(conn, all_metadata())}
    finally:
        engine.dispose()


def _changes(app: Flask) -> dict[str, Any]:
    """Changes of every kind after the full backup; returns what to look for afterwards."""
    from orgcarbon.collection.store import write_log
    from orgcarbon.security.logstore import security_event

    with app.app_context(), acting_as("test:backup"):
        company = db.session.scalar(select(Organization).where(Organization.name == "华钢钢铁股份有限公司"))
        company.contact_phone = PHONE  # an ORM update of an encrypted column
        db.session.add(Organization(name="增量备份新厂区", level="厂区", parent_id=company.id))
        db.session.delete(db.session.scalars(select(UserOrganization).order_by(UserOrganization.id)).first())
        db.session.commit()
        # Bulk rows past the ORM (no audit entry): an interface-log line.
        write_log(db.session, kind="push", organization_id=company.id, status="success",
                  request_path="/api/v1/ingest/activity?backup-test")
        db.session.commit()
        security_event("backup_test", "增量备份测试：一条安全日志")
        return {"company": company.id}


def test_incremental_restores_logs_bulk_rows_and_rotated_values(
    app: Flask, database_url: str, db_factory: DatabaseFactory, tmp_path: Path
) -> None:
    full = take(app, "full")
    found = _changes(app)
    key_file = tmp_path / "keys" / "data.keys"
    rotated = run_cli(app, ["keys", "rotate", "--key-file", str(key_file)])
    assert rotated.exit_code == 0, rotated.output
    ring = KeyRing.from_file(key_file)
    increment = take(app, "incremental")
    source = raw_rows(database_url)

    from orgcarbon.security.backup_format import read_manifest

    changed = read_manifest(increment).manifest["changed_lines"]
    for table in ("mm_organization", "mm_user_organization", "cn_interface_log", LOG_TABLE):
        assert changed.get(table), (table, changed)

    # The operator restores with the key file: it holds the old key (full backup) and the new one.
    url = db_factory.empty()
    target = build_app(url, tmp_path / "target", DATA_KEY_FILE=str(key_file), DATA_KEY=None)
    try:
        restored = invoke(target, "restore", str(full), str(increment))
        assert restored.exit_code == 0, restored.output
        copy = raw_rows(url)
        assert {t: rows for t, rows in copy.items() if t != LOG_TABLE} == \
            {t: rows for t, rows in source.items() if t != LOG_TABLE}
        # Log rows keep coming (warnings of the restore itself): the copy holds every one up to the backup.
        assert copy[LOG_TABLE] and set(map(repr, copy[LOG_TABLE])) <= set(map(repr, source[LOG_TABLE]))
        events = [r for r in copy[LOG_TABLE] if "增量备份测试：一条安全日志" in str(r)]
        assert len(events) == 1
        with target.app_context():
            phone = db.session.scalar(select(type_coerce(Organization.__table__.c.contact_phone, Text))
                                      .where(Organization.id == found["company"]))
            assert phone.startswith(ring.active_id + ":")  # re-encrypted under the new key, as in the source
            assert db.session.get(Organization, found["company"]).contact_phone == PHONE
            assert db.session.scalar(select(Organization.id).where(Organization.name == "增量备份新厂区"))
    finally:
        dispose(target)
        db_factory.drop(url)


def test_restore_checks_the_content_against_the_last_manifest(app: Flask, target: Any, monkeypatch: Any) -> None:
    """An incremental that lost a change (simulated: its payload emptied) fails the restore's check."""
    import io
    import json
    import zipfile

    from orgcarbon.security import backup

    full = take(app, "full")
    with app.app_context(), acting_as("test:backup"):
        db.session.add(Organization(name="丢失的变更", level="厂区"))
        db.session.commit()
    real = backup.collect_changes

    def lossy(*args: Any) -> Any:
        _payload, digests, lines = real(*args)
        empty = io.BytesIO()
        with zipfile.ZipFile(empty, "w") as archive:
            archive.writestr("order.json", json.dumps([]))
        return empty.getvalue(), digests, lines

    monkeypatch.setattr(backup, "collect_changes", lossy)
    increment = take(app, "incremental")
    restored = invoke(target.app, "restore", str(full), str(increment))
    assert restored.exit_code != 0
    assert "恢复后校验失败" in restored.output and "mm_organization" in restored.output, restored.output
