"""Bulk cleaning and promotion mark partitions instead of rewriting readings; every reader agrees.

A reading's effective status (``quality/partitions``) must be what the per-row statuses were:
cleaned / promoted through the partition's marks, rejected as stored; a late reading above the
marks is new, then cleaned and promoted by the next runs; lineage leads from an activity record
back to exactly its readings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from orgcarbon.scale.generator import GroupSpec

SPEC = GroupSpec(plants=1, tags=12, hours=48, gap_rate=0.02, spike_rate=0.02, duplicate_rate=0.03)


def _pipeline(session: Any) -> tuple[int, dict[int, str]]:
    """A plant's two days staged, cleaned and promoted; (plant id, effective status by row id)."""
    from orgcarbon.quality.models import StagingRow
    from orgcarbon.quality.partitions import effective_statuses
    from orgcarbon.scale.metamodel import build_group
    from orgcarbon.scale.stages import clean_partition, ingest_days, promote_plant

    layout = build_group(session, SPEC)
    session.commit()
    ingest_days(session, SPEC, 0, 0, 2)
    org = layout.plant_ids[0]
    clean_partition(session, org, 2023, 1)
    promote_plant(session, org, 2023)
    return org, effective_statuses(session, session.scalars(select(StagingRow.id)))


def _aware(moment: datetime) -> datetime:
    """SQLite gives the stored UTC time back without its zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _late(session: Any, row: Any, key: str) -> Any:
    """Stage through the writer a reading like ``row``, half an hour later, under a new key."""
    from datetime import timedelta

    from orgcarbon.collection.staging import stage_batch
    from orgcarbon.metamodel.models import Material, Organization, SubProcess

    result = stage_batch(session, [{
        "record_key": key, "organization": session.get(Organization, row.organization_id).name,
        "sub_process": session.get(SubProcess, row.subprocess_id).name,
        "material": session.get(Material, row.material_id).name, "quantity": row.quantity, "unit": row.unit,
        "time": (_aware(row.timestamp) + timedelta(minutes=30)).isoformat(), "tags": row.tags}],
        source="api", batch_id="late-1")
    session.commit()
    return result


def _record(session: Any, row: Any) -> Any:
    from orgcarbon.metamodel.models import ActivityRecord

    return session.scalars(select(ActivityRecord).where(
        ActivityRecord.subprocess_id == row.subprocess_id, ActivityRecord.material_id == row.material_id,
        ActivityRecord.month == row.month, ActivityRecord.source == "staging")).one()


def _readings(session: Any, record: Any) -> set[int]:
    from orgcarbon.quality.partitions import JOINED, ROW, readings_of

    return set(session.scalars(select(ROW.c.id).select_from(JOINED).where(readings_of(record))))


def test_bulk_marks_give_the_per_row_statuses_and_no_reading_is_rewritten(app: Flask) -> None:
    """Rejected readings are stored rejected; every other one is promoted by the marks, stored new."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import StagingPartition, StagingRow

    with app.app_context():
        session = db.session
        org, statuses = _pipeline(session)
        stored = dict(session.execute(select(StagingRow.id, StagingRow.status)).tuples().all())
        rejected = {i for i, s in stored.items() if s == "rejected"}
        assert rejected and set(stored.values()) == {"new", "rejected"}
        assert statuses == {i: ("rejected" if i in rejected else "promoted") for i in stored}
        assert session.scalar(select(StagingRow.id).where(StagingRow.activity_id.is_not(None))) is None
        mark = session.get(StagingPartition, (org, "2023-01"))
        assert mark.cleaned_through_id == mark.promoted_through_id == max(stored)


def test_late_reading_is_cleaned_and_promoted_and_rejected_rows_stay_rejected(app: Flask) -> None:
    """A reading above the marks is new, then cleaned, then summed into its pair's rebuilt record."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import StagingRow
    from orgcarbon.quality.partitions import effective_statuses
    from orgcarbon.scale.stages import clean_partition, promote_plant

    with app.app_context():
        session = db.session
        org, before = _pipeline(session)
        rejected = {i for i, s in before.items() if s == "rejected"}
        model = session.get(StagingRow, min(i for i, s in before.items() if s == "promoted"))
        old = _record(session, model)
        old_quantity, old_readings = old.quantity, _readings(session, old)
        assert model.id in old_readings and not old_readings & rejected
        assert _late(session, model, "late/1").staged == 1
        late = session.scalar(select(StagingRow.id).where(StagingRow.record_key == "late/1"))
        assert effective_statuses(session, [late]) == {late: "new"}
        cleaned = clean_partition(session, org, 2023, 1)
        assert (cleaned["rows"], cleaned["rejected"]) == (1, 0)
        assert effective_statuses(session, [late]) == {late: "cleaned"}
        promote_plant(session, org, 2023)
        record = _record(session, model)
        assert record.quantity == pytest.approx(old_quantity + model.quantity, rel=1e-12)
        assert _readings(session, record) == old_readings | {late}
        after = effective_statuses(session, before)
        assert after == before and effective_statuses(session, [late]) == {late: "promoted"}
        assert set(session.scalars(select(StagingRow.id).where(StagingRow.status == "rejected"))) == rejected


def test_writer_and_record_page_see_the_effective_status(app: Flask) -> None:
    """A changed re-send of a promoted reading is refused as before; the record page shows promoted."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import StagingRow
    from tests.conftest import ADMIN_PASSWORD, login

    with app.app_context():
        session = db.session
        _, statuses = _pipeline(session)
        row = session.get(StagingRow, min(i for i, s in statuses.items() if s == "promoted"))
        rejected_id = min(i for i, s in statuses.items() if s == "rejected")
        assert row.status == "new"  # stored: the partition's mark makes it promoted
        assert _late(session, row, "late/2").staged == 1
        from orgcarbon.collection.staging import stage_batch
        from orgcarbon.metamodel.models import Material, Organization, SubProcess

        resend = {"record_key": row.record_key, "organization": session.get(Organization, row.organization_id).name,
                  "sub_process": session.get(SubProcess, row.subprocess_id).name,
                  "material": session.get(Material, row.material_id).name, "quantity": row.quantity + 1.0,
                  "unit": row.unit, "time": _aware(row.timestamp).isoformat(), "tags": row.tags}
        result = stage_batch(session, [resend, {**resend, "record_key": "late/2"}], source="api", batch_id="again")
        session.commit()
        assert [r.reason for r in result.rejected] == ["记录已进入后续处理（状态 promoted），数值变更未写入暂存区"]
        assert result.updated == 1  # the late reading is still new: its value may change
        client = app.test_client()
        login(client, "admin", ADMIN_PASSWORD)
        page = client.get(f"/quality/record/staging/{row.id}").get_data(as_text=True)
        assert "<th style=\"width:14em\">status</th><td>promoted</td>" in page
        page = client.get(f"/quality/record/staging/{rejected_id}").get_data(as_text=True)
        assert "<th style=\"width:14em\">status</th><td>rejected</td>" in page
        assert session.get(StagingRow, row.id).status == "new"  # the page changed nothing stored


def test_per_row_cleaning_run_skips_readings_promoted_by_the_marks(app: Flask) -> None:
    """``CleaningRun`` (the per-row path) sees bulk-promoted readings as promoted and leaves them."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.cleaning import clean_and_promote
    from orgcarbon.quality.partitions import effective_statuses

    with app.app_context():
        session = db.session
        org, before = _pipeline(session)
        run, _ = clean_and_promote(session, org, 2023, 1)
        applied = run.counts["applied"]
        assert applied["skipped_promoted"] == sum(s == "promoted" for s in before.values())
        assert applied["cleaned"] == 0
        assert effective_statuses(session, before) == before


def test_a_new_reading_moved_into_a_month_cleaned_past_its_id_is_staged_again(app: Flask) -> None:
    """Re-sent with a January time, a still-new February reading whose id is below January's cleaned
    mark would read as cleaned without being cleaned: the writer stages it again, with a new id."""
    from datetime import timedelta

    from orgcarbon.collection.staging import stage_batch
    from orgcarbon.metamodel.models import Material, Organization, SubProcess
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import StagingRow
    from orgcarbon.quality.partitions import effective_statuses, marks
    from orgcarbon.scale.metamodel import build_group
    from orgcarbon.scale.stages import clean_partition, ingest_days

    with app.app_context():
        session = db.session
        layout = build_group(session, SPEC)
        session.commit()
        ingest_days(session, SPEC, 0, 0, 2)
        org = layout.plant_ids[0]
        row = session.scalars(select(StagingRow).where(StagingRow.organization_id == org)
                              .order_by(StagingRow.id)).first()
        names = {"organization": session.get(Organization, row.organization_id).name,
                 "sub_process": session.get(SubProcess, row.subprocess_id).name,
                 "material": session.get(Material, row.material_id).name, "unit": row.unit}
        january = _aware(row.timestamp)

        def send(moment: datetime, quantity: float) -> Any:
            result = stage_batch(session, [{"record_key": "moved-1", **names, "quantity": quantity,
                                            "time": moment.isoformat()}], source="api", batch_id=f"m-{quantity}")
            session.commit()
            return result

        assert send(january + timedelta(days=40), 5.0).staged == 1  # February: no mark there
        first = session.scalar(select(StagingRow.id).where(StagingRow.record_key == "moved-1"))
        clean_partition(session, org, 2023, 1)
        session.commit()
        assert marks(session, org, "2023-01")[0] >= first  # January's mark is past the February row

        moved = send(january + timedelta(hours=5, minutes=30), 6.0)
        assert (moved.staged, moved.updated, len(moved.rejected)) == (0, 1, 0)
        rows = session.scalars(select(StagingRow).where(StagingRow.record_key == "moved-1")).all()
        assert len(rows) == 1 and rows[0].id > first and rows[0].month == "2023-01" and rows[0].quantity == 6.0
        assert effective_statuses(session, [rows[0].id])[rows[0].id] == "new"  # cleaned by the next run
        clean_partition(session, org, 2023, 1)
        session.commit()
        assert effective_statuses(session, [rows[0].id])[rows[0].id] == "cleaned"


def test_first_readings_of_every_record_at_once_equal_the_lowest_id_of_its_lineage(app: Flask) -> None:
    """The batched look-up (one query per plant) gives each record's lowest ``readings_of`` id."""
    from orgcarbon.metamodel.models import ActivityRecord
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.models import StagingRow
    from orgcarbon.quality.partitions import first_readings

    with app.app_context():
        session = db.session
        org, statuses = _pipeline(session)
        records = list(session.scalars(select(ActivityRecord).where(ActivityRecord.organization_id == org)))
        assert len(records) >= 3
        # Readings linked by the per-row path: to a staging record (besides its partition's) and to
        # a record of another source (only those); a record with no reading has no first reading.
        staged = records[1]
        linked = ActivityRecord(organization_id=org, subprocess_id=staged.subprocess_id,
                                material_id=staged.material_id, category=staged.category, month="2023-02",
                                quantity=1.0, unit=staged.unit, source="excel")
        empty = ActivityRecord(organization_id=org, subprocess_id=staged.subprocess_id,
                               material_id=staged.material_id, category=staged.category, month="2023-03",
                               quantity=1.0, unit=staged.unit, source="demo")
        session.add_all([linked, empty])
        session.flush()
        rows = sorted(i for i, s in statuses.items() if s == "rejected")[:3]
        assert len(rows) == 3
        session.get(StagingRow, rows[0]).activity_id = staged.id
        for row in rows[1:]:
            session.get(StagingRow, row).activity_id = linked.id
        session.flush()
        records = list(session.scalars(select(ActivityRecord).where(ActivityRecord.organization_id == org)))
        got = {a: row.id for a, row in first_readings(session, records).items()}
        expected = {r.id: min(_readings(session, r)) for r in records if _readings(session, r)}
        assert got == expected and len(expected) == len(records) - 1
        assert got[linked.id] == rows[1] and empty.id not in got and staged.id in got
