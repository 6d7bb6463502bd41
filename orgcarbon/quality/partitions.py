"""The effective status of staged readings: stored per row, or implied by a partition's marks.

The bulk pipeline (``orgcarbon/scale``) does not rewrite every reading when it cleans or
promotes a plant × month: it records "cleaned through id N" / "promoted through id N" in one
``st_partition`` row. A reading stored ``new`` whose id is at or below a mark has that mark's
status; any other stored status (``rejected``, and ``cleaned`` / ``promoted`` written by the
per-row path) wins. ``effective_status`` is the one SQL expression for it; every reader of
``st_row.status`` goes through it (or ``effective_statuses`` / ``with_effective_status``).

A bulk-promoted reading keeps ``activity_id`` empty: its activity record is the ``staging``
record of the same plant, sub-process, material and month (``readings_of``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, text
from sqlalchemy.orm import Session

from orgcarbon.metamodel.models import ActivityRecord
from orgcarbon.quality.models import StagingChunk, StagingPartition, StagingRow
from orgcarbon.quality.rules_store import utcnow

ROW = StagingRow.__table__
PART = StagingPartition.__table__
# st_row outer-joined to its partition's marks (select_from of every effective-status query).
JOINED = ROW.outerjoin(PART, and_(PART.c.organization_id == ROW.c.organization_id, PART.c.month == ROW.c.month))


def _below(mark: Any) -> ColumnElement[bool]:
    return and_(ROW.c.status == "new", mark.is_not(None), ROW.c.id <= mark)


def effective_status() -> ColumnElement[str]:
    """``st_row``'s status as the pipeline means it (needs ``JOINED`` in the FROM clause)."""
    return case((_below(PART.c.promoted_through_id), "promoted"), (_below(PART.c.cleaned_through_id), "cleaned"),
                else_=ROW.c.status)


IN_LIMIT = 900  # values per IN (...) list: below every database's parameter limit


def _slices(values: list[int]) -> Iterable[list[int]]:
    """``values`` in lists of at most ``IN_LIMIT``."""
    return (values[start:start + IN_LIMIT] for start in range(0, len(values), IN_LIMIT))


def effective_statuses(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Effective status by staging row id."""
    wanted = sorted(set(ids))
    found: dict[int, str] = {}
    for part in _slices(wanted):
        query = select(ROW.c.id, effective_status()).select_from(JOINED).where(ROW.c.id.in_(part))
        found.update({int(i): s for i, s in session.execute(query)})
    return found


def with_effective_status(session: Session, rows: Mapping[str, dict[str, Any]]) -> Mapping[str, dict[str, Any]]:
    """Rows of the staging writer's look-up (``id``, ``status``, …) with the effective status."""
    stored_new = [r["id"] for r in rows.values() if r.get("status") == "new"]
    if not stored_new:
        return rows
    statuses = effective_statuses(session, stored_new)
    for row in rows.values():
        if row.get("status") == "new":
            row["status"] = statuses.get(row["id"], "new")
    return rows


def marks(session: Session, org_id: int, month: str) -> tuple[int, int]:
    """(cleaned through, promoted through) of one partition; 0 where nothing is marked."""
    row = session.get(StagingPartition, (org_id, month))
    return (row.cleaned_through_id or 0, row.promoted_through_id or 0) if row is not None else (0, 0)


def _partition(session: Session, org_id: int, month: str) -> StagingPartition:
    row = session.get(StagingPartition, (org_id, month), with_for_update=True)
    if row is None:
        row = StagingPartition(organization_id=org_id, month=month)
        session.add(row)
    return row


def mark_cleaned(session: Session, org_id: int, month: str, through_id: int) -> None:
    """Every stored-``new`` reading of the partition up to ``through_id`` is cleaned now."""
    row = _partition(session, org_id, month)
    row.cleaned_through_id = max(row.cleaned_through_id or 0, through_id)
    row.cleaned_at = utcnow()
    session.flush()
    # Column chunks at or below the mark are never read again (collection/chunks.py).
    session.execute(delete(StagingChunk).where(StagingChunk.organization_id == org_id, StagingChunk.month == month,
                                               StagingChunk.last_id <= row.cleaned_through_id))


def lock_marks(session: Session, org_id: int, year: int) -> dict[str, int]:
    """Cleaned marks of a plant's months of ``year``, locked until commit (no cleaning moves them meanwhile)."""
    rows = session.scalars(select(StagingPartition).where(
        StagingPartition.organization_id == org_id, StagingPartition.month.like(f"{year:04d}-%"))
        .with_for_update()).all()
    return {r.month: r.cleaned_through_id or 0 for r in rows}


def mark_promoted(session: Session, org_id: int, month: str, through_id: int) -> None:
    """Every cleaned reading of the partition up to ``through_id`` is promoted now."""
    row = _partition(session, org_id, month)
    row.promoted_through_id = max(row.promoted_through_id or 0, through_id)
    row.promoted_at = utcnow()
    session.flush()


def cleaning_limit(session: Session) -> int:
    """The highest staged id that no open transaction can still add below; commits on PostgreSQL.

    Ids come from a sequence before the row commits: a batch staged concurrently may commit an id
    below the highest one already visible. A SHARE lock waits for every open writer of ``st_row``
    (and holds new ones back for a moment), so after it ``max(id)`` has no gap left to fill; the
    short transaction ends before cleaning writes anything (two cleaners would deadlock on it).
    SQLite has one writer at a time, whose ids are all above the committed maximum.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE st_row IN SHARE MODE"))
        limit = session.scalar(select(func.max(ROW.c.id))) or 0
        session.commit()
        return int(limit)
    return int(session.scalar(select(func.max(ROW.c.id))) or 0)


def pending(org_id: int, month: str, after: int, limit: int) -> ColumnElement[bool]:
    """The partition's readings that the bulk cleaning has still to see (ids in (after, limit])."""
    return and_(ROW.c.organization_id == org_id, ROW.c.month == month, ROW.c.status == "new",
                ROW.c.id > after, ROW.c.id <= limit)


def readings_of(activity: ActivityRecord) -> ColumnElement[bool]:
    """The staged readings an activity record was summed from (lineage; needs ``JOINED``)."""
    linked = ROW.c.activity_id == activity.id
    if activity.source != "staging":
        return linked
    return or_(linked, and_(ROW.c.organization_id == activity.organization_id, ROW.c.month == activity.month,
                            ROW.c.subprocess_id == activity.subprocess_id,
                            ROW.c.material_id == activity.material_id, _below(PART.c.promoted_through_id)))


def first_readings(session: Session, activities: Iterable[ActivityRecord]) -> dict[int, StagingRow]:
    """The first staged reading of each activity record that came from staging, by activity id.

    The lowest id of ``readings_of`` for every record at once: one grouped query for the rows
    linked by ``activity_id`` and, for ``staging`` records, one per plant over the months asked
    (each partition is scanned once, not once per record).
    """
    records = list(activities)
    firsts: dict[int, int] = {}

    def keep(activity_id: int, row_id: Any) -> None:
        if row_id is not None and (activity_id not in firsts or int(row_id) < firsts[activity_id]):
            firsts[activity_id] = int(row_id)

    ids = sorted({a.id for a in records})
    for part in _slices(ids):
        query = (select(ROW.c.activity_id, func.min(ROW.c.id)).where(ROW.c.activity_id.in_(part))
                 .group_by(ROW.c.activity_id))
        for activity_id, row_id in session.execute(query):
            keep(int(activity_id), row_id)
    wanted: dict[tuple[int, str, int, int], list[int]] = {}
    for a in records:
        if a.source == "staging":
            wanted.setdefault((a.organization_id, a.month, a.subprocess_id, a.material_id), []).append(a.id)
    months_of: dict[int, set[str]] = {}
    for org_id, month, *_ in wanted:
        months_of.setdefault(org_id, set()).add(month)
    for org_id, months in sorted(months_of.items()):
        query = (select(ROW.c.month, ROW.c.subprocess_id, ROW.c.material_id, func.min(ROW.c.id)).select_from(JOINED)
                 .where(ROW.c.organization_id == org_id, ROW.c.month.in_(sorted(months)),
                        _below(PART.c.promoted_through_id))
                 .group_by(ROW.c.month, ROW.c.subprocess_id, ROW.c.material_id))
        for month, sub, material, row_id in session.execute(query):
            for activity_id in wanted.get((org_id, month, sub, material), ()):
                keep(activity_id, row_id)
    rows: dict[int, StagingRow] = {}
    for part in _slices(sorted(set(firsts.values()))):
        rows.update({r.id: r for r in session.scalars(select(StagingRow).where(StagingRow.id.in_(part)))})
    return {a: rows[i] for a, i in firsts.items()}
