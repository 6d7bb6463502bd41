"""``register_metamodel``: one admin page and one REST API per entity definition, and the menu."""

from __future__ import annotations

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from orgcarbon.metamodel.api import make_api
from orgcarbon.metamodel.entities import ENTITIES
from orgcarbon.metamodel.history import HistoryView
from orgcarbon.metamodel.versioning import install_version_guard
from orgcarbon.metamodel.views import make_view
from orgcarbon.platform.views import TABLE_LABELS

MENU = "Emission model"


def register_metamodel(appbuilder: AppBuilder) -> None:
    """Attach the generated views and APIs of every entity, the history page and the version lock."""
    install_version_guard()
    views = {}
    for entity in ENTITIES:
        view = appbuilder.add_view(
            make_view(entity),
            str(entity.name),
            label=entity.title,
            icon=entity.icon,
            category=MENU,
            category_label=_l("Emission model"),
            category_icon="fa-sitemap",
        )
        views[entity.name] = (entity, view)
        appbuilder.add_api(make_api(entity))
        # The audit log names a table by the entity that owns it, not by its SQL name alone.
        TABLE_LABELS.setdefault(entity.model.__table__.name, entity.title)
    HistoryView.entities = views
    appbuilder.add_view_no_menu(HistoryView)
