"""Unbound extension singletons; ``register_extensions`` binds them to one app.

Flask-AppBuilder's ``AppBuilder`` is deliberately *not* a singleton here: it accumulates views,
menus and a security manager per instance, so reusing one across apps (every test builds its own
app) would register every view twice. Each app gets its own, reachable as ``app.appbuilder``.
"""

from __future__ import annotations

from flask import Flask
from flask_appbuilder import AppBuilder
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate

from orgcarbon.platform.tasks import celery_app, init_celery

db = SQLA()
migrate = Migrate()

MIGRATIONS_DIR = __import__("pathlib").Path(__file__).resolve().parent.parent / "migrations"


def register_extensions(app: Flask) -> AppBuilder:
    """Bind the database, migrations, Flask-AppBuilder (with Babel) and Celery to ``app``."""
    db.init_app(app)
    # render_as_batch lets Alembic alter SQLite tables (copy-and-move) as it does PostgreSQL's.
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    with app.app_context():
        appbuilder = AppBuilder(update_perms=False, base_template="orgcarbon/baselayout.html")
        appbuilder.init_app(app, db.session)
    init_celery(app, celery_app)
    return appbuilder
