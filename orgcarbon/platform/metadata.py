"""Every table of the platform in one ``MetaData``: what Alembic compares migrations against.

Flask-AppBuilder's ``Model`` has its own metadata (not Flask-SQLAlchemy's ``db.metadata``); all of
orgcarbon's models derive from it, so importing each module that defines tables fills it.
"""

from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import MetaData

# Modules that define tables. A new module with models is added here, then a migration generated.
MODEL_MODULES: tuple[str, ...] = (
    "flask_appbuilder.security.sqla.models",
    "orgcarbon.security.models",
    "orgcarbon.metamodel.models",
    "orgcarbon.metamodel.versioned",
    "orgcarbon.accounting.models",
    "orgcarbon.forms.models",
    "orgcarbon.analysis.models",
    "orgcarbon.collection.models",
    "orgcarbon.quality.models",
    "orgcarbon.reports.models",
)


def all_metadata() -> MetaData:
    """Import every model module and return the metadata that now holds all tables."""
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Model.metadata
