"""A ModelView whose add and edit forms survive a refused change, and whose selects keep to the scope.

Flask-AppBuilder answers an exception from ``pre_add`` / ``pre_update`` with a flash message and a
redirect, which throws away everything the user typed. Here the form is shown again with the typed
values and each reason beside its field, and nothing is written.

Every select of related rows (add, edit and the list's search form) offers only rows of the user's
organisation subtree when the related table belongs to organisations: FAB would list them all,
other organisations' names included.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, request
from flask_appbuilder import ModelView
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.urltools import (
    get_filter_args,
    get_order_args,
    get_page_args,
    get_page_size_args,
)
from flask_babel import lazy_gettext as _l

from orgcarbon.metamodel.guards import ScopeError, scoped_relation_filters
from orgcarbon.metamodel.sensitive_input import keep_masked, mask_form
from orgcarbon.metamodel.validation import FieldErrors
from orgcarbon.metamodel.versioning import VersionError

REFUSED = (FieldErrors, ScopeError, VersionError)


def attach_errors(form: Any, exc: Exception) -> None:
    """Put the reasons of ``exc`` beside the form's fields; a summary goes to the flash area."""
    flash(str(exc), "danger")
    if isinstance(exc, FieldErrors):
        for field, reason in exc.errors.items():
            if field in form:
                form[field].errors = [*form[field].errors, reason]


def _invalid_choices(form: Any) -> bool:
    """Mark multiple selects that were posted ids they do not offer (rows outside the scope).

    FAB's ``QuerySelectMultipleField`` finds unknown ids only after validation and then drops them
    silently, so a post naming another organisation's rows would save the rest instead of failing.
    """
    bad = False
    for field in form:
        if isinstance(field, QuerySelectMultipleField):
            _ = field.data  # resolves the posted ids; unknown ones set the flag
            if getattr(field, "_invalid_formdata", False):
                field.errors = [*field.errors, str(_l("Choose only from the listed options"))]
                bad = True
    return bad


def one_item(view: Any, item: Any) -> Any:
    """The row a single-row action acts on, fetched again with the scope filter (None if not allowed).

    FAB fetches the row without the view's base filters, and passes a list when the action is
    posted from the list page (``action_post``); one row is acted on, never another one's.
    """
    if isinstance(item, list):
        item = item[0] if len(item) == 1 else None
    return view.datamodel.get(view.datamodel.get_pk_value(item), view._base_filters) if item else None


class FormKeepingModelView(ModelView):
    """ModelView that re-renders a refused add/edit form instead of redirecting away from it."""

    def _init_forms(self) -> None:
        for name in ("add_form_query_rel_fields", "edit_form_query_rel_fields", "search_form_query_rel_fields"):
            setattr(self, name, scoped_relation_filters(self.datamodel, getattr(self, name)))
        super()._init_forms()

    def prefill_form(self, form: Any, pk: Any) -> None:
        mask_form(form, self.datamodel.obj)  # 110105********002X for users without SensitiveData

    def _save(self, form: Any, item: Any, adding: bool) -> bool:
        """Validate, check and store ``item`` from ``form``; False keeps the form on screen."""
        if not form.validate() or _invalid_choices(form):
            return False
        self.process_form(form, adding)
        check, persist, after, done = (
            (self.pre_add, self.datamodel.add, self.post_add, self.add_row_message)
            if adding
            else (self.pre_update, self.datamodel.edit, self.post_update, self.edit_row_message)
        )
        try:
            form.populate_obj(item)
            keep_masked(item)
            check(item)
        except REFUSED as exc:
            attach_errors(form, exc)
            return False
        try:
            persist(item)
        except Exception:  # the database refused it: say so, keep the form
            flash(self.database_error_message, "danger")
            return False
        after(item)
        flash(done, "success")
        return True

    def _add(self) -> Any:
        if request.method != "POST":
            return super()._add()
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        self._fill_form_exclude_cols(exclude_cols, form)
        if self._save(form, self.datamodel.obj(), adding=True):
            return None
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def _edit(self, pk: Any) -> Any:
        if request.method != "POST":
            return super()._edit(pk)
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        form = self.edit_form.refresh(request.form)
        self._fill_form_exclude_cols(exclude_cols, form)
        form._id = self.datamodel.get_pk_value(item)  # lets FAB's unique validators skip this row
        if self._save(form, item, adding=False):
            return None
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        # The edit page lists the related views (a form's sections and fields) under the form.
        return self._get_related_views_widgets(item, filters={}, orders=get_order_args(), pages=get_page_args(),
                                               page_sizes=get_page_size_args(), widgets=widgets)
