"""Load what the regimes need from the database (queries only): rows, library, GB/T result, evidence.

The GB/T figures come from the same command the 核算结果 pages use (``AccountOrganisation``,
computed without writing), with the grid factor of the organisation's current run when there is
one, so the reconciliation starts from the total those pages show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orgcarbon.accounting.command import AccountingRefused, AccountOrganisation
from orgcarbon.accounting.loader import ActivityRow, grid_region, year_start
from orgcarbon.accounting.models import AccountingRun
from orgcarbon.metamodel.models import ActivityRecord, Organization, Process
from orgcarbon.rules import AccountingContext, RecordRow, Result
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.security.scope import OrgScope, subtree_ids


class RegimeRefused(ValueError):
    """The regime figures cannot be made; ``reasons`` are Chinese."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("；".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Inputs:
    """One organisation subtree and year as every regime computes it."""

    org: Organization
    year: int
    rows: list[ActivityRow]
    records: list[RecordRow]
    library: FactorLibrary
    context: AccountingContext
    gbt: Result
    run: AccountingRun | None
    templates: dict[str, str]  # platform process name → its process template


def current_run(session: Session, org_id: int, year: int) -> AccountingRun | None:
    """The organisation's latest finished run of ``year`` (the one 核算结果 shows as current)."""
    return session.scalars(
        select(AccountingRun)
        .where(AccountingRun.organization_id == org_id, AccountingRun.year == year, AccountingRun.status == "done")
        .order_by(AccountingRun.id.desc())
        .limit(1)
    ).first()


def load_inputs(session: Session, org_id: int, year: int) -> Inputs:
    """Rows, library and the GB/T result of ``org_id``'s subtree for ``year``; raise ``RegimeRefused``."""
    run = current_run(session, org_id, year)
    command = AccountOrganisation(session, org_id, year, electricity_ef=run.electricity_ef if run else None)
    try:
        org, _model, rows, inputs, result = command.compute()
    except AccountingRefused as exc:
        raise RegimeRefused(exc.reasons) from exc
    context = AccountingContext(
        year=year, on=year_start(year), grid_region=grid_region(session, org.id),
        electricity_ef=run.electricity_ef if run else None, organization=org.name, units=inputs.units,
    )
    process_ids = sorted({r.process_id for r in rows})
    templates = {name: template for name, template in session.execute(
        select(Process.name, Process.template).where(Process.id.in_(process_ids))) if template}
    return Inputs(org, year, rows, [r.record(i) for i, r in enumerate(rows, start=1)], inputs.library, context,
                  result, run, templates)


def default_org(session: Session, scope: OrgScope) -> int | None:
    """The first node the caller may read whose parent they may not (the top of their tree)."""
    query = select(Organization.id, Organization.parent_id).order_by(Organization.id)
    for node, parent in session.execute(query):
        if scope.can_read(node) and (parent is None or not scope.can_read(parent)):
            return int(node)
    return None


def default_year(session: Session, org_id: int | None) -> int:
    """The newest year with activity data in the organisation's subtree (this year when none)."""
    import datetime as dt

    query = select(func.max(ActivityRecord.month))
    if org_id is not None:
        query = query.where(ActivityRecord.organization_id.in_(sorted(subtree_ids(session, [org_id]))))
    newest = session.scalar(query)
    return int(str(newest)[:4]) if newest else dt.date.today().year


def organizations(session: Session, scope: OrgScope) -> list[tuple[int, str]]:
    """The organisation nodes the caller may pick."""
    query = select(Organization.id, Organization.name).order_by(Organization.id)
    return [(int(i), n) for i, n in session.execute(query) if scope.can_read(int(i))]


def evidence_for(session: Session, record_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """For each activity row approved through a form: the submission and its evidence files (read only)."""
    from orgcarbon.accounting.explain import origin
    from orgcarbon.forms.models import Evidence  # the forms issue's table, read only here

    ids = sorted({int(i) for i in record_ids})
    if not ids:
        return {}
    records = session.scalars(
        select(ActivityRecord).where(ActivityRecord.id.in_(ids), ActivityRecord.submission_id.is_not(None))
    ).all()
    submissions = sorted({r.submission_id for r in records if r.submission_id is not None})
    files: dict[int, list[dict[str, Any]]] = {}
    for e in session.scalars(select(Evidence).where(Evidence.submission_id.in_(submissions)).order_by(Evidence.id)):
        files.setdefault(e.submission_id, []).append({
            "id": e.id, "filename": e.filename, "sm3": e.sm3, "size": e.size, "note": e.note,
            "field": e.field.label if e.field is not None else None, "url": f"/forms/evidence/{e.id}",
            "uploaded_at": e.uploaded_at.isoformat() if e.uploaded_at else None,
        })
    return {
        r.id: {**origin(session, r), "files": files.get(r.submission_id or 0, [])}
        for r in records
    }


def installation_nodes(session: Session, org_id: int) -> list[Organization]:
    """The nodes of ``org_id``'s subtree, in id order (where CBAM installations may be set)."""
    ids = sorted(subtree_ids(session, [org_id]))
    return list(session.scalars(select(Organization).where(Organization.id.in_(ids)).order_by(Organization.id)))
