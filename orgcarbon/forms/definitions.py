"""Form definitions as data: what a form, a section and a field may say, and fields from bindings.

The checks are pure functions over plain values (``check_form``, ``check_section``,
``check_field``, ``fields_from_bindings``) returning ``{attribute: Chinese reason}``, so the admin
pages, scripts and the Excel importer share one wording. The ``*_problems`` functions and
``generate_fields`` read what the checks need from the database. ``install_revision_bump`` makes
every change to a form's sections or fields bump ``FormDefinition.revision``: an Excel template
carries the revision it was made from, and an older one is refused.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from orgcarbon.forms.models import (
    DATA_TYPES,
    GRANULARITIES,
    PARAMETERS,
    FormDefinition,
    FormField,
    FormSection,
)
from orgcarbon.metamodel.models import SubProcess
from orgcarbon.metamodel.rules_inputs import unit_table
from orgcarbon.metamodel.versioned import Binding
from orgcarbon.rules import Expression, ExpressionError, UnitError, UnitTable, compile_expression
from orgcarbon.rules.model import CATEGORY_NAMES
from orgcarbon.security.scope import subtree_ids

Errors = dict[str, str]

# Stored key → Chinese label (the pages show the label), as in ``orgcarbon.metamodel.choices``.
GRANULARITY_LABELS = {"month": "月度", "quarter": "季度", "year": "年度"}
DATA_TYPE_LABELS = {"number": "数值", "text": "文本", "date": "日期", "choice": "选项"}
REVIEW_STEP_LABELS = {1: "1 级：提交后直接批准", 2: "2 级：审核后批准"}
PARAMETER_LABELS = {
    "quantity": "消耗量/产量", "ncv": "低位发热量 NCV", "cc": "单位热值含碳量 CC", "of": "碳氧化率 OF",
    "purity": "纯度", "ef": "排放因子（实测）", "note": "备注",
}
# Short names used in generated labels ("加热炉 天然气 低位发热量").
_SHORT = {"ncv": "低位发热量", "cc": "单位热值含碳量", "of": "碳氧化率", "purity": "纯度", "ef": "排放因子"}
# Parameters a category accepts besides quantity, ef and note (as orgcarbon.rules reads records).
CATEGORY_PARAMETERS = {"fuel_combustion": ("ncv", "cc", "of"), "process_flux": ("purity",)}
FRACTIONS = ("of", "purity")
MEASURED_HELP = "实测值，可不填：不填时使用因子库的缺省值"
FRACTION_HELP = "0–1 之间的小数，如 0.93（不是百分数）"
NET_FUEL_HELP = "燃料燃烧按净消耗量核算：产出的燃料填负数"


def parameters_for(category: str) -> tuple[str, ...]:
    """The parameters a field bound to a binding of ``category`` may fill."""
    return ("quantity", *CATEGORY_PARAMETERS.get(category, ()), "ef", "note")


def parameter_unit(parameter: str, material_unit: str) -> str | None:
    """The unit a parameter is entered in (fractions and notes have none)."""
    return {
        "quantity": material_unit, "ncv": f"GJ/{material_unit}", "cc": "tC/GJ", "ef": f"tCO2/{material_unit}",
    }.get(parameter)


def compile_rule(rule: str) -> Expression:
    """A field's rule compiled over the one variable ``value``; raises ``ExpressionError``."""
    return compile_expression(rule, ("value",))


@dataclass(frozen=True)
class BindingFacts:
    """What the checks and the generator need to know of a binding, as plain values."""

    id: int
    code: str  # the lineage: versions of one binding share it
    organization_id: int
    organization: str
    process: str
    subprocess: str
    material: str
    material_unit: str
    category: str
    direction: str

    @property
    def label(self) -> str:
        """``子工序 · 物料 · 类别``, as the binding select shows it."""
        return f"{self.subprocess} · {self.material} · {CATEGORY_NAMES.get(self.category, self.category)}"


def binding_facts(binding: Binding) -> BindingFacts:
    """The plain facts of a stored binding."""
    sub = binding.subprocess
    return BindingFacts(
        id=binding.id, code=binding.code, organization_id=binding.organization_id,
        organization=sub.organization.name if sub.organization else "", process=sub.main_process.name,
        subprocess=sub.name, material=binding.material.name, material_unit=binding.material.unit,
        category=binding.category, direction=binding.direction,
    )


# --- checks over plain values ------------------------------------------------------------------

def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if text.lstrip("-").isdigit() else None


def check_form(values: Mapping[str, Any], taken_codes: Collection[str] = ()) -> Errors:
    """Problems of a form's own attributes; ``taken_codes``: codes of the other forms."""
    errors: Errors = {}
    for name in ("code", "name"):
        if _blank(values.get(name)):
            errors[name] = "不能为空"
    if "code" not in errors and str(values["code"]).strip() in taken_codes:
        errors["code"] = f"表单编码“{values['code']}”已被另一个表单使用"
    if values.get("organization_id") is None:
        errors["organization"] = "不能为空：请选择表单所属的组织"
    granularity = values.get("granularity")
    if granularity not in GRANULARITIES:
        errors["granularity"] = (f"填报周期应为月度、季度或年度（month、quarter、year），不能是“{granularity or ''}”")
    steps = _int(values.get("review_steps"))
    if steps not in (1, 2):
        errors["review_steps"] = f"审核级数只能是 1（提交后直接批准）或 2（审核后批准），不能是“{values.get('review_steps')}”"
    day = _int(values.get("due_day"))
    if day is None or not 1 <= day <= 28:
        errors["due_day"] = f"截止日应为 1 到 28 之间的整数（每个月都有的日子），不能是“{values.get('due_day')}”"
    return errors


def check_section(values: Mapping[str, Any], taken_names: Collection[str] = ()) -> Errors:
    """Problems of a section; ``taken_names``: names of the form's other sections."""
    name = values.get("name")
    if _blank(name):
        return {"name": "不能为空"}
    if str(name).strip() in taken_names:
        return {"name": f"分组“{name}”在本表单中已存在"}
    return {}


def _compound_factor(units: UnitTable, unit: str, target: str) -> float:
    """Multiplier from ``unit`` to ``target``, both ``a`` or ``a/b``; raises ``UnitError``."""
    top, _, bottom = unit.partition("/")
    want_top, _, want_bottom = target.partition("/")
    if bool(bottom) != bool(want_bottom):
        raise UnitError(f"单位“{unit}”不能换算为“{target}”")
    factor = units.factor(top, want_top)
    return factor / units.factor(bottom, want_bottom) if bottom else factor


def unit_problem(parameter: str, unit: str | None, binding: BindingFacts, units: UnitTable) -> str | None:
    """Why ``unit`` does not suit ``parameter`` of ``binding``; None when it does (empty: the default)."""
    unit = (unit or "").strip()
    if parameter == "note" or not unit:
        return None
    if parameter in FRACTIONS:
        if unit == "1":
            return None
        return f"“{PARAMETER_LABELS[parameter]}”是 0–1 之间的小数，单位应留空，不能是“{unit}”"
    want = parameter_unit(parameter, binding.material_unit) or ""
    try:
        factor = _compound_factor(units, unit, want)
    except UnitError as exc:
        if parameter == "quantity":
            return f"单位“{unit}”不能换算为物料“{binding.material}”的单位“{want}”（{exc}）"
        return f"“{PARAMETER_LABELS[parameter]}”的单位应为“{want}”，“{unit}”不能换算（{exc}）"
    if parameter != "quantity" and not math.isclose(factor, 1.0, rel_tol=1e-9):
        # Approval copies measured parameters as typed; only quantities are converted later.
        return f"“{PARAMETER_LABELS[parameter]}”请按“{want}”填报（实测参数不做单位换算），不能用“{unit}”"
    return None


def _default_problem(values: Mapping[str, Any], data_type: str, choices: list[str]) -> str | None:
    default = values.get("default")
    if _blank(default):
        return None
    text = str(default).strip()
    if data_type == "number":
        try:
            float(text.replace(",", ""))
        except ValueError:
            return f"数值字段的默认值应为数字，不能是“{text}”"
    elif data_type == "choice" and choices and text not in choices:
        return f"默认值“{text}”不在可选值中（{'、'.join(choices)}）"
    elif data_type == "date":
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            return f"日期字段的默认值应写作 YYYY-MM-DD，不能是“{text}”"
    return None


def _rule_problem(rule: str) -> str | None:
    try:
        expression = compile_rule(rule)
    except ExpressionError as exc:
        return f"规则无法解析：{exc}"
    try:
        result = expression.evaluate_scalar({"value": 1.0})
    except (ExpressionError, ArithmeticError, ValueError):
        return None  # compiles; whether it holds depends on the value typed
    if not isinstance(result, bool):
        return f"规则应为条件（结果为真或假），例如 value <= 1000，不能是“{rule}”"
    return None


def _binding_problems(errors: Errors, parameter: str, binding: BindingFacts | None,
                      subtree: Collection[int], form_organization: str) -> None:
    if binding is None:
        if parameter != "note":
            errors["binding"] = f"“{PARAMETER_LABELS.get(parameter, parameter)}”字段必须选择一个绑定（子工序 · 物料 · 类别）"
        return
    if binding.organization_id not in subtree:
        errors["binding"] = (f"绑定“{binding.label}”属于“{binding.organization}”，"
                             f"不在表单所属组织“{form_organization}”及其下级中")
    elif parameter in PARAMETERS and parameter not in parameters_for(binding.category):
        category = CATEGORY_NAMES.get(binding.category, binding.category)
        where = "只适用于燃料燃烧" if parameter in ("ncv", "cc", "of") else "只适用于熔剂"
        errors["parameter"] = f"“{PARAMETER_LABELS[parameter]}”{where}，绑定“{binding.label}”的类别是{category}"


def _range_problems(errors: Errors, values: Mapping[str, Any], data_type: str,
                    parameter: str, binding: BindingFacts | None) -> None:
    low, high = values.get("min_value"), values.get("max_value")
    if data_type != "number":
        for name in ("min_value", "max_value"):
            if values.get(name) is not None:
                errors[name] = "只有数值字段可以设置最小值、最大值"
        if not _blank(values.get("rule")):
            errors["rule"] = "只有数值字段可以设置规则"
        return
    if low is not None and high is not None and low > high:
        errors["max_value"] = f"最大值 {high:g} 小于最小值 {low:g}"
    fuel = binding is None or binding.category == "fuel_combustion"
    negative_ok = parameter == "note" or (parameter == "quantity" and fuel)
    if values.get("allow_negative") and not negative_ok:
        errors["allow_negative"] = "只有燃料燃烧的净消耗量可以为负数"
    elif low is not None and low < 0 and not values.get("allow_negative"):
        errors["min_value"] = f"最小值 {low:g} 为负数，但本字段不允许负数"
    if not _blank(values.get("rule")) and (problem := _rule_problem(str(values["rule"]))):
        errors["rule"] = problem


def check_field(values: Mapping[str, Any], binding: BindingFacts | None, *, subtree: Collection[int],
                units: UnitTable, taken_codes: Mapping[str, str] | Collection[str] = (),
                form_organization: str = "") -> Errors:
    """Problems of one field given as plain values (the attribute names of ``FormField``).

    ``binding``: the facts of the bound binding (None: unbound); ``subtree``: organisation ids of
    the form's node and below; ``taken_codes``: codes of the form's other fields (a mapping names
    the field that holds each).
    """
    errors: Errors = {}
    code = str(values.get("code") or "").strip()
    if not code:
        errors["code"] = "不能为空"
    elif any(c.isspace() for c in code):
        errors["code"] = f"字段编码“{code}”不能含空格"
    elif code in taken_codes:
        holder = taken_codes[code] if isinstance(taken_codes, Mapping) else ""
        errors["code"] = f"字段编码“{code}”在本表单中已被使用" + (f"（字段“{holder}”）" if holder else "")
    if _blank(values.get("label")):
        errors["label"] = "不能为空"
    parameter = str(values.get("parameter") or "")
    if parameter not in PARAMETERS:
        errors["parameter"] = f"参数应为{'、'.join(PARAMETER_LABELS.values())}之一，不能是“{parameter or ''}”"
    data_type = str(values.get("data_type") or "")
    if data_type not in DATA_TYPES:
        errors["data_type"] = f"类型应为{'、'.join(DATA_TYPE_LABELS.values())}之一，不能是“{data_type or ''}”"
    elif parameter in PARAMETERS and parameter != "note" and data_type != "number":
        errors["data_type"] = f"“{PARAMETER_LABELS[parameter]}”字段的类型必须是数值"
    if errors.keys() & {"parameter", "data_type"}:
        return errors
    _binding_problems(errors, parameter, binding, subtree, form_organization)
    unit = unit_problem(parameter, values.get("unit"), binding, units) if binding and not errors.keys() & {
        "binding", "parameter"} else None
    if unit:
        errors["unit"] = unit
    choices = [c.strip() for c in str(values.get("choices") or "").replace("，", ",").split(",") if c.strip()]
    if data_type == "choice" and not choices:
        errors["choices"] = "选项类型的字段必须填写可选值（用逗号分隔，例如：实测,估算）"
    if problem := _default_problem(values, data_type, choices):
        errors["default"] = problem
    _range_problems(errors, values, data_type, parameter, binding)
    return errors


# --- fields from bindings ----------------------------------------------------------------------

@dataclass(frozen=True)
class FieldSpec:
    """A field to create: what ``fields_from_bindings`` proposes for one binding and parameter."""

    section: str
    code: str
    label: str
    binding_id: int
    parameter: str
    unit: str | None
    required: bool
    order: int
    allow_negative: bool = False
    min_value: float | None = None
    max_value: float | None = None
    help_text: str | None = None


def section_name(binding: BindingFacts, form_organization_id: int) -> str:
    """One section per process; a process of a node below the form's is named with its node."""
    if binding.organization_id == form_organization_id:
        return binding.process
    return f"{binding.organization} · {binding.process}"


def _spec(binding: BindingFacts, parameter: str, section: str, code: str, order: int) -> FieldSpec:
    if parameter == "quantity":
        produced = binding.direction == "out"
        fuel = binding.category == "fuel_combustion"
        label = f"{binding.subprocess} {binding.material} {'产量' if produced else '消耗量'}"
        net = fuel and produced  # a fuel produced is a negative net consumption
        return FieldSpec(section, code, label, binding.id, parameter, binding.material_unit, True, order,
                         allow_negative=net, help_text=NET_FUEL_HELP if net else None)
    fraction = parameter in FRACTIONS
    return FieldSpec(section, code, f"{binding.subprocess} {binding.material} {_SHORT[parameter]}", binding.id,
                     parameter, parameter_unit(parameter, binding.material_unit), False, order,
                     min_value=0.0 if fraction else None, max_value=1.0 if fraction else None,
                     help_text=f"{MEASURED_HELP}；{FRACTION_HELP}" if fraction else MEASURED_HELP)


def fields_from_bindings(bindings: Iterable[BindingFacts], *, form_organization_id: int,
                         on_form: Collection[str] = (), taken_codes: Collection[str] = (),
                         first_order: int = 10, step: int = 10) -> list[FieldSpec]:
    """The fields a form lacks: per binding not yet on it (``on_form``: binding codes), a required
    quantity field, and optional measured NCV, CC, OF (fuel combustion) or purity (fluxes).

    Fields come grouped by section (one per process, in the order the bindings come), numbered
    from ``first_order``; codes avoid ``taken_codes``.
    """
    grouped: dict[str, list[BindingFacts]] = {}
    seen: set[str] = set(on_form)
    for binding in bindings:
        if binding.code not in seen:
            seen.add(binding.code)
            grouped.setdefault(section_name(binding, form_organization_id), []).append(binding)
    taken, specs, order = set(taken_codes), [], first_order
    for section, members in grouped.items():
        for binding in members:
            for parameter in ("quantity", *CATEGORY_PARAMETERS.get(binding.category, ())):
                code, n = f"{parameter}_{binding.id}", 1
                while code in taken:
                    n += 1
                    code = f"{parameter}_{binding.id}_{n}"
                taken.add(code)
                specs.append(_spec(binding, parameter, section, code, order))
                order += step
    return specs


# --- the database side -------------------------------------------------------------------------

def form_bindings(session: Session, organization_id: int) -> list[Binding]:
    """Published bindings of the node and its subtree, by process, sub-process and binding."""
    ids = subtree_ids(session, [organization_id])
    return list(session.scalars(
        select(Binding).join(SubProcess, Binding.subprocess_id == SubProcess.id)
        .where(Binding.organization_id.in_(sorted(ids)), Binding.status == "published")
        .order_by(SubProcess.process_id, Binding.subprocess_id, Binding.id)
    ))


def _values(item: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(item, name, None) for name in names}


def form_problems(session: Session, form: FormDefinition) -> Errors:
    """``check_form`` on a stored or new form, plus: its fields' bindings stay in its subtree."""
    with session.no_autoflush:
        org_id = form.organization.id if form.organization is not None else form.organization_id
        query = select(FormDefinition.code).where(FormDefinition.code == (form.code or "").strip())
        if form.id is not None:
            query = query.where(FormDefinition.id != form.id)
        values = _values(form, ("code", "name", "granularity", "review_steps", "due_day")) | {"organization_id": org_id}
        errors = check_form(values, set(session.scalars(query)))
        if org_id is not None and form.id is not None and "organization" not in errors:
            subtree = subtree_ids(session, [org_id])
            outside = [f.label for f in form.fields if f.binding is not None and f.binding.organization_id not in subtree]
            if outside:
                errors["organization"] = f"字段“{'、'.join(outside[:3])}”的绑定不在所选组织及其下级中，请先修改这些字段"
    return errors


def section_problems(session: Session, section: FormSection) -> Errors:
    """``check_section`` on a section; copies the form's organisation onto it."""
    with session.no_autoflush:
        form = section.form
        if form is None:
            return {"form": "不能为空"}
        section.organization_id = form.organization_id
        taken = {s.name for s in form.sections if s is not section and s.name}
        return check_section(_values(section, ("name",)), taken)


FIELD_ATTRIBUTES = ("code", "label", "parameter", "data_type", "unit", "choices", "default", "min_value",
                    "max_value", "allow_negative", "rule")


def field_problems(session: Session, field: FormField) -> Errors:
    """``check_field`` on a field; copies the form's organisation onto it, fills an empty unit and order."""
    with session.no_autoflush:
        form = field.form
        if form is None:
            return {"form": "不能为空"}
        field.organization_id = form.organization_id
        if field.section is not None and field.section.form_id != form.id:
            return {"section": f"分组“{field.section.name}”不属于表单“{form.name}”"}
        others = {f.code: f.label for f in form.fields if f is not field}
        facts = binding_facts(field.binding) if field.binding is not None else None
        errors = check_field(_values(field, FIELD_ATTRIBUTES), facts, subtree=subtree_ids(session, [form.organization_id]),
                             units=unit_table(session), taken_codes=others, form_organization=form.organization.name)
        if not errors:
            if facts is not None and not (field.unit or "").strip():
                field.unit = parameter_unit(field.parameter, facts.material_unit)
            if field.order is None:
                field.order = max((f.order or 0 for f in form.fields if f is not field), default=0) + 10
    return errors


def generate_fields(session: Session, form: FormDefinition) -> list[FormField]:
    """Create the fields ``fields_from_bindings`` proposes for ``form`` (and their sections); flushes."""
    bindings = {b.id: b for b in form_bindings(session, form.organization_id)}
    existing = list(form.fields)
    specs = fields_from_bindings(
        (binding_facts(b) for b in bindings.values()), form_organization_id=form.organization_id,
        on_form={f.binding.code for f in existing if f.binding is not None}, taken_codes={f.code for f in existing},
        first_order=max((f.order or 0 for f in existing), default=0) + 10,
    )
    sections = {s.name: s for s in form.sections}
    next_section = max((s.order or 0 for s in sections.values()), default=0)
    created: list[FormField] = []
    for spec in specs:
        section = sections.get(spec.section)
        if section is None:
            next_section += 10
            section = sections[spec.section] = FormSection(form=form, organization_id=form.organization_id,
                                                           name=spec.section, order=next_section)
        field = FormField(form=form, section=section, organization_id=form.organization_id, code=spec.code,
                          label=spec.label, binding=bindings[spec.binding_id], parameter=spec.parameter,
                          data_type="number", unit=spec.unit, required=spec.required, order=spec.order,
                          allow_negative=spec.allow_negative, min_value=spec.min_value,
                          max_value=spec.max_value, help_text=spec.help_text)
        session.add(field)
        created.append(field)
    session.flush()
    return created


# --- revisions ---------------------------------------------------------------------------------

# A change of these form attributes also changes what a template must look like.
REVISION_ATTRIBUTES = ("granularity", "organization", "organization_id")
_BUMPED = "orgcarbon.forms.revision_bumped"


def _forms_of(session: Session, obj: FormField | FormSection) -> set[FormDefinition]:
    """The form a section or field belongs to, and the one it left if it was moved."""
    state: Any = inspect(obj)
    forms = {f for f in state.attrs.form.history.deleted if f is not None}
    form = obj.form if obj.form is not None else session.get(FormDefinition, obj.form_id) if obj.form_id else None
    return forms | ({form} if form is not None else set())


def _changed_forms(session: Session) -> set[FormDefinition]:
    forms: set[FormDefinition] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, FormField | FormSection):
            if obj not in session.dirty or session.is_modified(obj):
                forms |= _forms_of(session, obj)
        elif isinstance(obj, FormDefinition) and obj in session.dirty:
            state: Any = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in REVISION_ATTRIBUTES):
                forms.add(obj)
    return forms


def _bump_revisions(session: Session, flush_context: Any, instances: Any) -> None:
    # Once per transaction; a form created in it starts at its revision (no template knows it yet).
    done: set[FormDefinition] = session.info.setdefault(_BUMPED, set())
    done.update(o for o in session.new if isinstance(o, FormDefinition))
    with session.no_autoflush:
        for form in _changed_forms(session) - done:
            if form not in session.deleted:
                form.revision = (form.revision or 1) + 1
                done.add(form)


def _forget_bumps(session: Session, *args: Any) -> None:
    session.info.pop(_BUMPED, None)


_installed = False


def install_revision_bump() -> None:
    """Bump a form's revision, once per transaction, whenever its sections or fields change (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _bump_revisions)
        event.listen(Session, "after_commit", _forget_bumps)
        event.listen(Session, "after_rollback", _forget_bumps)
        _installed = True
