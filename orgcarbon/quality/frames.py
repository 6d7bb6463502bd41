"""Record frames of stored data for the quality rules: accounted activity rows and staging rows.

Queries only. A frame has the core's columns (``rules/quality/frame.py``), built like
``package_frame`` but with the stored ids as row ids, so a finding names the record it is about.
Beside the frame: which rows lie inside the period (the month before it is loaded as context, so
month-over-month and "previous value" fills see it), the organisation behind each label, and what
the scorecard needs for timeliness and accessibility.

Provenance per data set:

* activity (``mm_activity``): an approved form (``submission_id``) was received when it was
  submitted and was due on the form's due date (``forms.service.due_date``); a row promoted from
  staging (``partitions.first_readings``) carries that row's time received, batch and connector; rows of
  the demo loader or a package carry only their source.
* staging (``st_row``): received at ``received_at``; due on the due date of the form that collects
  its binding, else on day ``DEFAULT_DUE_DAY`` of the month after its month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import ActivityRecord, Material, Organization, Process, SubProcess
from orgcarbon.quality.models import StagingRow
from orgcarbon.quality.partitions import first_readings
from orgcarbon.rules.quality import ensure_columns
from orgcarbon.security.scope import subtree_ids

DATASETS = ("activity", "staging")
DATASET_LABELS = {"activity": "核算数据", "staging": "暂存数据"}
DEFAULT_DUE_DAY = 10  # as FormDefinition.due_day defaults: the 10th of the following month
TRACED_BY_SOURCE = ("demo", "package")  # loaders whose only provenance is the source itself


@dataclass(frozen=True)
class Period:
    """A year, or one month of it."""

    year: int
    month: int | None = None

    @property
    def months(self) -> list[str]:
        """``YYYY-MM`` of every month in the period."""
        numbers = [self.month] if self.month else list(range(1, 13))
        return [f"{self.year}-{m:02d}" for m in numbers]

    @property
    def context_month(self) -> str:
        """The month before the period, loaded for comparisons only."""
        first = self.month or 1
        return f"{self.year - 1}-12" if first == 1 else f"{self.year}-{first - 1:02d}"

    @property
    def label(self) -> str:
        """``2024`` or ``2024-03``."""
        return f"{self.year}-{self.month:02d}" if self.month else str(self.year)


@dataclass
class Records:
    """A record frame with what the runs and the scorecard need beside it."""

    dataset: str
    period: Period
    frame: pd.DataFrame
    in_period: frozenset[int]
    organizations: dict[str, int] = field(default_factory=dict)  # frame label → organisation id
    row_orgs: dict[int, int] = field(default_factory=dict)  # row id → organisation id
    access: dict[int, str] = field(default_factory=dict)  # row id → the system it was read from
    unreachable: frozenset[str] = frozenset()

    def period_frame(self) -> pd.DataFrame:
        """Only the rows inside the period (no context month)."""
        return self.frame[self.frame["row_id"].isin(self.in_period)].reset_index(drop=True)

    def organization_of_key(self, key: str) -> int | None:
        """The organisation of an aggregate finding's key (``organisation/…/month``)."""
        return self.organizations.get(key.split("/", 1)[0])


def _labels(session: Session, ids: Iterable[int]) -> dict[int, str]:
    rows = session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(sorted(ids))))
    names = dict(rows.all())
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    # Two nodes of one subtree with the same name would merge into one series: keep them apart.
    return {i: (n if counts[n] == 1 else f"{n}#{i}") for i, n in names.items()}


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59))


def _month_due(month: str, granularity: str = "month", due_day: int = DEFAULT_DUE_DAY) -> dt.datetime | None:
    from orgcarbon.forms.service import due_date

    try:
        year, number = int(month[:4]), int(month[5:7])
    except ValueError:
        return None
    period = {"month": number, "quarter": (number - 1) // 3 + 1}.get(granularity, 0)
    return _end_of(due_date(granularity, year, period, due_day))


def _unreachable_connectors(session: Session) -> frozenset[str]:
    from orgcarbon.collection.models import ConnectorInstance

    rows = session.execute(select(ConnectorInstance.id, ConnectorInstance.enabled, ConnectorInstance.last_status))
    return frozenset(f"connector:{i}" for i, enabled, status in rows if not enabled or status == "failed")


def _submissions(session: Session, ids: set[int]) -> dict[int, tuple[dt.datetime | None, dt.datetime | None]]:
    """Submission id → (submitted at, due at)."""
    from orgcarbon.forms.models import FormDefinition, Submission
    from orgcarbon.forms.service import due_date

    if not ids:
        return {}
    query = (select(Submission.id, Submission.submitted_at, Submission.year, Submission.period,
                    FormDefinition.granularity, FormDefinition.due_day)
             .join(FormDefinition, Submission.form_id == FormDefinition.id).where(Submission.id.in_(sorted(ids))))
    return {sid: (_naive(at), _end_of(due_date(granularity, year, period, due_day)))
            for sid, at, year, period, granularity, due_day in session.execute(query)}


def form_dues(session: Session) -> dict[int, tuple[str, int]]:
    """Binding id → (granularity, due day) of the active form that collects it."""
    from orgcarbon.forms.models import FormDefinition, FormField

    query = (select(FormField.binding_id, FormDefinition.granularity, FormDefinition.due_day)
             .join(FormDefinition, FormField.form_id == FormDefinition.id)
             .where(FormField.binding_id.is_not(None), FormDefinition.active.is_(True))
             .order_by(FormDefinition.id))
    dues: dict[int, tuple[str, int]] = {}
    for binding_id, granularity, due_day in session.execute(query):
        if binding_id is not None:
            dues.setdefault(binding_id, (granularity, due_day))
    return dues


def activity_records(session: Session, organization_id: int, period: Period) -> Records:
    """``mm_activity`` rows of the node's subtree in the period (and the month before); row id = activity id."""
    ids = subtree_ids(session, [organization_id])
    labels = _labels(session, ids)
    months = [period.context_month, *period.months]
    if period.month is None:
        months.append(str(period.year))  # a value for the whole year
    query = (
        select(ActivityRecord, SubProcess.name, Process.name, Material.name)
        .join(SubProcess, ActivityRecord.subprocess_id == SubProcess.id)
        .join(Process, SubProcess.process_id == Process.id)
        .join(Material, ActivityRecord.material_id == Material.id)
        .where(ActivityRecord.organization_id.in_(sorted(ids)), ActivityRecord.month.in_(months))
        .order_by(ActivityRecord.id)
    )
    found = session.execute(query).all()
    promoted = first_readings(session, [a for a, *_ in found])
    submissions = _submissions(session, {a.submission_id for a, *_ in found if a.submission_id})
    rows: list[dict[str, Any]] = []
    access: dict[int, str] = {}
    for a, sub_name, proc_name, material in found:
        staged = promoted.get(a.id)
        received_at = due_at = None
        batch = ""
        if a.submission_id:
            received_at, due_at = submissions.get(a.submission_id, (None, None))
            batch = f"submission:{a.submission_id}"
        elif staged is not None:
            received_at, due_at, batch = _naive(staged.received_at), _month_due(a.month), staged.batch_id
        elif a.source in TRACED_BY_SOURCE:
            batch = a.source
        access[a.id] = f"connector:{staged.connector_id}" if staged is not None and staged.connector_id else a.source
        rows.append({
            "row_id": a.id, "organization": labels[a.organization_id], "process": proc_name,
            "subprocess": sub_name, "category": a.category, "material": material,
            "month": a.month if len(a.month) == 7 else "", "quantity": a.quantity, "unit": a.unit,
            "ncv": a.ncv, "cc": a.carbon_content, "of": a.oxidation_factor, "purity": a.purity, "ef": a.ef,
            "source": a.source or "", "dataset": "activity", "batch": batch,
            "received_at": received_at, "due_at": due_at,
        })
    in_period = frozenset(r["row_id"] for r, (a, *_) in zip(rows, found, strict=True)
                          if a.month != period.context_month)
    return Records("activity", period, _frame(rows), in_period, {v: k for k, v in labels.items()},
                   {a.id: a.organization_id for a, *_ in found}, access, _unreachable_connectors(session))


def _staging_month(row: StagingRow) -> str:
    if row.month:
        return row.month
    return row.timestamp.strftime("%Y-%m") if row.timestamp is not None else ""


def staging_records(session: Session, organization_id: int, period: Period) -> Records:
    """``st_row`` rows of the node's subtree in the period (and the month before); row id = staging id."""
    from orgcarbon.metamodel.versioned import Binding

    ids = subtree_ids(session, [organization_id])
    labels = _labels(session, ids)
    months = [period.context_month, *period.months]
    first = dt.datetime(int(months[0][:4]), int(months[0][5:]), 1, tzinfo=dt.UTC)
    last_year, last_month = int(months[-1][:4]), int(months[-1][5:])
    end = dt.datetime(last_year + (last_month == 12), last_month % 12 + 1, 1, tzinfo=dt.UTC)
    query = select(StagingRow).where(
        StagingRow.organization_id.in_(sorted(ids)),
        or_(StagingRow.month.in_(months),
            and_(StagingRow.month.is_(None), StagingRow.timestamp >= first, StagingRow.timestamp < end)),
    ).order_by(StagingRow.id)
    staged = session.scalars(query).all()
    subs = {s.id: (s.name, p) for s, p in session.execute(
        select(SubProcess, Process.name).join(Process, SubProcess.process_id == Process.id)).all()}
    materials = dict(session.execute(select(Material.id, Material.name)).all())
    bindings = {b.id: b for b in session.scalars(select(Binding).where(
        Binding.id.in_(sorted({r.binding_id for r in staged if r.binding_id}))))}
    dues = form_dues(session) if staged else {}
    rows: list[dict[str, Any]] = []
    access: dict[int, str] = {}
    for r in staged:
        binding = bindings.get(r.binding_id or 0)
        sub_id = r.subprocess_id or (binding.subprocess_id if binding else None)
        sub_name, proc_name = subs.get(sub_id or 0, ("", ""))
        month = _staging_month(r)
        granularity, due_day = dues.get(r.binding_id or 0, ("month", DEFAULT_DUE_DAY))
        access[r.id] = f"connector:{r.connector_id}" if r.connector_id else r.source
        reference = r.reference or r.request_id or (str(r.row) if r.row is not None else "")
        rows.append({
            "row_id": r.id, "organization": labels.get(r.organization_id or 0, ""), "process": proc_name,
            "subprocess": sub_name, "category": r.category or (binding.category if binding else ""),
            "material": materials.get(r.material_id or (binding.material_id if binding else 0), ""),
            "month": month, "timestamp": _naive(r.timestamp), "quantity": r.quantity, "unit": r.unit or "",
            "ncv": r.ncv, "cc": r.carbon_content, "of": r.oxidation_factor, "purity": r.purity, "ef": r.ef,
            "source": r.source or "", "dataset": "staging", "batch": r.batch_id if reference else "",
            "tags": r.tags or "", "note": reference, "received_at": _naive(r.received_at),
            "due_at": _month_due(month, granularity, due_day) if month else None,
        })
    in_period = frozenset(row["row_id"] for row in rows if row["month"] in period.months)
    return Records("staging", period, _frame(rows), in_period, {v: k for k, v in labels.items()},
                   {r.id: r.organization_id for r in staged if r.organization_id}, access,
                   _unreachable_connectors(session))


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame({"row_id": pd.Series(dtype="int64")})
    return ensure_columns(frame)


def load_records(session: Session, dataset: str, organization_id: int, period: Period) -> Records:
    """The frame of ``dataset`` (activity | staging) for the node's subtree and period."""
    loader = {"activity": activity_records, "staging": staging_records}[dataset]
    return loader(session, organization_id, period)
