"""The scale pipeline end to end on a small synthetic group: accounted inputs equal the generator's."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from orgcarbon.scale.generator import GroupSpec, defect_counts, expected_totals
from tests.conftest import backend

SMALL = GroupSpec(plants=2, tags=20, hours=48, gap_rate=0.02, spike_rate=0.01, duplicate_rate=0.02)


def test_small_pipeline_accounts_exactly_the_cleaned_readings(app: Flask) -> None:
    """Every stage runs; activity records equal the generator's sums without gaps, spikes, duplicates."""
    from orgcarbon.accounting.models import AccountingRun
    from orgcarbon.metamodel.models import ActivityRecord, Material
    from orgcarbon.platform.extensions import db
    from orgcarbon.scale.metamodel import build_group
    from orgcarbon.scale.pipeline import run_pipeline

    with app.app_context():
        session = db.session
        layout = build_group(session, SMALL)
        session.commit()
        report = run_pipeline(session, SMALL, layout, days_per_task=1)
        planted = defect_counts(SMALL)
        assert planted["spikes"] > 0 and planted["duplicates"] > 0 and planted["gaps"] > 0
        assert report.counts["staged"] == planted["sent"]
        assert report.counts["rejected"] == planted["spikes"] + planted["duplicates"]
        assert report.counts["by_rule"]["dedupe-exact"] == planted["duplicates"]
        assert "dedupe-near" not in report.counts["by_rule"]
        from orgcarbon.quality.partitions import JOINED, effective_status

        status = effective_status()
        statuses = dict(session.execute(select(status, func.count()).select_from(JOINED).group_by(status)).all())
        assert statuses == {"promoted": planted["sent"] - report.counts["rejected"], "rejected": report.counts["rejected"]}
        plants = {SMALL.plant_name(p): p for p in range(SMALL.plants)}
        from orgcarbon.metamodel.models import Organization

        names = dict(session.execute(select(Organization.id, Organization.name)).all())
        got = {(plants[names[r.organization_id]], m, int(r.month[5:])): r.quantity for r, m in session.execute(
            select(ActivityRecord, Material.name).join(Material, ActivityRecord.material_id == Material.id)
            .where(ActivityRecord.organization_id.in_(layout.plant_ids)))}
        expected = expected_totals(SMALL)
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-9), key
        run = session.get(AccountingRun, report.counts["run_id"])
        assert run is not None and run.status == "done" and run.total_tco2 and run.total_tco2 > 0
        assert report.counts["report_bytes"] > 10_000
        assert set(report.seconds) == {"ingest", "clean", "aggregate", "validation", "accounting", "reports"}
        # PostgreSQL: every partition read from the writer's column chunks, which the cleaned marks
        # then deleted; SQLite: one SELECT.
        from orgcarbon.quality.models import StagingChunk

        assert report.counts["clean_read_from"] == (["chunks"] if backend() == "postgresql" else ["rows"])
        assert session.scalar(select(func.count()).select_from(StagingChunk)) == 0
