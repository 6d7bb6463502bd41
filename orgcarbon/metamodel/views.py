"""Admin pages generated from the entity definitions: one ``ModelView`` class per entity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, url_for
from flask_appbuilder import ModelView
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField

from orgcarbon.metamodel.form_views import FormKeepingModelView, one_item
from orgcarbon.metamodel.guards import ScopeError, base_filters, check_change, check_scope
from orgcarbon.metamodel.spec import Entity
from orgcarbon.metamodel.validation import FieldErrors
from orgcarbon.metamodel.versioning import VersionError, new_version, publish
from orgcarbon.platform.extensions import db
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.sensitive import sensitive_formatters

AREA = "Metamodel"
PERMISSIONS = {
    **METHOD_PERMISSIONS, "publish": "write", "new_version": "write", "history": "read", "as_of": "read",
}
REFUSED = (FieldErrors, ScopeError, VersionError)


def _label_formatter(choices: dict[str, str]) -> Callable[[Any], str]:
    return lambda value: choices.get(value, value or "")


def _blank_formatter(value: Any) -> Any:
    return "" if value is None else value


def _choice_field(label: Any, choices: dict[str, str]) -> SelectField:
    # "" → None, so an optional choice left empty stores NULL; validation checks the value.
    return SelectField(label, choices=[("", "—"), *choices.items()], coerce=lambda v: v or None,
                       validate_choice=False)


def _guarded(entity: Entity, action_name: str) -> Callable[[Any, Any], None]:
    def hook(self: ModelView, item: Any) -> None:
        try:
            check_change(entity, item, db.session, action_name)
        except REFUSED:
            db.session.rollback()  # the form already changed the object in the session
            raise

    return hook


def _version_action(operation: Callable[[Any, Any], Any], done: Any) -> Callable[[Any, Any], Any]:
    def run(self: ModelView, item: Any) -> Any:
        item = one_item(self, item)
        if item is None:
            flash(str(_l("Record not found or outside your data scope")), "danger")
            return redirect(self.get_redirect())
        try:
            check_scope(self._entity, item)
            result = operation(item, db.session)
            db.session.commit()
        except REFUSED as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for(f"{type(self).__name__}.show", pk=item.id))
        flash(str(done), "success")
        return redirect(url_for(f"{type(self).__name__}.show", pk=result.id))

    return run


def _history(self: ModelView, item: Any) -> Any:
    item = one_item(self, item)
    if item is None:
        flash(str(_l("Record not found or outside your data scope")), "danger")
        return redirect(self.get_redirect())
    return redirect(url_for("HistoryView.show", entity=self._entity.name, pk=item.id))


def _named(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # FAB finds an action's permission through the function's __name__, not the attribute name.
    func.__name__ = name
    return func


def make_view(entity: Entity) -> type[ModelView]:
    """The admin page class of ``entity``."""
    datamodel = SQLAInterface(entity.model)
    choice_fields: dict[str, Any] = {f.name: _choice_field(f.label, f.choices) for f in entity.fields if f.choices and f.form}
    # FAB marks a NOT NULL boolean required, so an unticked box would never validate.
    choice_fields |= {f.name: BooleanField(f.label) for f in entity.fields if f.form and datamodel.is_boolean(f.name)}
    attrs: dict[str, Any] = {
        "_entity": entity,
        "datamodel": datamodel,
        "class_permission_name": AREA,
        "method_permission_name": PERMISSIONS,
        "list_title": entity.title,
        "show_title": entity.title,
        "add_title": entity.title,
        "edit_title": entity.title,
        "label_columns": entity.labels,
        "list_columns": entity.names("list"),
        "show_columns": [f.name for f in entity.fields],
        "add_columns": entity.names("form"),
        "edit_columns": [f.name for f in entity.fields if f.form and f.edit],
        "search_columns": entity.names("search"),
        "base_filters": base_filters(entity),
        "base_order": entity.order,
        # Empty cells stay empty: FAB would print Python's "None" to the user.
        "formatters_columns": {f.name: _blank_formatter for f in entity.fields}
        | {f.name: _label_formatter(f.choices) for f in entity.fields if f.choices}
        | sensitive_formatters(entity.model, _blank_formatter),  # 138****5678 unless allowed
        "add_form_extra_fields": choice_fields,
        "edit_form_extra_fields": choice_fields,
        "pre_add": _guarded(entity, "add"),
        "pre_update": _guarded(entity, "update"),
        "pre_delete": _guarded(entity, "delete"),
    }
    attrs["history"] = action("history", _l("History"), icon="fa-history", multiple=False)(_named("history", _history))
    if entity.versioned:
        attrs["publish"] = action("publish", _l("Publish"), _l("Publish this version? It cannot be changed afterwards."),
                                  "fa-check", multiple=False)(_named("publish", _version_action(publish, _l("Version published"))))
        attrs["new_version"] = action("new_version", _l("New version"), None, "fa-code-fork", multiple=False)(
            _named("new_version", _version_action(new_version, _l("Draft of the next version created")))
        )
    return type(f"{entity.model.__name__}View", (FormKeepingModelView,), attrs)
