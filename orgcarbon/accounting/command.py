"""``AccountOrganisation``: account one organisation subtree for one year and store the results.

API → Command → DAO: the command validates, loads inputs (``loader``), calls the pure engine
``orgcarbon.rules.compute`` and writes the run and its lines in one transaction. A missing factor
or any other refused record raises ``AccountingRefused`` with the engine's Chinese reasons and
nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from orgcarbon.accounting.loader import (
    ActivityRow,
    activity_rows,
    default_model,
    grid_region,
    inputs_digest,
    records_of,
    year_start,
)
from orgcarbon.accounting.models import AccountingRun, ResultLine, utcnow
from orgcarbon.metamodel.models import Organization
from orgcarbon.metamodel.rules_inputs import ModelConversionError, RulesInputs, rules_inputs
from orgcarbon.metamodel.versioned import AccountingModel
from orgcarbon.rules import AccountingContext, AccountingError, Result, compute
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.model import PARAMETERS
from orgcarbon.rules.products import PRODUCT_CATEGORY, PRODUCT_CATEGORY_NAME, ProductLine
from orgcarbon.rules.results import ResultLine as EngineLine
from orgcarbon.security.scope import OrgScope

FACTOR_VARIABLE = {"ncv": "ncv", "cc": "cc", "of": "of"}  # every other kind stands for "ef"
PRODUCT_FORMULA = f"{PRODUCT_CATEGORY_NAME}（不排放）"


class AccountingRefused(ValueError):
    """The run cannot be made; ``reasons`` are Chinese, one per problem."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("核算被拒绝：" + "；".join(reasons))
        self.reasons = reasons


@dataclass
class AccountOrganisation:
    """Account ``org_id``'s subtree for ``year`` under ``model_id`` (default: the org's model)."""

    session: Session
    org_id: int
    year: int
    model_id: int | None = None
    electricity_ef: float | None = None
    scope: OrgScope | None = None  # the caller's data scope; None: a trusted caller (CLI, task)
    user: Any = None
    # A factor library to use instead of the published one (a restatement's preview and apply).
    library: FactorLibrary | None = None

    def validate(self) -> tuple[Organization, AccountingModel, list[ActivityRow]]:
        """Check organisation, scope, model and data; raise ``AccountingRefused`` if unfit."""
        org = self.session.get(Organization, self.org_id)
        if org is None or (self.scope is not None and not self.scope.can_read(self.org_id)):
            raise AccountingRefused([f"组织 {self.org_id} 不存在"])
        if self.scope is not None and not self.scope.can_write(self.org_id):
            raise AccountingRefused([f"无权核算组织“{org.name}”（超出您的数据范围）"])
        model = (self.session.get(AccountingModel, self.model_id) if self.model_id is not None
                 else default_model(self.session, self.org_id))
        if model is None:
            raise AccountingRefused([f"组织“{org.name}”没有可用的已发布核算模型"])
        if model.status not in ("published", "superseded"):
            raise AccountingRefused([f"核算模型“{model}”尚未发布"])
        rows = activity_rows(self.session, self.org_id, self.year)
        if not rows:
            raise AccountingRefused([f"组织“{org.name}” {self.year} 年没有活动数据"])
        return org, model, rows

    def compute(self) -> tuple[Organization, AccountingModel, list[ActivityRow], RulesInputs, Result]:
        """Validate and compute without writing anything."""
        org, model, rows = self.validate()
        try:
            inputs = rules_inputs(self.session, model.id)
        except ModelConversionError as exc:
            raise AccountingRefused([str(exc)]) from exc
        if self.library is not None:
            inputs = replace(inputs, library=self.library)
        context = AccountingContext(
            year=self.year, on=year_start(self.year), grid_region=grid_region(self.session, org.id),
            electricity_ef=self.electricity_ef, organization=org.name, units=inputs.units,
        )
        try:
            result = compute(inputs.model, records_of(rows), inputs.library, context)
        except AccountingError as exc:
            raise AccountingRefused([_describe(issue, rows) for issue in exc.issues]) from exc
        return org, model, rows, inputs, result

    def run(self, run: AccountingRun | None = None, commit: bool = True) -> AccountingRun:
        """Compute and store the run with its lines in one transaction; returns the run.

        ``commit=False`` leaves the transaction open (a restatement stores several runs in one);
        on any error the session is still rolled back.
        """
        started = utcnow()
        try:
            computed = self.compute()
        except Exception:
            self.session.rollback()
            raise
        return self.store(*computed, run=run, commit=commit, started=started)

    def store(self, org: Organization, model: AccountingModel, rows: list[ActivityRow], inputs: RulesInputs,
              result: Result, run: AccountingRun | None = None, commit: bool = True,
              started: Any = None) -> AccountingRun:
        """Write a computed result as a run with its lines (``compute()``'s output); returns the run."""
        started = started or utcnow()
        try:
            run = run or AccountingRun(organization_id=org.id, year=self.year)
            factor_versions = {f.id: f.version for f in result.factors_used}
            run.model_id, run.model_version = model.id, model.version
            run.electricity_ef = self.electricity_ef
            run.status, run.started_at, run.finished_at = "done", run.started_at or started, utcnow()
            if self.user is not None and run.created_by_id is None:
                run.created_by_id, run.created_by_name = self.user.id, self.user.username
            run.inputs_digest = inputs_digest(rows, factor_versions, model, self.electricity_ef)
            run.factor_versions = factor_versions
            run.total_tco2, run.direct_tco2 = result.total_tco2, result.direct_tco2
            run.indirect_tco2, run.by_category = result.indirect_tco2, result.by_category
            run.notes = "\n".join(result.notes) or None
            run.line_count, run.error = len(result.lines) + len(result.products), None
            self.session.add(run)
            self.session.flush()  # the run row goes through the ORM, so the audit trail records it
            store_lines(self.session, run.id, model, rows, inputs, result)
            if commit:
                self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return run


def _describe(issue: Any, rows: list[ActivityRow]) -> str:
    where = ""
    if issue.row and 0 < issue.row <= len(rows):
        r = rows[issue.row - 1]
        where = f"{r.organization}/{r.process}/{r.subprocess} {r.month} {r.material}（活动记录 {r.id}）："
    return where + issue.reason


def _inputs(line: EngineLine, row: ActivityRow, inputs: RulesInputs) -> dict[str, float | None]:
    material = inputs.library.materials.get(row.material)
    quantity = row.quantity
    if material is not None and material.unit:
        quantity = float(inputs.units.convert(row.quantity, row.unit, material.unit))
    # Every variable of the formula gets a value (None: not given); measured ones win over defaults.
    values: dict[str, float | None] = {"quantity": quantity, **dict.fromkeys(PARAMETERS)}
    for factor in line.factors:
        values[_variable(factor)] = factor.value
    values.update(row.measured())
    return values


def _variable(factor: Any) -> str:
    # FactorUse.name is "material/kind"; NCV, CC and OF are variables of their own, the rest is "ef".
    kind = factor.name.rsplit("/", 1)[-1]
    return FACTOR_VARIABLE.get(kind, "ef")


def store_lines(session: Session, run_id: int, model: AccountingModel, rows: list[ActivityRow],
                inputs: RulesInputs, result: Result) -> int:
    """Bulk-insert the run's lines (one Core executemany; derived data, not audited row by row)."""
    by_id = {str(r.id): r for r in rows}
    bindings = {(b.subprocess_id, b.material_id, b.category): b for b in model.bindings}
    formula_ids = {b.category: b.formula_id for b in model.bindings}
    rules = {r.category: r for r in inputs.model.rules}
    values = []
    for line in result.lines:
        row = by_id[str(line.record_id)]
        binding = bindings.get((row.subprocess_id, row.material_id, line.category))
        values.append({
            "run_id": run_id, "binding_id": binding.id if binding else None,
            "organization_id": row.organization_id, "process_id": row.process_id,
            "subprocess_id": row.subprocess_id, "material": line.material,
            "month": row.month, "category": line.category, "term": line.term,
            "sign": rules[line.category].sign, "scope": rules[line.category].scope,
            "activity": line.activity, "activity_unit": line.activity_unit, "ef": line.ef,
            "ef_unit": line.ef_unit, "tco2": line.tco2, "net_tco2": line.net_tco2,
            "formula_id": binding.formula_id if binding else formula_ids.get(line.category),
            "formula_name": line.formula.name, "formula_version": line.formula.version,
            "formula_expression": line.formula.expression,
            "factors": [{"id": f.id, "version": f.version, "name": f.name, "value": f.value, "unit": f.unit,
                         "source": f.source, "grade": f.grade} for f in line.factors],
            "measured": list(line.measured), "inputs": _inputs(line, row, inputs), "record_ids": [row.id],
        })
    values += [_product_line(run_id, bindings, by_id[str(p.record_id)], p) for p in result.products]
    if values:
        session.execute(insert(ResultLine), values)
    return len(values)


def _product_line(run_id: int, bindings: dict[Any, Any], row: ActivityRow, product: ProductLine) -> dict[str, Any]:
    # A product-output record emits nothing; its line keeps the tonnes and the record for lineage
    # and for the intensity per process product.
    binding = bindings.get((row.subprocess_id, row.material_id, PRODUCT_CATEGORY))
    return {
        "run_id": run_id, "binding_id": binding.id if binding else None, "organization_id": row.organization_id,
        "process_id": row.process_id, "subprocess_id": row.subprocess_id, "material": product.material,
        "month": row.month, "category": PRODUCT_CATEGORY, "term": PRODUCT_CATEGORY, "sign": 1, "scope": "direct",
        "activity": product.quantity_t, "activity_unit": "t", "ef": 0.0, "ef_unit": "tCO2/t", "tco2": 0.0,
        "net_tco2": 0.0, "formula_id": None, "formula_name": PRODUCT_FORMULA, "formula_version": "1",
        "formula_expression": "(quantity) * (0)", "factors": [], "measured": [],
        "inputs": {"quantity": product.quantity_t}, "record_ids": [row.id],
    }
