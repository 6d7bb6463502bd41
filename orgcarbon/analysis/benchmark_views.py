"""对标值 admin page: list, add, edit and delete benchmark rows within the caller's data scope.

The page lives in the permission area ``Metamodel`` (benchmarks are model data like emission
factors): every built-in role reads it, the 建模管理员 writes it, and nobody needs a new role. The
intensity comparison that uses the values is in the ``Analysis`` area with the other pages.
"""

from __future__ import annotations

from typing import Any

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from wtforms import FloatField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from orgcarbon.analysis import benchmarks
from orgcarbon.analysis.models import Benchmark
from orgcarbon.metamodel.form_views import REFUSED, FormKeepingModelView
from orgcarbon.metamodel.guards import ScopeFilter
from orgcarbon.platform.extensions import db
from orgcarbon.security.roles import METHOD_PERMISSIONS

AREA = "Metamodel"
COLUMNS = ["name", "organization", "process_name", "product", "value", "unit", "scope", "year", "source", "note"]


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _fields() -> dict[str, Any]:
    # Optional here so that ``validate_benchmark`` gives each field its own Chinese reason, not
    # WTForms' generic "required" message.
    return {
        "name": StringField(_l("Name"), validators=[Optional()]),
        "product": StringField(_l("Product"), validators=[Optional()], default="粗钢"),
        "value": FloatField(_l("Value"), validators=[Optional()]),
        "source": TextAreaField(_l("Source"), validators=[Optional()]),
        "scope": SelectField(_l("Emission scope"), choices=list(benchmarks.SCOPES.items()), default="total"),
    }


class BenchmarkView(FormKeepingModelView):
    """对标值: global rows (no organisation) for everyone to read, editable by administrators only."""

    datamodel = SQLAInterface(Benchmark)
    class_permission_name = AREA
    method_permission_name = METHOD_PERMISSIONS
    list_title = show_title = add_title = edit_title = _l("Benchmark values")
    label_columns = {
        "name": _l("Name"), "organization": _l("Organisation"), "process_name": _l("Process"),
        "product": _l("Product"), "value": _l("Value"), "unit": _l("Unit"), "scope": _l("Emission scope"),
        "year": _l("Year"), "source": _l("Source"), "note": _l("Note"),
    }
    description_columns = {
        "organization": _l("Empty: applies to every organisation (administrators only)"),
        "process_name": _l("Empty: the whole enterprise, per tonne of crude steel"),
        "year": _l("Empty: every year"),
    }
    list_columns = ["name", "organization", "process_name", "product", "value", "unit", "scope", "year", "source"]
    show_columns = add_columns = edit_columns = COLUMNS
    search_columns = ["name", "organization", "process_name", "product", "scope", "year"]
    base_filters = [["organization_id", ScopeFilter, True]]
    base_order = ("id", "asc")
    add_form_extra_fields = edit_form_extra_fields = _fields()
    add_form_query_rel_fields = edit_form_query_rel_fields = {"organization": [["id", ScopeFilter, False]]}
    formatters_columns = {**{c: _blank for c in COLUMNS},
                          "scope": lambda value: benchmarks.SCOPES.get(value, value or "")}

    def _check(self, item: Benchmark, action: str) -> None:
        try:
            benchmarks.check_change(item, db.session, action)
        except REFUSED:
            db.session.rollback()  # the form already changed the object in the session
            raise

    def pre_add(self, item: Benchmark) -> None:
        self._check(item, "add")

    def pre_update(self, item: Benchmark) -> None:
        self._check(item, "update")

    def pre_delete(self, item: Benchmark) -> None:
        self._check(item, "delete")
