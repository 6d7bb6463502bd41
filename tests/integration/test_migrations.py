"""Alembic migrations run forward and back on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from orgcarbon.platform.metadata import all_metadata
from tests.conftest import build_app, dispose, make_factory

EXPECTED = {"ab_user", "ab_role", "ab_permission_view", "audit_entry", "user_setting"}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_downgrade_upgrade(kind: str, tmp_path: Path) -> None:
    factory = make_factory(kind, tmp_path)
    url = factory.empty()
    app = build_app(url, tmp_path / "instance")
    try:
        from flask_migrate import downgrade, upgrade

        from orgcarbon.platform.extensions import MIGRATIONS_DIR

        with app.app_context():
            upgrade(directory=str(MIGRATIONS_DIR))
        dispose(app)
        created = _tables(app.config["SQLALCHEMY_DATABASE_URI"])
        # Every table the models define exists after the migrations, and nothing else.
        assert created == set(all_metadata().tables)
        assert created >= EXPECTED

        with app.app_context():
            downgrade(directory=str(MIGRATIONS_DIR), revision="base")
        dispose(app)
        assert _tables(app.config["SQLALCHEMY_DATABASE_URI"]) == set()

        with app.app_context():
            upgrade(directory=str(MIGRATIONS_DIR))
        dispose(app)
        assert _tables(app.config["SQLALCHEMY_DATABASE_URI"]) == created
    finally:
        dispose(app)
        factory.drop_all()


def test_models_and_migrations_agree(app) -> None:  # type: ignore[no-untyped-def]
    """No model change without a migration: autogenerate finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from orgcarbon.platform.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False, "render_as_batch": True})
        diff = compare_metadata(context, all_metadata())
    assert diff == []
