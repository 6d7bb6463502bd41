"""Validation of metamodel rows, shared by the admin views, the REST APIs and the pack import.

Each validator takes the ORM object (already filled from the form or JSON) and the session and
returns ``{field: Chinese reason}``; ``validate`` raises ``FieldErrors`` naming each field by its
Chinese label, so the same sentence reaches a form's flash message and an API's 422 body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.metamodel import choices
from orgcarbon.metamodel.formula_check import check_formula, unit_dimension
from orgcarbon.metamodel.idcard import id_number_problem, normalise
from orgcarbon.metamodel.models import Material, Organization, SubProcess, Unit
from orgcarbon.metamodel.rules_inputs import unit_table
from orgcarbon.metamodel.uscc import uscc_problem
from orgcarbon.metamodel.versioned import Binding, Factor
from orgcarbon.rules.dimensions import Dimension
from orgcarbon.rules.units import UnitError

Errors = dict[str, str]


class FieldErrors(ValueError):
    """Rejected input: ``errors`` maps field → reason; ``str()`` names fields by label."""

    def __init__(self, errors: Errors, labels: dict[str, Any] | None = None) -> None:
        self.errors = errors
        labels = labels or {}
        text = "；".join(f"{labels.get(f, f)}：{m}" for f, m in errors.items())
        super().__init__(text)

    def by_label(self, labels: dict[str, Any]) -> dict[str, list[str]]:
        """API body: field → [“label：reason”]."""
        return {f: [f"{labels.get(f, f)}：{m}"] for f, m in self.errors.items()}


def _choice(errors: Errors, item: Any, field: str, allowed: dict[str, str], required: bool = True) -> None:
    value = getattr(item, field, None)
    if value in (None, ""):
        if required:
            errors[field] = "不能为空"
    elif value not in allowed:
        errors[field] = f"“{value}”不在可选值中（{'、'.join(allowed)}）"


def _required(errors: Errors, item: Any, *fields: str) -> None:
    for field in fields:
        if getattr(item, field, None) in (None, ""):
            errors.setdefault(field, "不能为空")


def validate_organization(item: Organization, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "name")
    _choice(errors, item, "level", choices.ORG_LEVELS)
    _choice(errors, item, "grid_region", choices.GRID_REGION_CHOICES, required=False)
    if item.uscc:
        item.uscc = item.uscc.strip().upper()
        if problem := uscc_problem(item.uscc):
            errors["uscc"] = problem
    if item.legal_representative_id_number:
        item.legal_representative_id_number = normalise(item.legal_representative_id_number)
        if problem := id_number_problem(item.legal_representative_id_number):
            errors["legal_representative_id_number"] = problem
    node, seen = item.parent, set()
    while node is not None:  # refuse a parent below the node itself
        if node is item or node.id in seen or (item.id is not None and node.id == item.id):
            errors["parent"] = "上级组织不能是本组织或其下级"
            break
        seen.add(node.id)
        node = node.parent
    return errors


def validate_process(item: Any, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "name", "organization")
    _choice(errors, item, "status", choices.STATUS_ACTIVE)
    if item.capacity is not None and item.capacity < 0:
        errors["capacity"] = "产能不能为负数"
    return errors


def validate_subprocess(item: SubProcess, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "name", "main_process")
    _choice(errors, item, "status", choices.STATUS_ACTIVE)
    if item.capacity is not None and item.capacity < 0:
        errors["capacity"] = "产能不能为负数"
    if item.main_process is not None:
        item.organization_id = item.main_process.organization_id
        item.organization = item.main_process.organization
        if item.parent is not None and item.parent.process_id != item.main_process.id:
            errors["parent"] = "上级子工序必须属于同一工序"
    return errors


def validate_unit(item: Unit, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "symbol")
    _choice(errors, item, "dimension", choices.DIMENSIONS)
    if item.factor is None or not item.factor > 0:
        errors["factor"] = "换算系数必须为正数"
    names = {item.symbol, *item.alias_list()} - {None, ""}
    for other in session.scalars(select(Unit).where(Unit.id != item.id) if item.id else select(Unit)):
        clash = names & {other.symbol, *other.alias_list()}
        if clash and other is not item:
            errors["symbol"] = f"名称“{'、'.join(sorted(clash))}”已被单位“{other.symbol}”使用"
    return errors


def _known_unit(errors: Errors, field: str, symbol: str | None, session: Session) -> Dimension | None:
    try:
        return unit_dimension(symbol, unit_table(session))
    except UnitError as exc:
        errors[field] = str(exc)
        return None


def validate_material(item: Material, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "name", "unit")
    _choice(errors, item, "category", choices.MATERIAL_CATEGORIES)
    _choice(errors, item, "state", choices.MATERIAL_STATES, required=False)
    if item.unit:
        _known_unit(errors, "unit", item.unit, session)
    if item.default_parameters:
        try:
            params = json.loads(item.default_parameters)
            if not isinstance(params, dict) or not all(isinstance(v, int | float) for v in params.values()):
                raise ValueError
        except ValueError:
            errors["default_parameters"] = '应为 JSON 对象，值为数字，例如 {"purity": 0.92}'
    return errors


EXPECTED_UNIT: dict[str, str] = {
    "ncv": "energy/{m}",
    "cc": "carbon_mass/energy",
    "of": "",
    "process": "co2_mass/{m}",
    "fixed_carbon": "co2_mass/{m}",
    "electricity": "co2_mass/electric_energy",
    "heat": "co2_mass/energy",
}


def _value_problem(kind: str, value: float) -> str | None:
    name = choices.FACTOR_KINDS.get(kind, kind)
    if value < 0:
        return f"{name}不能为负数（{value}）"
    if kind == "of" and value > 1:
        hint = f"，{value:g} 应填写为 {value / 100:g}" if value <= 100 else ""
        return f"碳氧化率应为 0 到 1 之间的小数{hint}"
    return None


def validate_factor(item: Factor, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "code", "material", "value", "unit", "regime")
    _choice(errors, item, "kind", choices.FACTOR_KINDS)
    _choice(errors, item, "grade", choices.EVIDENCE_GRADES)
    _choice(errors, item, "region", choices.FACTOR_REGIONS, required=False)
    if item.value is not None and item.kind and (problem := _value_problem(item.kind, item.value)):
        errors["value"] = problem
    material = item.material
    # There is no "fuel EF" kind at all; a process factor on a fuel would be one by another name.
    if material is not None and material.category == "fuel" and item.kind == "process":
        errors["kind"] = "燃料的排放因子由 CC × OF × 44/12 推导，不能直接录入；请录入 NCV、CC、OF"
    if item.unit and material is not None and item.kind in EXPECTED_UNIT:
        got = _known_unit(errors, "unit", item.unit, session)
        want = _expected_dimension(item.kind, material, session)
        if got is not None and want is not None and got != want:
            errors["unit"] = f"单位“{item.unit}”的量纲为“{got}”，{choices.FACTOR_KINDS[item.kind]}应为“{want}”"
    if item.valid_from and item.valid_to and item.valid_from > item.valid_to:
        errors["valid_to"] = "有效期结束日期早于开始日期"
    if not errors and (other := overlapping_factor(item, session)) is not None:
        errors["valid_from"] = (
            f"与因子“{other.code}”（版本 {other.version}）的有效期重叠：同一物料、类型、方法、地区、年份只能有一个有效值"
        )
    return errors


def _expected_dimension(kind: str, material: Material, session: Session) -> Dimension | None:
    top, _, bottom = EXPECTED_UNIT[kind].partition("/")
    if not top:
        return Dimension()
    try:
        below = (
            unit_dimension(material.unit, unit_table(session)) if bottom == "{m}" else Dimension.of({bottom: 1})
        )
    except UnitError:
        return None
    return Dimension.of({top: 1}) / below


def overlapping_factor(item: Factor, session: Session) -> Factor | None:
    """Another current factor of the same key whose validity period overlaps ``item``'s."""
    query = select(Factor).where(
        Factor.kind == item.kind,
        Factor.material_id == (item.material.id if item.material else item.material_id),
        Factor.regime == item.regime,
        Factor.code != item.code,  # versions of one lineage replace each other
        Factor.status != "superseded",
    )
    query = query.where(Factor.region.is_(None) if not item.region else Factor.region == item.region)
    query = query.where(Factor.year.is_(None) if item.year is None else Factor.year == item.year)
    for other in session.scalars(query):
        if other is item:
            continue
        starts_before_end = item.valid_to is None or other.valid_from is None or other.valid_from <= item.valid_to
        ends_after_start = item.valid_from is None or other.valid_to is None or item.valid_from <= other.valid_to
        if starts_before_end and ends_after_start:
            return other
    return None


def validate_formula(item: Any, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "name", "activity", "factor")
    if errors:
        return errors
    values = {f: getattr(item, f) for f in ("activity", "factor", "variables", "activity_unit", "factor_unit", "result_unit", "test_cases")}
    errors = check_formula(values, unit_table(session))
    if not errors and item.test_cases:
        from orgcarbon.metamodel.formula_check import parse_test_cases

        try:
            parse_test_cases(item.test_cases)
        except ValueError as exc:
            errors["test_cases"] = str(exc)
    return errors


def validate_binding(item: Binding, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "subprocess", "material", "formula")
    _choice(errors, item, "direction", choices.DIRECTIONS)
    _choice(errors, item, "category", choices.CATEGORIES)
    if item.subprocess is not None:
        item.organization_id = item.subprocess.organization_id
        item.organization = item.subprocess.organization
    return errors


def validate_model(item: Any, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "name", "standard", "regime")
    if item.organization is not None and item.bindings:
        from orgcarbon.security.scope import subtree_ids

        below = subtree_ids(session, [item.organization.id])
        outside = [b.code for b in item.bindings if b.organization_id not in below]
        if outside:
            errors["bindings"] = f"绑定不属于组织“{item.organization.name}”及其下级：{'、'.join(outside[:5])}"
    return errors


def validate_activity(item: Any, session: Session) -> Errors:
    errors: Errors = {}
    _required(errors, item, "subprocess", "material", "month", "quantity", "unit")
    _choice(errors, item, "category", choices.CATEGORIES)
    if item.subprocess is not None:
        item.organization_id = item.subprocess.organization_id
        item.organization = item.subprocess.organization
    if item.unit:
        _known_unit(errors, "unit", item.unit, session)
    return errors


Validator = Callable[[Any, Session], Errors]
