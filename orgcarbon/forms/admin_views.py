"""表单管理: administrators define forms, their sections and fields (pages under the Metamodel area).

Forms, sections and fields are scoped by ``org_scope`` on their ``organization_id``: a user sees
the forms of their subtree only (others answer 404) and changes land only in their writable
subtree. Every check is ``orgcarbon.forms.definitions``; refused input keeps the form on screen
with the Chinese reason beside the field, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import AppBuilder, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from orgcarbon.forms import definitions as d
from orgcarbon.forms.models import (
    Evidence,
    FormDefinition,
    FormField,
    FormSection,
    ImportBatch,
    Submission,
    SubmissionValue,
)
from orgcarbon.metamodel.form_views import FormKeepingModelView, one_item
from orgcarbon.metamodel.guards import ScopeError, ScopeFilter
from orgcarbon.metamodel.validation import FieldErrors
from orgcarbon.metamodel.versioned import Binding
from orgcarbon.platform.extensions import db
from orgcarbon.platform.views import TABLE_LABELS
from orgcarbon.security.roles import METHOD_PERMISSIONS
from orgcarbon.security.scope import org_scope

# Defining forms is modelling: the modeller writes, data-entry and review roles read.
AREA = "Metamodel"
PERMISSIONS = {**METHOD_PERMISSIONS, "generate_fields": "write"}
TEMPLATES = str(Path(__file__).resolve().parent / "templates")
OUT_OF_SCOPE = "无权在该组织下新增、修改或删除表单（超出您的数据范围）"

LABELS: dict[str, Any] = {
    "code": _l("Code"), "name": _l("Name"), "description": _l("Description"), "organization": _l("Organisation"),
    "granularity": _l("Period granularity"), "review_steps": _l("Review steps"), "due_day": _l("Due day"),
    "evidence_required": _l("Evidence required"), "revision": _l("Revision"), "active": _l("Active"),
    "created_at": _l("Created at"), "form": _l("Form"), "section": _l("Section"), "order": _l("Order"),
    "label": _l("Label"), "binding": _l("Binding"), "parameter": _l("Parameter"), "data_type": _l("Type"),
    "unit": _l("Unit"), "choices": _l("Choices"), "required": _l("Required"), "default": _l("Default value"),
    "help_text": _l("Help text"), "min_value": _l("Minimum"), "max_value": _l("Maximum"),
    "allow_negative": _l("Negative allowed"), "rule": _l("Rule"), "rule_message": _l("Rule message"),
}
DESCRIPTIONS: dict[str, Any] = {
    "due_day": _l("Day of the month after the period ends (1–28)"),
    "unit": _l("Empty: the material's unit"),
    "choices": _l("Comma-separated, for the type “choice”"),
    "rule": _l("An expression over value, e.g. value <= 1000; when false, the rule message is shown"),
    "order": _l("Empty: after the last field"),
}


def _labels() -> dict[str, str]:
    return {k: str(v) for k, v in LABELS.items()}


def _select(name: str, choices: dict[Any, str], coerce: Any = str) -> SelectField:
    # validate_choice off: a wrong value reaches the checks, which name it in Chinese.
    return SelectField(LABELS[name], choices=list(choices.items()), coerce=coerce, validate_choice=False,
                       description=DESCRIPTIONS.get(name, ""), widget=Select2Widget())


def _int_or_text(value: Any) -> Any:
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _yes(value: Any) -> str:
    return "✓" if value else ""


def _blank(value: Any) -> Any:
    return "" if value is None else value


# --- which form a field page is about ----------------------------------------------------------

def _digits(value: Any) -> int | None:
    return int(value) if value is not None and str(value).isdigit() else None


def _context_field() -> FormField | None:
    pk = _digits((request.view_args or {}).get("pk")) if request.endpoint == "FormFieldView.edit" else None
    field = db.session.get(FormField, pk) if pk is not None else None
    return field if field is not None and org_scope().can_read(field.organization_id) else None


def _context_form() -> FormDefinition | None:
    """The form of the field page (edited field, related-list filter or chosen form), if readable."""
    field = _context_field()
    if field is not None:
        return field.form
    form_id = _digits(request.args.get("_flt_0_form")) or _digits(request.form.get("form"))
    form = db.session.get(FormDefinition, form_id) if form_id is not None else None
    return form if form is not None and org_scope().can_read(form.organization_id) else None


def _binding_choices() -> list[Binding]:
    """Published bindings of the form's subtree (of the user's scope when no form is known yet)."""
    form = _context_form()
    if form is not None:
        found = d.form_bindings(db.session, form.organization_id)
    else:
        query = select(Binding).where(Binding.status == "published").order_by(Binding.id)
        readable = org_scope().readable
        if readable is not None:
            query = query.where(Binding.organization_id.in_(sorted(readable)))
        found = list(db.session.scalars(query))
    field = _context_field()
    if field is not None and field.binding is not None and field.binding not in found:
        found.append(field.binding)  # a superseded version stays selectable on its field
    return found


def _section_choices() -> list[FormSection]:
    form = _context_form()
    if form is not None:
        return list(form.sections)
    query = select(FormSection).order_by(FormSection.form_id, FormSection.order)
    readable = org_scope().readable
    if readable is not None:
        query = query.where(FormSection.organization_id.in_(sorted(readable)))
    return list(db.session.scalars(query))


def binding_label(binding: Binding | None) -> str:
    """``子工序 · 物料 · 类别`` of a stored binding."""
    return d.binding_facts(binding).label if binding is not None else ""


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        raise FieldErrors(errors, _labels())


def _guard(check: Any) -> Any:
    """A ``pre_add``/``pre_update`` hook that rolls back what the form put into the session if refused."""
    def hook(self: Any, item: Any) -> None:
        try:
            check(item)
        except (FieldErrors, ScopeError):
            db.session.rollback()
            raise

    return hook


def _writable(organization_id: int | None) -> None:
    if not org_scope().can_write(organization_id):
        raise ScopeError(OUT_OF_SCOPE)


class _ScopedView(FormKeepingModelView):
    """What the three pages share: area, labels, scope filter, templates."""

    class_permission_name = AREA
    method_permission_name = PERMISSIONS
    label_columns = LABELS
    description_columns = DESCRIPTIONS
    base_filters = [["organization_id", ScopeFilter, False]]
    template_folder = TEMPLATES


# --- sections and fields -----------------------------------------------------------------------

SECTION_COLUMNS = ["form", "name", "order", "description"]


def _check_section(item: FormSection) -> None:
    _refuse(d.section_problems(db.session, item))
    _writable(item.form.organization_id)


class FormSectionView(_ScopedView):
    """Sections of a form (shown as a tab of the form)."""

    datamodel = SQLAInterface(FormSection)
    list_title = show_title = add_title = edit_title = _l("Form sections")
    list_columns = ["name", "order", "description"]
    show_columns = add_columns = SECTION_COLUMNS
    edit_columns = SECTION_COLUMNS[1:]  # a section stays on its form
    base_order = ("order", "asc")
    add_form_query_rel_fields = edit_form_query_rel_fields = {"form": [["organization_id", ScopeFilter, False]]}
    pre_add = pre_update = _guard(_check_section)

    def pre_delete(self, item: FormSection) -> None:
        _writable(item.organization_id)
        if any(f.section_id == item.id for f in item.form.fields):
            raise ValueError(f"分组“{item.name}”中还有字段，请先把字段移到其他分组或删除后再删除分组")


FIELD_FIELDSETS = [
    (_l("Field"), {"fields": ["form", "section", "order", "code", "label"]}),
    (_l("Binding"), {"fields": ["binding", "parameter", "data_type", "unit", "choices"]}),
    (_l("Checks"), {"fields": ["required", "default", "min_value", "max_value", "allow_negative", "rule",
                                "rule_message", "evidence_required"]}),
    (_l("Help text"), {"fields": ["help_text"]}),
]
FIELD_COLUMNS = [name for _title, group in FIELD_FIELDSETS for name in group["fields"]]
# A field stays on its form: the edit page has everything but the form.
FIELD_EDIT_FIELDSETS = [(title, {"fields": [n for n in group["fields"] if n != "form"]})
                        for title, group in FIELD_FIELDSETS]
FIELD_EXTRA = {
    "binding": QuerySelectField(LABELS["binding"], query_func=_binding_choices, get_pk_func=lambda b: b.id,
                                get_label=binding_label, allow_blank=True, blank_text="—", validators=[Optional()],
                                widget=Select2Widget()),
    "section": QuerySelectField(LABELS["section"], query_func=_section_choices, get_pk_func=lambda s: s.id,
                                get_label="name", allow_blank=True, blank_text="—", validators=[Optional()],
                                widget=Select2Widget()),
    "parameter": _select("parameter", d.PARAMETER_LABELS),
    "data_type": _select("data_type", d.DATA_TYPE_LABELS),
    "order": IntegerField(LABELS["order"], validators=[Optional()], description=DESCRIPTIONS["order"]),
    "required": BooleanField(LABELS["required"], default=True),
    **{name: BooleanField(LABELS[name]) for name in ("allow_negative", "evidence_required")},
}


def _check_field(item: FormField) -> None:
    _refuse(d.field_problems(db.session, item))
    _writable(item.form.organization_id)


class FormFieldView(_ScopedView):
    """Fields of a form (shown as a tab of the form), in their order."""

    datamodel = SQLAInterface(FormField)
    list_title = show_title = add_title = edit_title = _l("Form fields")
    list_columns = ["order", "code", "label", "section", "binding", "parameter", "unit", "required"]
    show_fieldsets = add_fieldsets = FIELD_FIELDSETS
    edit_fieldsets = FIELD_EDIT_FIELDSETS
    add_columns = show_columns = FIELD_COLUMNS
    edit_columns = [n for n in FIELD_COLUMNS if n != "form"]
    base_order = ("order", "asc")
    page_size = 100
    add_form_extra_fields = edit_form_extra_fields = FIELD_EXTRA
    add_form_query_rel_fields = edit_form_query_rel_fields = {"form": [["organization_id", ScopeFilter, False]]}
    formatters_columns = {
        "binding": binding_label, "parameter": lambda v: d.PARAMETER_LABELS.get(v, v),
        "data_type": lambda v: d.DATA_TYPE_LABELS.get(v, v), "required": _yes, "allow_negative": _yes,
        "evidence_required": _yes, **{n: _blank for n in ("unit", "default", "min_value", "max_value", "rule",
                                                          "rule_message", "choices", "help_text")},
        "section": lambda s: s.name if s is not None else "",
    }
    pre_add = pre_update = _guard(_check_field)

    def pre_delete(self, item: FormField) -> None:
        _writable(item.organization_id)
        if any(db.session.scalar(select(exists().where(model.field_id == item.id)))
               for model in (SubmissionValue, Evidence)):
            raise ValueError(f"字段“{item.label}”已有填报数据或证据，不能删除；可改为非必填")


# --- forms -------------------------------------------------------------------------------------

FORM_COLUMNS = ["code", "name", "organization", "granularity", "review_steps", "due_day", "evidence_required",
                "active", "description"]


def _check_form(item: FormDefinition) -> None:
    _refuse(d.form_problems(db.session, item))
    _writable(item.organization.id if item.organization is not None else item.organization_id)


def layout(form: FormDefinition) -> list[tuple[FormSection | None, list[FormField]]]:
    """The form as the filler sees it: sections in order, each with its fields in order."""
    groups: list[tuple[FormSection | None, list[FormField]]] = [
        (s, sorted((f for f in form.fields if f.section_id == s.id), key=lambda f: (f.order, f.id)))
        for s in sorted(form.sections, key=lambda s: (s.order, s.id))
    ]
    loose = sorted((f for f in form.fields if f.section_id is None), key=lambda f: (f.order, f.id))
    return [g for g in groups if g[1]] + ([(None, loose)] if loose else [])


class FormDefinitionView(_ScopedView):
    """表单管理: the forms of the user's organisations, with their sections and fields."""

    datamodel = SQLAInterface(FormDefinition)
    list_title = show_title = add_title = edit_title = _l("Form definitions")
    list_columns = ["code", "name", "organization", "granularity", "review_steps", "due_day", "revision", "active"]
    show_columns = [*FORM_COLUMNS, "revision", "created_at"]
    add_columns = FORM_COLUMNS
    edit_columns = [c for c in FORM_COLUMNS if c != "code"]  # templates and imports name the form by code
    search_columns = ["code", "name", "organization", "granularity", "active"]
    base_order = ("code", "asc")
    related_views = [FormSectionView, FormFieldView]
    show_template = "forms/admin/show.html"
    add_form_extra_fields = edit_form_extra_fields = {
        # Plain text: the checks name a code in use in Chinese (FAB's unique check would not).
        "code": StringField(LABELS["code"], widget=BS3TextFieldWidget()),
        "granularity": _select("granularity", d.GRANULARITY_LABELS),
        "review_steps": _select("review_steps", d.REVIEW_STEP_LABELS, coerce=_int_or_text),
        "evidence_required": BooleanField(LABELS["evidence_required"]),
        "active": BooleanField(LABELS["active"], default=True),
    }
    add_form_query_rel_fields = edit_form_query_rel_fields = {"organization": [["id", ScopeFilter, False]]}
    formatters_columns = {
        "granularity": lambda v: d.GRANULARITY_LABELS.get(v, v), "review_steps": lambda v: d.REVIEW_STEP_LABELS.get(v, v),
        "evidence_required": _yes, "active": _yes, "description": _blank,
        "created_at": lambda v: v.strftime("%Y-%m-%d %H:%M") if v is not None else "",
    }
    pre_add = pre_update = _guard(_check_form)

    def pre_delete(self, item: FormDefinition) -> None:
        _writable(item.organization_id)
        for model in (Submission, ImportBatch):
            if db.session.scalar(select(exists().where(model.form_id == item.id))):
                raise ValueError(f"表单“{item.name}”已有填报或导入记录，不能删除；可取消“启用”使其停用")

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk: Any) -> Any:
        widgets = self._show(pk)  # 404 outside the data scope
        form = self.datamodel.get(pk, self._base_filters)
        can_edit = self.appbuilder.sm.has_access("can_write", AREA)
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views, form_item=form, layout=layout(form),
                                    binding_label=binding_label, parameters=d.PARAMETER_LABELS, can_edit=can_edit)

    @action("generate_fields", _l("Generate fields from bindings"),
            _l("Create fields for every binding of this organisation that is not on the form yet?"),
            "fa-magic", multiple=False)
    def generate_fields(self, item: Any) -> Any:
        form = one_item(self, item)  # again with the scope filter; one row, also from the list page
        if form is None:
            abort(404)
        try:
            _writable(form.organization_id)
            before = len(form.sections)
            created = d.generate_fields(db.session, form)
            sections = len(form.sections) - before
            db.session.commit()
        except ScopeError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for("FormDefinitionView.show", pk=form.id))
        if created:
            flash(_("%(fields)d fields generated from the bindings, %(sections)d new sections",
                    fields=len(created), sections=sections), "success")
        else:
            flash(_("Every binding of the organisation is already on this form"), "info")
        return redirect(url_for("FormDefinitionView.show", pk=form.id))


def register_form_admin(appbuilder: AppBuilder) -> None:
    """Attach 表单管理 (form definitions with their sections and fields) and the revision bump."""
    d.install_revision_bump()
    appbuilder.add_view_no_menu(FormSectionView)
    appbuilder.add_view_no_menu(FormFieldView)
    appbuilder.add_view(FormDefinitionView, "Form definitions", label=_l("Form definitions"), icon="fa-list-alt",
                        category="Forms", category_label=_l("Data entry"), category_icon="fa-pencil-square-o")
    TABLE_LABELS.setdefault(FormDefinition.__tablename__, _l("Form definitions"))
    TABLE_LABELS.setdefault(FormSection.__tablename__, _l("Form sections"))
    TABLE_LABELS.setdefault(FormField.__tablename__, _l("Form fields"))
