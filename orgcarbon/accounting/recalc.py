"""Dependency tracking: which stored runs does a change of data or factors make stale?

A run depends on exactly what its ``inputs_digest`` covers: the activity rows of its organisation
subtree and year, the factor versions it used (``factor_versions``), its model version and its grid
EF. The finders below answer "which current runs does this change touch" without recomputing
anything unless a cheap test cannot decide:

- ``runs_affected_by_factor(session, factor)`` — a factor version (normally just published): runs
  that used the same code at another version; runs that did not use the code at all are affected
  only if the engine would now select the factor for them (checked by a dry computation, which is
  done only for runs with lines of the factor's material).
- ``runs_affected_by_record(session, record_id, organization_id, month)`` — an added, changed or
  deleted activity row: runs whose lines came from the record, or whose subtree and year contain
  the row's organisation and month.
- ``stale_runs(session)`` — every current run whose inputs changed since it was computed, with the
  reasons (Chinese): factor codes with a newer published version, a newer model version, activity
  rows added, deleted or changed (detected by recomputing the digest over the current rows with the
  run's own factor versions, model and EF, so a data change is never confused with a factor change).

A *current* run is the latest ``done`` run of an organisation and year that no restatement
superseded; older runs are history and never stale.

``recalculate_stale(session, user, scope)`` then re-accounts exactly the stale runs whose activity
data or model changed (factor-only changes go through ``restatement``), keeping their factor
versions and skipping runs held by a freeze decision or touching a closed period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.accounting.loader import activity_rows, inputs_digest
from orgcarbon.accounting.models import AccountingRun, Restatement, ResultLine
from orgcarbon.metamodel.versioned import AccountingModel, Factor
from orgcarbon.security.scope import OrgScope, subtree_ids


@dataclass
class StaleRun:
    """A current run whose inputs changed, and why (one Chinese reason per change)."""

    run: AccountingRun
    reasons: list[str] = field(default_factory=list)
    factor_codes: list[str] = field(default_factory=list)  # codes with a newer version than the run used
    data_changed: bool = False
    frozen: list[str] = field(default_factory=list)  # "code vN" kept by a freeze decision
    newer_model_id: int | None = None  # the published version of the run's model, if newer

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"run_id": self.run.id, "organization_id": self.run.organization_id,
                "organization": self.run.organization.name, "year": self.run.year,
                "total_tco2": self.run.total_tco2, "reasons": self.reasons, "factor_codes": self.factor_codes,
                "data_changed": self.data_changed, "model_changed": self.newer_model_id is not None,
                "frozen": self.frozen}


def current_runs(session: Session, scope: OrgScope | None = None) -> list[AccountingRun]:
    """The latest done, not superseded run of every (organisation, year), in the caller's scope."""
    query = select(AccountingRun).where(AccountingRun.status == "done").order_by(AccountingRun.id)
    if scope is not None and scope.readable is not None:
        query = query.where(AccountingRun.organization_id.in_(sorted(scope.readable)))
    latest: dict[tuple[int, int], AccountingRun] = {}
    for run in session.scalars(query):
        latest[(run.organization_id, run.year)] = run
    return sorted(latest.values(), key=lambda r: r.id)


def published_factor(session: Session, code: str) -> Factor | None:
    """The published version of a factor code, if any."""
    return session.scalar(select(Factor).where(Factor.code == code, Factor.status == "published"))


def _run_materials(session: Session, run_id: int) -> set[str]:
    return set(session.scalars(select(ResultLine.material).where(ResultLine.run_id == run_id).distinct()))


def run_record_ids(session: Session, run_id: int) -> set[int]:
    """Activity record ids the run's lines came from."""
    ids: set[int] = set()
    for record_ids in session.scalars(select(ResultLine.record_ids).where(ResultLine.run_id == run_id)):
        ids.update(int(i) for i in record_ids or ())
    return ids


def would_use(session: Session, run: AccountingRun, factor: Factor) -> bool:
    """True if accounting the run's organisation and year with ``factor`` added would select it (dry run)."""
    from orgcarbon.accounting.command import AccountingRefused, AccountOrganisation
    from orgcarbon.accounting.restatement import library_for

    command = AccountOrganisation(session, run.organization_id, run.year, run.model_id, run.electricity_ef,
                                  library=library_for(session, run, factor))
    try:
        *_, result = command.compute()
    except AccountingRefused:
        return False
    return any(f.id == factor.code and f.version == str(factor.version) for f in result.factors_used)


def runs_affected_by_factor(session: Session, factor: Factor, scope: OrgScope | None = None) -> list[AccountingRun]:
    """Current runs whose figures change if ``factor`` (a version of one code) is used."""
    version = str(factor.version)
    affected = []
    for run in current_runs(session, scope):
        used = (run.factor_versions or {}).get(factor.code)
        if used is not None:
            if used != version:
                affected.append(run)
        elif factor.material.name in _run_materials(session, run.id) and would_use(session, run, factor):
            affected.append(run)
    return affected


def runs_affected_by_record(session: Session, record_id: int, organization_id: int | None = None,
                            month: str | None = None, scope: OrgScope | None = None) -> list[AccountingRun]:
    """Current runs an added, changed or deleted activity row touches.

    ``organization_id`` and ``month`` are the row's (new) place; a deleted row is found through the
    record ids the runs' lines keep. Give both the old and the new place of a moved row.
    """
    affected = []
    for run in current_runs(session, scope):
        inside = (organization_id is not None and month is not None and month[:4] == str(run.year)
                  and organization_id in subtree_ids(session, [run.organization_id]))
        if inside or record_id in run_record_ids(session, run.id):
            affected.append(run)
    return affected


def _frozen(session: Session) -> set[tuple[str, int]]:
    rows = session.execute(select(Restatement.factor_code, Restatement.factor_version)
                           .where(Restatement.policy == "freeze", Restatement.status == "frozen"))
    return {(code, version) for code, version in rows}


def stale_run(session: Session, run: AccountingRun, frozen: set[tuple[str, int]] | None = None) -> StaleRun | None:
    """Why ``run`` is out of date, or None if its inputs are unchanged."""
    frozen = _frozen(session) if frozen is None else frozen
    found = StaleRun(run)
    for code, used in sorted((run.factor_versions or {}).items()):
        if not session.scalar(select(Factor.id).where(Factor.code == code).limit(1)):
            continue  # not a stored factor (e.g. the run's given grid EF, "context/electricity_ef")
        current = published_factor(session, code)
        if current is None:
            found.reasons.append(f"因子 {code} v{used} 已没有已发布版本")
            found.factor_codes.append(code)
        elif str(current.version) != used:
            if (code, current.version) in frozen:
                found.frozen.append(f"{code} v{current.version}")
                continue
            found.reasons.append(f"因子 {code} 已发布新版本 v{current.version}（本次核算用 v{used}）")
            found.factor_codes.append(code)
    model = session.get(AccountingModel, run.model_id)
    if model is not None and model.status == "superseded":
        newer = session.scalar(select(AccountingModel).where(AccountingModel.name == model.name,
                                                             AccountingModel.status == "published"))
        if newer is not None:
            found.newer_model_id = newer.id
            found.reasons.append(f"核算模型“{model.name}”已发布新版本 v{newer.version}（本次核算用 v{model.version}）")
    rows = activity_rows(session, run.organization_id, run.year)
    if model is not None and inputs_digest(rows, run.factor_versions or {}, model, run.electricity_ef) != run.inputs_digest:
        found.data_changed = True
        now, before = {r.id for r in rows}, run_record_ids(session, run.id)
        added, deleted = len(now - before), len(before - now)
        parts = [f"新增 {added} 条" if added else "", f"删除 {deleted} 条" if deleted else ""]
        detail = "、".join(p for p in parts if p) or "已有记录被修改"
        found.reasons.append(f"活动数据已变化（{detail}）")
    return found if found.reasons else None


def stale_runs(session: Session, scope: OrgScope | None = None,
               run_ids: Iterable[int] | None = None) -> list[StaleRun]:
    """Every current run (in scope, optionally only ``run_ids``) whose inputs changed, with reasons."""
    frozen = _frozen(session)
    wanted = set(run_ids) if run_ids is not None else None
    found = []
    for run in current_runs(session, scope):
        if wanted is not None and run.id not in wanted:
            continue
        if (stale := stale_run(session, run, frozen)) is not None:
            found.append(stale)
    return found


# --- Recomputing what depends on a data or model change -------------------------------------------


@dataclass
class SkippedRun:
    """A stale run ``recalculate_stale`` left as it is, and why (Chinese)."""

    run: AccountingRun
    reasons: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"run_id": self.run.id, "organization_id": self.run.organization_id,
                "organization": self.run.organization.name, "year": self.run.year, "reasons": self.reasons}


class Recalculated(list[AccountingRun]):
    """The new runs, in order; ``skipped`` lists the stale runs left alone, with the reasons."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[SkippedRun] = []
        self.replaced: dict[int, int] = {}  # new run id → the run it replaces

    def as_dict(self) -> dict[str, Any]:
        """JSON form: the new runs (with the run each replaces) and the skipped ones."""
        return {
            "runs": [{"run_id": r.id, "replaces": self.replaced.get(r.id), "organization_id": r.organization_id,
                      "organization": r.organization.name, "year": r.year, "total_tco2": r.total_tco2}
                     for r in self],
            "skipped": [s.as_dict() for s in self.skipped],
        }


def pinned_library(session: Session, run: AccountingRun) -> Any:
    """The published factor library, except that every code ``run`` used keeps the version it used.

    A recalculation for changed data then changes nothing else: a newer factor version still
    goes through the restatement policy (freeze or restate with approval).
    """
    from orgcarbon.metamodel.models import Material
    from orgcarbon.metamodel.rules_inputs import factor_record
    from orgcarbon.metamodel.versioning import current_versions
    from orgcarbon.rules.factors import FactorLibrary

    pinned = run.factor_versions or {}
    factors = [f for f in session.scalars(current_versions(Factor)) if f.code not in pinned]
    for code, version in sorted(pinned.items()):
        stored = session.scalar(select(Factor).where(Factor.code == code, Factor.version == int(version)))
        if stored is not None:  # a code like "context/electricity_ef" is the run's own EF, not stored
            factors.append(stored)
    return FactorLibrary.from_records(
        (factor_record(f) for f in factors),
        ({"name": m.name, "unit": m.unit, "name_en": m.name_en, "state": m.state}
         for m in session.scalars(select(Material))),
    )


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def changed_months(session: Session, run: AccountingRun, rows: list[Any], result: Any) -> set[tuple[int, str]]:
    """(organisation node, month) pairs whose lines differ between ``run`` and a new computation."""
    before: dict[int, tuple[int, str, str, float, float]] = {}
    query = select(ResultLine.record_ids, ResultLine.organization_id, ResultLine.month, ResultLine.category,
                   ResultLine.activity, ResultLine.tco2).where(ResultLine.run_id == run.id)
    for record_ids, org, month, category, activity, tco2 in session.execute(query):
        for record_id in record_ids or ():
            before[int(record_id)] = (org, month, category, float(activity), float(tco2))
    by_id = {r.id: r for r in rows}
    after: dict[int, tuple[int, str, str, float, float]] = {}
    for line in result.lines:
        row = by_id[int(line.record_id)]
        after[row.id] = (row.organization_id, row.month, line.category, line.activity, line.tco2)
    for product in result.products:
        row = by_id[int(product.record_id)]
        after[row.id] = (row.organization_id, row.month, row.category, product.quantity_t, 0.0)
    changed: set[tuple[int, str]] = set()
    for record_id in set(before) | set(after):
        old, new = before.get(record_id), after.get(record_id)
        same = (old is not None and new is not None and old[:3] == new[:3]
                and _close(old[3], new[3]) and _close(old[4], new[4]))
        if not same:
            changed.update((x[0], x[1]) for x in (old, new) if x is not None)
    return changed


def _locked(session: Session, year: int, changed: set[tuple[int, str]]) -> list[str]:
    from orgcarbon.forms.periods import period_locked
    from orgcarbon.metamodel.models import Organization

    found = []
    for org_id, month in sorted(changed):
        months = range(1, 13) if len(month) == 4 else [int(month[5:7])]
        for m in months:
            if period_locked(session, org_id, year, m):
                org = session.get(Organization, org_id)
                found.append(f"{org.name if org else org_id} {year}-{m:02d}")
    return list(dict.fromkeys(found))


def recalculate_stale(session: Session, user: Any = None, scope: OrgScope | None = None) -> Recalculated:
    """Re-account, as new runs, exactly the current runs whose activity data or model changed.

    Runs whose only change is a factor version are left to the restatement policy, runs held by a
    freeze decision are left as they are, and every other run is untouched. A new run keeps the
    factor versions of the run it replaces (``pinned_library``), takes the newer published model
    if there is one, and marks the old run ``superseded``. A run whose changed months include a
    locked period is skipped with the reason, as is one the engine refuses. Each new run is
    committed on its own, so one refusal does not undo the others.
    """
    from orgcarbon.accounting.command import AccountingRefused, AccountOrganisation

    done = Recalculated()
    for stale in stale_runs(session, scope):
        run = stale.run
        if not stale.data_changed and stale.newer_model_id is None:
            continue  # a factor-only change: freeze or restate
        if scope is not None and not scope.can_write(run.organization_id):
            done.skipped.append(SkippedRun(run, [f"无权重算组织“{run.organization.name}”的核算结果（超出您的数据范围）"]))
            continue
        if stale.frozen:
            done.skipped.append(SkippedRun(run, [f"因子冻结决定保持该核算结果（{'、'.join(stale.frozen)}），未重算"]))
            continue
        command = AccountOrganisation(session, run.organization_id, run.year, stale.newer_model_id or run.model_id,
                                      run.electricity_ef, user=user, library=pinned_library(session, run))
        try:
            org, model, rows, inputs, result = command.compute()
        except AccountingRefused as exc:
            session.rollback()
            done.skipped.append(SkippedRun(run, exc.reasons))
            continue
        if locked := _locked(session, run.year, changed_months(session, run, rows, result)):
            done.skipped.append(SkippedRun(run, [f"期间 {p} 已锁定，须先重新开放该期间才能重算" for p in locked]))
            continue
        new = command.store(org, model, rows, inputs, result, commit=False)
        new.notes = "\n".join(p for p in (new.notes, f"重算（{'；'.join(stale.reasons)}）：替代核算结果 #{run.id}") if p)
        run.status, run.superseded_by_id = "superseded", new.id
        session.commit()
        done.replaced[new.id] = run.id
        done.append(new)
    return done
