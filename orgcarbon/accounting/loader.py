"""Load what one accounting run needs from the database: model, activity rows, context.

Queries only (the DAO of the command): nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import ActivityRecord, Material, Organization, Process, SubProcess
from orgcarbon.metamodel.versioned import AccountingModel
from orgcarbon.rules import RecordRow, Records
from orgcarbon.security.scope import subtree_ids


@dataclass(frozen=True)
class ActivityRow:
    """One stored activity row with the ids a result line keeps."""

    id: int
    organization_id: int
    organization: str
    process_id: int
    process: str
    subprocess_id: int
    subprocess: str
    material_id: int
    material: str
    category: str
    month: str
    quantity: float
    unit: str
    purity: float | None
    # Measured parameters (None: the library default applies): GJ/unit, tC/GJ, fraction, tCO2/unit.
    ncv: float | None = None
    cc: float | None = None
    of: float | None = None
    ef: float | None = None

    def record(self, row: int) -> RecordRow:
        """The row as the engine's plain record; a month that is only a year means the whole year."""
        return RecordRow(
            category=self.category, material=self.material, quantity=self.quantity, unit=self.unit,
            process=self.process, subprocess=self.subprocess, site=self.organization,
            month=self.month if len(self.month) == 7 else "", purity=self.purity, ncv=self.ncv, cc=self.cc,
            of=self.of, ef=self.ef, row=row, id=str(self.id),
        )

    def measured(self) -> dict[str, float]:
        """The parameters measured on the row, by the engine's variable name."""
        values = {"ncv": self.ncv, "cc": self.cc, "of": self.of, "purity": self.purity, "ef": self.ef}
        return {name: value for name, value in values.items() if value is not None}

    def digest_key(self) -> list[object]:
        """What the digest covers of this row; NCV/CC/OF/EF only when one is measured, so that
        digests of rows without them are those stored before the columns existed."""
        key: list[object] = [self.id, self.subprocess_id, self.material_id, self.category, self.month,
                             self.quantity, self.unit, self.purity]
        if any(v is not None for v in (self.ncv, self.cc, self.of, self.ef)):
            key += [self.ncv, self.cc, self.of, self.ef]
        return key


def ancestors(session: Session, org_id: int) -> list[Organization]:
    """The node and its ancestors, nearest first."""
    chain: list[Organization] = []
    node = session.get(Organization, org_id)
    while node is not None and node not in chain:
        chain.append(node)
        node = node.parent
    return chain


def grid_region(session: Session, org_id: int) -> str | None:
    """The node's grid region: its own or the nearest ancestor's, else the one all its descendants share."""
    found = next((o.grid_region for o in ancestors(session, org_id) if o.grid_region), None)
    if found is None:
        ids = sorted(subtree_ids(session, [org_id]))
        below = set(session.scalars(select(Organization.grid_region).where(
            Organization.id.in_(ids), Organization.grid_region.is_not(None))))
        found = below.pop() if len(below) == 1 else None
    return found


def default_model(session: Session, org_id: int) -> AccountingModel | None:
    """The published model of the nearest ancestor that owns one, else a model for everyone."""
    published = session.scalars(
        select(AccountingModel).where(AccountingModel.status == "published").order_by(AccountingModel.id)
    ).all()
    for node in ancestors(session, org_id):
        owned = [m for m in published if m.organization_id == node.id]
        if owned:
            return owned[-1]
    shared = [m for m in published if m.organization_id is None]
    return shared[-1] if shared else None


def activity_rows(session: Session, org_id: int, year: int) -> list[ActivityRow]:
    """Activity rows of the node's whole subtree for ``year``, in id order."""
    ids = subtree_ids(session, [org_id])
    query = (
        select(ActivityRecord, SubProcess, Process, Material, Organization)
        .join(SubProcess, ActivityRecord.subprocess_id == SubProcess.id)
        .join(Process, SubProcess.process_id == Process.id)
        .join(Material, ActivityRecord.material_id == Material.id)
        .join(Organization, ActivityRecord.organization_id == Organization.id)
        .where(ActivityRecord.organization_id.in_(sorted(ids)), ActivityRecord.month.like(f"{year}%"))
        .order_by(ActivityRecord.id)
    )
    return [
        ActivityRow(a.id, o.id, o.name, p.id, p.name, s.id, s.name, m.id, m.name, a.category, a.month,
                    float(a.quantity), a.unit, a.purity, a.ncv, a.carbon_content, a.oxidation_factor, a.ef)
        for a, s, p, m, o in session.execute(query)
    ]


def records_of(rows: list[ActivityRow]) -> Records:
    """The rows in the engine's columnar form; row numbers are positions, ids the stored ids."""
    return Records.from_rows([r.record(i) for i, r in enumerate(rows, start=1)])


def inputs_digest(rows: list[ActivityRow], factor_versions: dict[str, str], model: AccountingModel,
                  electricity_ef: float | None) -> str:
    """SHA-256 of everything a run's figures depend on: rows, factor versions, model version, EF."""
    payload = {
        "model": [model.id, model.version],
        "electricity_ef": electricity_ef,
        "factors": sorted(factor_versions.items()),
        "rows": [r.digest_key() for r in rows],
    }
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, default=str).encode()).hexdigest()


def year_start(year: int) -> dt.date:
    """1 January of ``year``: the date factors must be valid on."""
    return dt.date(year, 1, 1)
