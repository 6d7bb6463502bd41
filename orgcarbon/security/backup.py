"""Encrypted backups of the whole database: full, incremental, verify, restore, prune (spec 8.4.1).

Full backups copy the database as the database itself does it: ``pg_dump --format=custom`` on
PostgreSQL, the sqlite3 online backup API on SQLite; both see one consistent snapshot while the
application keeps running. Incrementals are logical (``backup_logical``): every id range whose
keyed digest differs from the previous manifest's, whatever changed it. A restore ends by checking
the database against the last manifest's digests. Every file is encrypted
with SM4-GCM under a key of the key ring, which lives in the environment or a key file and never
in the database or the backup folder (spec 8.4.3). See docs/backup.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, make_url

from orgcarbon.platform.tasks import celery_app
from orgcarbon.security.backup_format import (
    SUFFIX,
    BackupError,
    BackupFile,
    check_chain,
    digest_key,
    open_backup,
    read_manifest,
    write_backup,
)
from orgcarbon.security.backup_logical import (
    CHUNK,
    apply_changes,
    collect_changes,
    present_tables,
    table_digests,
)
from orgcarbon.security.crypto import KeyRing

__all__ = ["BackupError", "BackupFile", "BackupService", "run_backup"]


def _now_id(kind: str) -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + kind


def _row_counts(conn: Connection, metadata: MetaData) -> dict[str, int]:
    return {
        t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
        for t in present_tables(conn, metadata)
    }


def _alembic_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


# URL query options that libpq also reads from the environment (TLS settings above all).
_LIBPQ_QUERY_VARS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "application_name": "PGAPPNAME",
}


def _pg_env(url: URL) -> dict[str, str]:
    # Connection details go through libpq's environment: nothing is parsed by a shell and the
    # password does not appear in the process list.
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[var] = str(value)
    for name, option in url.query.items():
        if name in _LIBPQ_QUERY_VARS:
            env[_LIBPQ_QUERY_VARS[name]] = str(option)
    return env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(
            f"{args[0]} 执行失败（退出码 {done.returncode}）：{done.stderr.strip()[-500:]}"
        )


def _setting(settings: Any, name: str) -> str | None:
    return settings.get(name) or os.environ.get("ORGCARBON_" + name) or None


@dataclass
class BackupService:
    """Backups of the database at ``database_url`` into ``backup_dir``, keys from ``ring``."""

    database_url: str
    backup_dir: Path
    ring: KeyRing
    metadata: MetaData

    @classmethod
    def from_app(cls, app: Any) -> BackupService:
        """The service for a Flask app's database, backup folder and key ring."""
        from orgcarbon.platform.metadata import all_metadata

        settings = app.config["ORGCARBON"]
        # The environment is read directly as well, until config.SETTINGS lists these two.
        folder = _setting(settings, "BACKUP_DIR") or Path(settings["INSTANCE_PATH"]) / "backups"
        key_file = _setting(settings, "BACKUP_KEY_FILE")
        if key_file:
            ring = KeyRing.from_file(key_file)
        else:
            from orgcarbon.security.encrypted import data_key_ring

            # The whole data key ring, old keys included: after ``keys rotate`` the backups taken
            # before it (and the digests an incremental compares with) stay readable.
            ring = data_key_ring(app)
        return cls(app.config["SQLALCHEMY_DATABASE_URI"], Path(folder), ring, all_metadata())

    @property
    def url(self) -> URL:
        return make_url(self.database_url)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @contextlib.contextmanager
    def _engine(self, url: str | URL | None = None) -> Iterator[Engine]:
        engine = create_engine(url or self.url)
        try:
            yield engine
        finally:
            engine.dispose()

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[tuple[Connection, Path | None, str | None]]:
        """A connection on one consistent snapshot: a private SQLite copy, or a PostgreSQL
        REPEATABLE READ transaction whose snapshot id ``pg_dump --snapshot`` can share."""
        if self.dialect == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / "snapshot.db"
                source = sqlite3.connect(str(self.url.database))
                target = sqlite3.connect(copy)
                try:
                    source.backup(target)
                finally:
                    target.close()
                    source.close()
                with self._engine(f"sqlite:///{copy}") as engine, engine.connect() as conn:
                    yield conn, copy, None
            return
        with self._engine() as engine, engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                yield conn, None, snapshot

    def _base_manifest(self, kind: str, conn: Connection) -> dict[str, Any]:
        return {
            "id": _now_id(kind),
            "kind": kind,
            "dialect": self.dialect,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "alembic_revision": _alembic_revision(conn),
            "row_counts": _row_counts(conn, self.metadata),
        }

    def full(self) -> BackupFile:
        """Take a full backup of the whole database."""
        with self._snapshot() as (conn, copy, snapshot):
            manifest = self._base_manifest("full", conn)
            # Digests of every id range: the next incremental carries the ranges that differ.
            manifest.update(chunk_size=CHUNK, digest_key_id=self.ring.active_id,
                            digests=table_digests(conn, self.metadata, digest_key(self.ring, self.ring.active_id)))
            if copy is not None:
                conn.close()
                manifest["payload"] = "sqlite-database"
                plaintext = copy.read_bytes()
            else:
                manifest["payload"] = "pg_dump-custom"
                with tempfile.TemporaryDirectory() as tmp:
                    out = Path(tmp) / "dump"
                    _run(
                        ["pg_dump", "--format=custom", f"--snapshot={snapshot}", "-f", str(out)],
                        _pg_env(self.url),
                    )
                    plaintext = out.read_bytes()
        return write_backup(
            self.backup_dir / f"orgcarbon-{manifest['id']}{SUFFIX}", manifest, plaintext, self.ring
        )

    def incremental(self) -> BackupFile:
        """Back up every id range whose content changed since the previous backup (any cause)."""
        backups = self.list_backups()
        if not any(b.kind == "full" for b in backups):
            raise BackupError("还没有全量备份：请先执行 orgcarbon backup full")
        previous = backups[-1].manifest
        if "digests" not in previous or previous.get("chunk_size") != CHUNK:
            raise BackupError("上一份备份由旧版本生成，没有分段摘要，增量备份无法衔接：请先执行全量备份")
        key_id = str(previous["digest_key_id"])
        with self._snapshot() as (conn, _copy, _snapshot):
            manifest = self._base_manifest("incremental", conn)
            if manifest["alembic_revision"] != previous["alembic_revision"]:
                raise BackupError(
                    "数据库结构版本已变化（迁移后），增量备份无法衔接：请先执行全量备份"
                )
            payload, digests, lines = collect_changes(
                conn, self.metadata, previous["digests"], digest_key(self.ring, key_id)
            )
        manifest.update(
            payload="jsonl-zip",
            chunk_size=CHUNK,
            digest_key_id=key_id,
            digests=digests,
            changed_lines=lines,
            previous_id=previous["id"],
            base_id=previous.get("base_id") or previous["id"],
        )
        return write_backup(
            self.backup_dir / f"orgcarbon-{manifest['id']}{SUFFIX}", manifest, payload, self.ring
        )

    def list_backups(self) -> list[BackupFile]:
        """Every backup in the folder, oldest first (ids sort by time)."""
        if not self.backup_dir.is_dir():
            return []
        found = [read_manifest(p) for p in self.backup_dir.glob(f"*{SUFFIX}")]
        return sorted(found, key=lambda b: b.id)

    def verify(self, path: Path) -> BackupFile:
        """Check a file's SM3 checksums and SM4-GCM tag without restoring it."""
        return open_backup(path, self.ring)[0]

    def prune(self, keep: int) -> list[Path]:
        """Keep the newest ``keep`` full backups and their incrementals; return removed files."""
        if keep < 1:
            raise BackupError("至少保留 1 份全量备份")
        backups = self.list_backups()
        fulls = [b.id for b in backups if b.kind == "full"][-keep:]
        removed = [
            b.path
            for b in backups
            if (b.id if b.kind == "full" else b.manifest.get("base_id")) not in fulls
        ]
        for path in removed:
            path.unlink()
        return removed

    def restore(self, paths: Sequence[Path], force: bool = False) -> BackupFile:
        """Restore a full backup and then its incrementals, in order, into this database."""
        # Everything is decrypted and checked before the first write, so a bad file writes nothing.
        opened = [open_backup(Path(p), self.ring) for p in paths]
        check_chain([b for b, _ in opened], self.dialect)
        with self._engine() as engine:
            if inspect(engine).get_table_names() and not force:
                raise BackupError("目标数据库不是空库，拒绝恢复；确需覆盖请加 --force")
        dump, incrementals = opened[0][1], opened[1:]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "restore"
            path.write_bytes(dump)
            if self.dialect == "sqlite":
                source, target = sqlite3.connect(path), sqlite3.connect(str(self.url.database))
                try:
                    source.backup(target)
                finally:
                    source.close()
                    target.close()
            else:
                args = [
                    "pg_restore",
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    "-d",
                    str(self.url.database),
                    str(path),
                ]
                if force:
                    args[1:1] = ["--clean", "--if-exists"]
                _run(args, _pg_env(self.url))
        with self._engine() as engine:
            with engine.begin() as conn:
                for _file, payload in incrementals:
                    apply_changes(conn, self.metadata, payload)
            last = opened[-1][0]
            with engine.connect() as conn:
                revision, counts = _alembic_revision(conn), _row_counts(conn, self.metadata)
                expected = last.manifest.get("digests")
                digests = (table_digests(conn, self.metadata, digest_key(self.ring, last.manifest["digest_key_id"]))
                           if expected is not None else None)
        if revision != last.manifest["alembic_revision"] or counts != last.manifest["row_counts"]:
            differ = sorted(k for k in counts if counts[k] != last.manifest["row_counts"].get(k))
            raise BackupError(f"恢复后校验失败：结构版本或行数与清单不符（{', '.join(differ)}）")
        if digests is not None and digests != expected:
            differ = sorted(k for k in digests.keys() | expected.keys() if digests.get(k) != expected.get(k))
            raise BackupError(f"恢复后校验失败：以下表的内容与备份时不同（{', '.join(differ)}）")
        return last


@celery_app.task(name="orgcarbon.security.backup")
def run_backup(kind: str) -> dict[str, Any]:
    """Take a ``full`` or ``incremental`` backup (schedule it with Celery beat)."""
    from flask import current_app

    service = BackupService.from_app(current_app)
    if kind not in {"full", "incremental"}:
        raise BackupError(f"未知的备份类型：{kind}")
    made = service.full() if kind == "full" else service.incremental()
    return {"id": made.id, "path": str(made.path), "kind": made.kind}
