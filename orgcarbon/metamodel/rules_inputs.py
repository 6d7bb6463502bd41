"""The database state as the plain inputs of ``orgcarbon.rules``: units, factor library, model.

This is the bridge the accounting issue calls: ``rules_inputs(session, model_id)`` returns what
``orgcarbon.rules.compute`` takes, built from published versions only (or those in force at
``as_of``), so a result can name the factor and formula versions it used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.formula_check import parse_variables
from orgcarbon.metamodel.models import Material, Unit
from orgcarbon.metamodel.versioned import AccountingModel, Binding, Factor
from orgcarbon.metamodel.versioning import current_versions
from orgcarbon.rules import model as rules_model
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.units import UnitTable, default_units


class ModelConversionError(ValueError):
    """The stored model cannot be expressed as a rules model; the message is Chinese."""


@dataclass(frozen=True)
class RulesInputs:
    """Everything ``orgcarbon.rules.compute`` needs besides the activity records."""

    units: UnitTable
    library: FactorLibrary
    model: rules_model.AccountingModel


def unit_table(session: Session) -> UnitTable:
    """The units stored in the database (the built-in table while none are stored yet)."""
    rows = session.scalars(select(Unit).order_by(Unit.id)).all()
    if not rows:
        return default_units()
    return UnitTable.from_records(
        {"symbol": u.symbol, "dimension": u.dimension, "factor": u.factor, "name_zh": u.name_zh,
         "aliases": u.alias_list()}
        for u in rows
    )


def factor_record(f: Factor) -> dict[str, Any]:
    """One factor row as the plain dict ``orgcarbon.rules.Factor.from_record`` reads."""
    return {
        "id": f.code, "version": str(f.version), "kind": f.kind, "material": f.material.name,
        "value": f.value, "unit": f.unit, "regime": f.regime, "region": f.region, "year": f.year,
        "valid_from": f.valid_from, "valid_to": f.valid_to, "grade": f.grade, "measured": f.measured,
        "source": " ".join(p for p in (f.source, f.clause) if p),
    }


def factor_library(session: Session, as_of: dt.datetime | None = None) -> FactorLibrary:
    """Published factors (or those in force at ``as_of``) and every material, as a library."""
    factors = session.scalars(current_versions(Factor, as_of)).all()
    materials = session.scalars(select(Material)).all()
    return FactorLibrary.from_records(
        (factor_record(f) for f in factors),
        ({"name": m.name, "unit": m.unit, "name_en": m.name_en, "state": m.state} for m in materials),
    )


def _formula(row: Any) -> rules_model.Formula:
    return rules_model.Formula(
        name=row.name, version=str(row.version), activity=row.activity, factor=row.factor,
        activity_unit=row.activity_unit or None, factor_unit=row.factor_unit or None,
        description=row.description or "",
    )


def accounting_model(model: AccountingModel) -> rules_model.AccountingModel:
    """A stored accounting model as a rules model: one category rule per bound category."""
    templates = {r.category: r for r in rules_model.default_model().rules}
    by_category: dict[str, Binding] = {}
    extra: dict[str, None] = {}
    for binding in sorted(model.bindings, key=lambda b: b.id):
        template = templates.get(binding.category)
        if template is None:
            raise ModelConversionError(f"类别“{binding.category}”没有核算规则")
        first = by_category.setdefault(binding.category, binding)
        if first.formula_id != binding.formula_id:
            raise ModelConversionError(
                f"类别“{binding.category}”的绑定使用了不同的公式（{first.formula}、{binding.formula}）；"
                "核算引擎每个类别只接受一个公式"
            )
        extra.update(dict.fromkeys(n for n in parse_variables(binding.formula.variables) if n not in rules_model.VARIABLES))
    rules = tuple(
        rules_model.CategoryRule(
            t.category, t.term, t.sign, t.scope, t.factor_kind, _formula(by_category[t.category].formula), t.material
        )
        for t in templates.values()
        if t.category in by_category
    )
    return rules_model.AccountingModel(
        name=model.name, version=str(model.version), standard=model.standard, rules=rules,
        regime=model.regime, extra_variables=tuple(extra),
    )


def rules_inputs(session: Session, model_id: int, as_of: dt.datetime | None = None) -> RulesInputs:
    """Units, factor library and rules model for the stored accounting model ``model_id``."""
    model = session.get(AccountingModel, model_id)
    if model is None:
        raise ModelConversionError(f"核算模型 {model_id} 不存在")
    return RulesInputs(unit_table(session), factor_library(session, as_of), accounting_model(model))
