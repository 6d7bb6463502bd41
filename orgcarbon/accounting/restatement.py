"""Restatement policy for a factor change: freeze past runs, or restate them after approval.

- ``freeze(session, factor, user)`` records the modeller's decision to keep past runs: their
  figures and factor versions stay as stored; new runs use the published version anyway.
- ``request_restatement(session, factor, user, scope)`` finds the affected current runs
  (``recalc.runs_affected_by_factor``), recomputes each **without storing a run**, with the run's
  own factor versions except the changed one, and stores the request with its preview: totals per
  run and the signed tCO2 before/after by organisation node, process and month (rows that change).
- ``approve(session, restatement_id, user, scope)`` — by a different user than the requester
  (separation of duties) — recomputes only the covered runs in one transaction: each gets a new
  run row; the old run is kept, marked ``superseded`` and pointed at its successor. It refuses if a
  period is locked, if the factor version is no longer the published one, if a covered run was
  replaced meanwhile, or if the recomputed totals differ from the preview (data changed: preview
  again).

Every refusal raises ``RestatementRefused`` with Chinese reasons; nothing is stored then.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.accounting.loader import activity_rows, inputs_digest
from orgcarbon.accounting.models import (
    AccountingRun,
    Restatement,
    RestatementDiff,
    RestatementRun,
    ResultLine,
    utcnow,
)
from orgcarbon.accounting.recalc import current_runs, runs_affected_by_factor
from orgcarbon.metamodel.models import Material
from orgcarbon.metamodel.rules_inputs import factor_record
from orgcarbon.metamodel.versioned import AccountingModel, Factor
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.security.scope import OrgScope

POLICIES = ("freeze", "restate")
TOLERANCE = 1e-6  # t: smaller preview differences are rounding, not changes
MATCH_TOLERANCE = 0.01  # t: how far an applied total may be from its preview


class RestatementRefused(ValueError):
    """The restatement step is refused; ``reasons`` are Chinese."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("重述被拒绝：" + "；".join(reasons))
        self.reasons = reasons


def period_locked(session: Session, org_id: int, year: int, month: int) -> bool:
    """True if the period (organisation node, year, month 1–12) is closed, by the node or an ancestor.

    The period table belongs to the forms issue (``orgcarbon.forms.periods``); a restatement
    touching a locked period is refused until the period is reopened.
    """
    from orgcarbon.forms.periods import period_locked as locked

    return locked(session, org_id, year, month)


def library_for(session: Session, run: AccountingRun, factor: Factor) -> FactorLibrary:
    """The factors ``run`` used (its stored versions) with ``factor`` replacing its code's version."""
    factors = [factor]
    for code, version in sorted((run.factor_versions or {}).items()):
        if code == factor.code:
            continue
        stored = session.scalar(select(Factor).where(Factor.code == code, Factor.version == int(version)))
        if stored is not None:
            factors.append(stored)
    materials = session.scalars(select(Material)).all()
    return FactorLibrary.from_records(
        (factor_record(f) for f in factors),
        ({"name": m.name, "unit": m.unit, "name_en": m.name_en, "state": m.state} for m in materials),
    )


def _before(session: Session, run_id: int) -> dict[tuple[int, int | None, str], float]:
    query = (select(ResultLine.organization_id, ResultLine.process_id, ResultLine.month, func.sum(ResultLine.net_tco2))
             .where(ResultLine.run_id == run_id)
             .group_by(ResultLine.organization_id, ResultLine.process_id, ResultLine.month))
    return {(o, p, m): float(v) for o, p, m, v in session.execute(query)}


def recompute(session: Session, run: AccountingRun, factor: Factor) -> tuple[float, dict[tuple[int, int | None, str], float], bool]:
    """(total, signed tCO2 by (organisation, process, month), data changed) of ``run`` with ``factor``; stores nothing."""
    from orgcarbon.accounting.command import AccountOrganisation

    command = AccountOrganisation(session, run.organization_id, run.year, run.model_id, run.electricity_ef,
                                  library=library_for(session, run, factor))
    _, model, rows, _, result = command.compute()
    by_id = {str(r.id): r for r in rows}
    after: dict[tuple[int, int | None, str], float] = defaultdict(float)
    for line in result.lines:
        row = by_id[str(line.record_id)]
        after[(row.organization_id, row.process_id, row.month)] += line.net_tco2
    return float(result.total_tco2), dict(after), _data_changed(session, run, model)


def _data_changed(session: Session, run: AccountingRun, model: AccountingModel) -> bool:
    rows = activity_rows(session, run.organization_id, run.year)
    return inputs_digest(rows, run.factor_versions or {}, model, run.electricity_ef) != run.inputs_digest


def _user(user: Any) -> tuple[int | None, str | None]:
    return getattr(user, "id", None), getattr(user, "username", None)


def _check_factor(factor: Factor | None) -> Factor:
    if factor is None:
        raise RestatementRefused(["因子版本不存在"])
    if factor.status != "published":
        raise RestatementRefused([f"因子 {factor.code} v{factor.version} 不是当前已发布版本（状态：{factor.status}）"])
    return factor


def _writable(runs: list[AccountingRun], scope: OrgScope | None) -> list[AccountingRun]:
    return [r for r in runs if scope is None or scope.can_write(r.organization_id)]


def freeze(session: Session, factor: Factor, user: Any = None, scope: OrgScope | None = None,
           note: str | None = None) -> Restatement:
    """Record the ``freeze`` decision: affected past runs keep their figures and factor versions."""
    factor = _check_factor(factor)
    runs = _writable(runs_affected_by_factor(session, factor, scope), scope)
    user_id, name = _user(user)
    now = utcnow()
    decision = Restatement(factor_id=factor.id, factor_code=factor.code, factor_version=factor.version,
                           policy="freeze", status="frozen", requested_at=now, requested_by_id=user_id,
                           requested_by_name=name, decided_at=now, decided_by_id=user_id, decided_by_name=name,
                           before_tco2=sum(r.total_tco2 or 0.0 for r in runs),
                           after_tco2=sum(r.total_tco2 or 0.0 for r in runs), note=note)
    decision.runs = [RestatementRun(run_id=r.id, organization_id=r.organization_id, year=r.year,
                                    before_tco2=r.total_tco2 or 0.0, after_tco2=r.total_tco2 or 0.0) for r in runs]
    session.add(decision)
    session.commit()
    return decision


def request_restatement(session: Session, factor: Factor, user: Any = None, scope: OrgScope | None = None,
                        note: str | None = None) -> Restatement:
    """Store a ``restate`` request with its preview (no run is stored); refuse if nothing is affected."""
    from orgcarbon.accounting.command import AccountingRefused

    factor = _check_factor(factor)
    affected = runs_affected_by_factor(session, factor, scope)
    runs = _writable(affected, scope)
    if not runs:
        raise RestatementRefused([f"因子 {factor.code} v{factor.version} 不影响您数据范围内的任何现行核算结果"])
    user_id, name = _user(user)
    request = Restatement(factor_id=factor.id, factor_code=factor.code, factor_version=factor.version,
                          policy="restate", status="pending", requested_at=utcnow(), requested_by_id=user_id,
                          requested_by_name=name, note=note)
    before_total = after_total = 0.0
    for run in runs:
        try:
            total, after, changed = recompute(session, run, factor)
        except AccountingRefused as exc:
            raise RestatementRefused([f"{run}：{r}" for r in exc.reasons]) from exc
        before = _before(session, run.id)
        request.runs.append(RestatementRun(run_id=run.id, organization_id=run.organization_id, year=run.year,
                                           before_tco2=run.total_tco2 or 0.0, after_tco2=total, data_changed=changed))
        for key in sorted(set(before) | set(after), key=lambda k: (k[0], k[1] or 0, k[2])):
            old, new = before.get(key, 0.0), after.get(key, 0.0)
            if abs(new - old) > TOLERANCE:
                request.diffs.append(RestatementDiff(run_id=run.id, organization_id=key[0], process_id=key[1],
                                                     month=key[2], before_tco2=old, after_tco2=new,
                                                     diff_tco2=new - old))
        before_total += run.total_tco2 or 0.0
        after_total += total
    request.before_tco2, request.after_tco2 = before_total, after_total
    if len(runs) < len(affected):
        request.note = "\n".join(p for p in (note, f"另有 {len(affected) - len(runs)} 个受影响的核算结果超出申请人的数据范围，未包含") if p)
    session.add(request)
    session.commit()
    return request


def locked_periods(session: Session, request: Restatement) -> list[str]:
    """The locked periods a restatement would change, as Chinese text (empty: none)."""
    found: list[str] = []
    seen: set[tuple[int, int, int]] = set()
    for diff in request.diffs:
        months = range(1, 13) if len(diff.month) == 4 else [int(diff.month[5:7])]
        year = int(diff.month[:4])
        for item in request.runs:
            if item.run_id != diff.run_id:
                continue
            for org_id, org_name in ((diff.organization_id, diff.organization.name),
                                     (item.organization_id, item.organization.name)):
                for month in months:
                    if (org_id, year, month) not in seen and period_locked(session, org_id, year, month):
                        seen.add((org_id, year, month))
                        found.append(f"{org_name} {year}-{month:02d}")
    return found


def approve(session: Session, restatement_id: int, user: Any, scope: OrgScope | None = None) -> Restatement:
    """Apply a pending restatement (approver ≠ requester): new runs supersede the covered ones, one transaction."""
    from orgcarbon.accounting.command import AccountingRefused, AccountOrganisation

    request = session.get(Restatement, restatement_id)
    if request is None or (scope is not None and not any(scope.can_read(r.organization_id) for r in request.runs)):
        raise RestatementRefused([f"重述申请 {restatement_id} 不存在"])
    if request.policy != "restate" or request.status != "pending":
        raise RestatementRefused([f"重述申请 {request.id} 不是待批准状态（{request.policy}/{request.status}）"])
    user_id, name = _user(user)
    if user_id is None or user_id == request.requested_by_id:
        raise RestatementRefused(["申请人不能批准自己的重述申请（职责分离：须由另一名用户批准）"])
    if scope is not None and (outside := [r.organization.name for r in request.runs if not scope.can_write(r.organization_id)]):
        raise RestatementRefused([f"无权重述组织“{o}”的核算结果（超出您的数据范围）" for o in outside])
    factor = _check_factor(session.get(Factor, request.factor_id))
    if locked := locked_periods(session, request):
        raise RestatementRefused([f"期间 {p} 已锁定，须先重新开放该期间才能重述" for p in locked])
    current = {r.id for r in current_runs(session)}
    if stale := [str(item.run) for item in request.runs if item.run_id not in current]:
        raise RestatementRefused([f"核算结果 {s} 在预览之后已被替代，请重新预览" for s in stale])
    try:
        now = utcnow()
        for item in request.runs:
            old = item.run
            command = AccountOrganisation(session, old.organization_id, old.year, old.model_id, old.electricity_ef,
                                          user=user, library=library_for(session, old, factor))
            new = command.run(commit=False)
            if abs((new.total_tco2 or 0.0) - item.after_tco2) > MATCH_TOLERANCE:
                raise RestatementRefused([f"{old}：重算结果 {new.total_tco2:,.2f} t 与预览 {item.after_tco2:,.2f} t "
                                          "不一致（预览后数据已变化），请重新预览"])
            new.notes = "\n".join(p for p in (new.notes, f"重述申请 #{request.id}：因子 {factor.code} v{factor.version}，"
                                                          f"替代核算结果 #{old.id}") if p)
            old.status, old.superseded_by_id = "superseded", new.id
            item.new_run_id = new.id
        request.status, request.decided_at, request.decided_by_id, request.decided_by_name = "applied", now, user_id, name
        session.commit()
    except AccountingRefused as exc:
        session.rollback()
        raise RestatementRefused(exc.reasons) from exc
    except Exception:
        session.rollback()
        raise
    return request


def reject(session: Session, restatement_id: int, user: Any, scope: OrgScope | None = None,
           note: str | None = None) -> Restatement:
    """Reject (or, by the requester, withdraw) a pending restatement; nothing else changes."""
    request = session.get(Restatement, restatement_id)
    if request is None or (scope is not None and not any(scope.can_read(r.organization_id) for r in request.runs)):
        raise RestatementRefused([f"重述申请 {restatement_id} 不存在"])
    if request.status != "pending":
        raise RestatementRefused([f"重述申请 {request.id} 不是待批准状态（{request.status}）"])
    user_id, name = _user(user)
    request.status, request.decided_at, request.decided_by_id, request.decided_by_name = "rejected", utcnow(), user_id, name
    if note:
        request.note = "\n".join(p for p in (request.note, note) if p)
    session.commit()
    return request


def restatement_dict(request: Restatement, scope: OrgScope | None = None) -> dict[str, Any]:
    """A restatement as JSON: runs and preview rows visible in ``scope``."""
    readable = (lambda org_id: True) if scope is None else scope.can_read
    return {
        "id": request.id, "factor_id": request.factor_id, "factor_code": request.factor_code,
        "factor_version": request.factor_version, "policy": request.policy, "status": request.status,
        "requested_by": request.requested_by_name, "requested_at": request.requested_at.isoformat() if request.requested_at else None,
        "decided_by": request.decided_by_name, "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "before_tco2": request.before_tco2, "after_tco2": request.after_tco2, "note": request.note,
        "runs": [{"run_id": r.run_id, "new_run_id": r.new_run_id, "organization_id": r.organization_id,
                  "organization": r.organization.name, "year": r.year, "before_tco2": r.before_tco2,
                  "after_tco2": r.after_tco2, "diff_tco2": r.after_tco2 - r.before_tco2, "data_changed": r.data_changed}
                 for r in request.runs if readable(r.organization_id)],
        "preview": [{"run_id": d.run_id, "organization_id": d.organization_id, "organization": d.organization.name,
                     "process_id": d.process_id, "process": d.main_process.name if d.main_process else "",
                     "month": d.month, "before_tco2": d.before_tco2, "after_tco2": d.after_tco2, "diff_tco2": d.diff_tco2}
                    for d in request.diffs if readable(d.organization_id)],
    }
