"""Starting an accounting run, from the 核算运行记录 page or ``POST /api/v1/results/runs``: one set of checks.

The caller must be able to write the organisation node (its subtree is accounted with it); a model,
when given, must be shared or belong to the node, an ancestor or the caller's readable scope; the
year is a calendar year. Refusals carry an HTTP status and Chinese reasons, and write nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select

from orgcarbon.platform.extensions import db
from orgcarbon.security.scope import org_scope


class StartRefused(Exception):
    """A run that is not started: the HTTP status and the Chinese reasons."""

    def __init__(self, status: int, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.status = status
        self.reasons = reasons


@dataclass(frozen=True)
class StartRequest:
    organization_id: int
    year: int
    model_id: int | None = None
    electricity_ef: float | None = None


def _optional(values: Mapping[str, Any], key: str, kind: type) -> Any:
    value = values.get(key)
    return None if value is None or (isinstance(value, str) and not value.strip()) else kind(value)


def parse_start(values: Mapping[str, Any]) -> StartRequest:
    """The run request of a JSON body or a page form; ``StartRefused(422)`` names the wrong field."""
    reasons = []
    try:
        org_id = int(values["organization_id"])
    except (KeyError, TypeError, ValueError):
        reasons.append("组织（organization_id）：请选择要核算的组织（整数编号）")
    try:
        year = int(values["year"])
        if not 1990 <= year <= date.today().year + 1:
            reasons.append(f"年份（year）：{year} 不在 1990 至 {date.today().year + 1} 之间")
    except (KeyError, TypeError, ValueError):
        reasons.append("年份（year）：需要四位整数年份，例如 2024")
    try:
        model_id = _optional(values, "model_id", int)
    except (TypeError, ValueError):
        reasons.append("核算模型（model_id）：应为整数编号或留空")
    try:
        ef = _optional(values, "electricity_ef", float)
        if ef is not None and not 0 <= ef < 10:
            reasons.append(f"电网排放因子（electricity_ef）：{ef} 应在 0 至 10 tCO2/MWh 之间或留空")
    except (TypeError, ValueError):
        reasons.append("电网排放因子（electricity_ef）：应为数字（tCO2/MWh）或留空")
    if reasons:
        raise StartRefused(422, reasons)
    return StartRequest(org_id, year, model_id, ef)


def usable_model(model_id: int, org_id: int) -> bool:
    """A model the caller may account ``org_id`` with: shared, of the node or an ancestor, or readable.

    Another subtree's model would put its name and bindings into the caller's results.
    """
    from orgcarbon.accounting.loader import ancestors
    from orgcarbon.metamodel.versioned import AccountingModel

    model = db.session.get(AccountingModel, model_id) if 0 < model_id < 2**31 else None
    if model is None:
        return False
    owner = model.organization_id
    return owner is None or owner in {o.id for o in ancestors(db.session, org_id)} or org_scope().can_read(owner)


def begin_run(start: StartRequest, user: Any) -> int:
    """Check scope and model, then record the run and hand it to the worker; returns the run id."""
    from orgcarbon.accounting.command import AccountingRefused
    from orgcarbon.accounting.tasks import start_run

    scope = org_scope()
    if not 0 < start.organization_id < 2**31 or not scope.can_read(start.organization_id):
        raise StartRefused(404, ["组织不存在或不在您的数据范围内"])
    if not scope.can_write(start.organization_id):
        raise StartRefused(403, ["无权核算该组织（超出您的数据范围）"])
    if start.model_id is not None and not usable_model(start.model_id, start.organization_id):
        raise StartRefused(422, [f"核算模型 {start.model_id} 不存在，或不属于该组织及其上级、超出您的数据范围"])
    try:
        return start_run(db.session, start.organization_id, start.year, start.model_id, start.electricity_ef, user)
    except AccountingRefused as exc:
        db.session.rollback()
        raise StartRefused(422, list(exc.reasons)) from exc


def start_choices() -> dict[str, Any]:
    """What the page's form offers: the writable organisations and the published models they may use."""
    from orgcarbon.metamodel.models import ActivityRecord, Organization
    from orgcarbon.metamodel.versioned import AccountingModel

    scope = org_scope()
    orgs = [o for o in db.session.scalars(select(Organization).order_by(Organization.id))
            if scope.can_write(o.id)]
    models = [m for m in db.session.scalars(select(AccountingModel).where(AccountingModel.status == "published")
                                            .order_by(AccountingModel.name, AccountingModel.version))
              if m.organization_id is None or scope.can_read(m.organization_id)]
    latest = db.session.scalar(select(func.max(ActivityRecord.month)))
    return {"organisations": orgs, "models": models, "year": int(latest[:4]) if latest else date.today().year - 1}
