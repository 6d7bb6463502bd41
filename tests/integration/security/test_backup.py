"""Backups (spec 8.4.1, 9.6): full and incremental, encrypted, verified, restored, pruned."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from click.testing import Result
from flask import Flask
from sqlalchemy import inspect, select

from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.security.audit import acting_as
from orgcarbon.security.backup import run_backup
from orgcarbon.security.backup_cli import backup
from orgcarbon.security.backup_format import MAGIC
from tests.conftest import TEST_SECRETS
from tests.integration.security.conftest import Target, all_rows


def invoke(app: Flask, *args: str) -> Result:
    """Run ``orgcarbon backup <args>`` against ``app``."""
    return app.test_cli_runner().invoke(backup, list(args))


def backups(app: Flask) -> list[Path]:
    """The backup files in the app's default folder, oldest first."""
    return sorted((Path(app.config["ORGCARBON"]["INSTANCE_PATH"]) / "backups").glob("*.ocbak"))


def take(app: Flask, kind: str) -> Path:
    """Take one backup through the CLI and return its file."""
    before = set(backups(app))
    result = invoke(app, kind)
    assert result.exit_code == 0, result.output
    (made,) = set(backups(app)) - before
    return made


def table_count(url_app: Flask) -> int:
    with url_app.app_context():
        return len(inspect(db.engine).get_table_names())


def test_full_backup_restores_an_identical_database(
    app: Flask, database_url: str, target: Target
) -> None:
    """Every row of every table comes back, and verify/list report the file."""
    made = take(app, "full")
    verified = invoke(app, "verify", str(made))
    assert verified.exit_code == 0 and "校验通过" in verified.output, verified.output
    assert made.name.split("orgcarbon-")[1][:8] in invoke(app, "list").output

    restored = invoke(target.app, "restore", str(made))
    assert restored.exit_code == 0, restored.output
    assert "恢复完成" in restored.output
    source, copy = all_rows(database_url), all_rows(target.url)
    assert sum(map(len, source.values())) > 100
    assert copy == source


def test_incrementals_restore_later_changes_in_order(
    app: Flask, database_url: str, target: Target
) -> None:
    """Full, then two incrementals (update, insert, delete): the chain rebuilds the database."""
    full = take(app, "full")
    with app.app_context(), acting_as("test:backup"):
        first = db.session.scalars(select(Organization).order_by(Organization.id)).first()
        assert first is not None
        first.name = "备份测试改名集团"
        extra = Organization(name="增量备份新厂区", level="厂区", parent_id=first.id)
        db.session.add(extra)
        db.session.commit()
        extra_id = extra.id
    one = take(app, "incremental")
    with app.app_context(), acting_as("test:backup"):
        db.session.delete(db.session.get(Organization, extra_id))
        db.session.add(Organization(name="第二次增量厂区", level="厂区"))
        db.session.commit()
    two = take(app, "incremental")

    out_of_order = invoke(target.app, "restore", str(full), str(two))
    assert out_of_order.exit_code != 0 and "顺序" in out_of_order.output
    assert table_count(target.app) == 0

    restored = invoke(target.app, "restore", str(full), str(one), str(two))
    assert restored.exit_code == 0, restored.output
    assert all_rows(target.url) == all_rows(database_url)
    with target.app.app_context():
        names = set(db.session.scalars(select(Organization.name)))
        assert {"备份测试改名集团", "第二次增量厂区"} <= names and "增量备份新厂区" not in names
        # Ids restored explicitly must not be handed out again (PostgreSQL sequences).
        db.session.add(Organization(name="恢复后新增", level="厂区"))
        db.session.commit()


def test_tampered_backup_fails_verify_and_restore_and_writes_nothing(
    app: Flask, target: Target
) -> None:
    """A flipped ciphertext byte or an edited manifest is caught before anything is written."""
    made = take(app, "full")
    data = bytearray(made.read_bytes())
    data[-100] ^= 0x01
    made.write_bytes(bytes(data))
    for args in (["verify", str(made)], ["restore", str(made)]):
        result = invoke(target.app if args[0] == "restore" else app, *args)
        assert result.exit_code != 0
        assert "篡改" in result.output, result.output
    assert table_count(target.app) == 0

    # An edited manifest with a recomputed length still fails: the manifest is GCM associated data.
    data[-100] ^= 0x01
    start = len(MAGIC) + 4
    (length,) = struct.unpack(">I", data[len(MAGIC) : start])
    manifest = json.loads(data[start : start + length])
    manifest["alembic_revision"] = "forged"
    header = json.dumps(manifest).encode()
    made.write_bytes(
        MAGIC + struct.pack(">I", len(header)) + header + bytes(data[start + length :])
    )
    result = invoke(app, "verify", str(made))
    assert result.exit_code != 0 and "篡改" in result.output, result.output


def test_restore_into_a_non_empty_database_is_refused(app: Flask, database_url: str) -> None:
    """The app's own (demo) database is not empty: restore refuses without --force."""
    made = take(app, "full")
    before = all_rows(database_url)
    result = invoke(app, "restore", str(made))
    assert result.exit_code != 0 and "不是空库" in result.output
    assert all_rows(database_url) == before


def test_backup_file_holds_no_plaintext(app: Flask) -> None:
    """Neither demo data nor the key appears in the file; the manifest names the key id only."""
    with app.app_context():
        names = list(db.session.scalars(select(Organization.name)))
    made = take(app, "full")
    data = made.read_bytes()
    assert names and not any(name.encode() in data for name in names)
    assert TEST_SECRETS["DATA_KEY"].encode() not in data
    assert bytes.fromhex(TEST_SECRETS["DATA_KEY"]) not in data


def test_prune_keeps_the_last_full_backups_and_their_incrementals(app: Flask) -> None:
    """--keep 2 of three fulls removes the oldest full and the incremental based on it."""
    old_full = take(app, "full")
    old_inc = take(app, "incremental")
    kept = [take(app, "full"), take(app, "full")]
    kept.append(take(app, "incremental"))
    result = invoke(app, "prune", "--keep", "2")
    assert result.exit_code == 0, result.output
    assert set(backups(app)) == set(kept)
    assert not old_full.exists() and not old_inc.exists()


def test_incremental_needs_a_full_backup_first(app: Flask) -> None:
    """Without a full backup there is nothing to be incremental to."""
    result = invoke(app, "incremental")
    assert result.exit_code != 0 and "全量备份" in result.output


def test_celery_task_takes_a_backup(app: Flask) -> None:
    """The schedulable task ``orgcarbon.security.backup`` writes a verifiable file."""
    with app.app_context():
        outcome = run_backup.apply(args=("full",)).get()
    assert outcome["kind"] == "full"
    assert invoke(app, "verify", outcome["path"]).exit_code == 0


def test_force_restores_over_a_non_empty_database(app: Flask, database_url: str) -> None:
    """With --force the backup replaces what changed after it, in the app's own database."""
    made = take(app, "full")
    before = all_rows(database_url)
    with app.app_context(), acting_as("test:backup"):
        db.session.add(Organization(name="备份之后才有的厂区", level="厂区"))
        db.session.commit()
    assert all_rows(database_url) != before
    result = invoke(app, "restore", "--force", str(made))
    assert result.exit_code == 0, result.output
    assert all_rows(database_url) == before


def test_backup_cannot_be_opened_with_another_key(app: Flask, tmp_path: Path) -> None:
    """The key lives outside the backup: another key ring cannot decrypt it."""
    made = take(app, "full")
    other = tmp_path / "other.keys"
    other.write_text(f"{made_key_id(made)} = {'ab' * 16}\n", encoding="utf-8")
    app.config["ORGCARBON"]["BACKUP_KEY_FILE"] = str(other)
    result = invoke(app, "verify", str(made))
    assert result.exit_code != 0 and "解密失败" in result.output, result.output


def made_key_id(path: Path) -> str:
    """The key id named in a backup's manifest."""
    from orgcarbon.security.backup_format import read_manifest

    return str(read_manifest(path).manifest["key_id"])
