"""Real, throw-away databases for tests: SQLite files or PostgreSQL databases.

A template database is migrated and initialised once per test session; each test then gets its
own copy (a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE`` for PostgreSQL), so tests never
see each other's rows and never pay for migrations twice.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def _pg_admin_engine(server_url: str):  # type: ignore[no-untyped-def]
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


@dataclass
class DatabaseFactory:
    """Creates and drops databases of one kind (``sqlite`` or ``postgresql``)."""

    kind: str
    workdir: Path
    server_url: str | None = None
    created: list[str] = field(default_factory=list)

    def _pg_url(self, name: str) -> str:
        assert self.server_url is not None
        return make_url(self.server_url).set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )

    def empty(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"oc_test_{uuid.uuid4().hex[:12]}"
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.db')}"
        engine = _pg_admin_engine(self.server_url)  # type: ignore[arg-type]
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return self._pg_url(name)

    def copy(self, template_url: str) -> str:
        """A new database holding exactly what ``template_url`` holds."""
        name = f"oc_test_{uuid.uuid4().hex[:12]}"
        if self.kind == "sqlite":
            source = Path(make_url(template_url).database)  # type: ignore[arg-type]
            target = self.workdir / (name + ".db")
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        template = make_url(template_url).database
        engine = _pg_admin_engine(self.server_url)  # type: ignore[arg-type]
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        engine.dispose()
        self.created.append(name)
        return self._pg_url(name)

    def drop(self, url: str) -> None:
        """Remove one database made by this factory."""
        if self.kind == "sqlite":
            Path(make_url(url).database).unlink(missing_ok=True)  # type: ignore[arg-type]
            return
        name = make_url(url).database
        engine = _pg_admin_engine(self.server_url)  # type: ignore[arg-type]
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        """Remove every database this factory still owns."""
        for name in list(self.created):
            self.drop(self._pg_url(name))
