"""A ModelView whose add and edit forms survive a refused change.

Flask-AppBuilder answers an exception from ``pre_add`` / ``pre_update`` with a flash message and a
redirect, which throws away everything the user typed. Here the form is shown again with the typed
values and each reason beside its field, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, request
from flask_appbuilder import ModelView
from flask_appbuilder.urltools import get_filter_args

from orgcarbon.metamodel.guards import ScopeError
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


class FormKeepingModelView(ModelView):
    """ModelView that re-renders a refused add/edit form instead of redirecting away from it."""

    def _save(self, form: Any, item: Any, adding: bool) -> bool:
        """Validate, check and store ``item`` from ``form``; False keeps the form on screen."""
        if not form.validate():
            return False
        self.process_form(form, adding)
        check, persist, after, done = (
            (self.pre_add, self.datamodel.add, self.post_add, self.add_row_message)
            if adding
            else (self.pre_update, self.datamodel.edit, self.post_update, self.edit_row_message)
        )
        try:
            form.populate_obj(item)
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
        return self._get_edit_widget(form=form, exclude_cols=exclude_cols)
