"""A cleaning run applies the rules to staging rows; promotion sums them into monthly activity data."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from orgcarbon.forms.models import Period as ClosedPeriod
from orgcarbon.metamodel.models import ActivityRecord
from orgcarbon.metamodel.versioned import Binding
from orgcarbon.platform.extensions import db
from orgcarbon.quality.cleaning import clean_and_promote
from orgcarbon.quality.models import QualityFinding, QualityRule, StagingRow
from tests.integration.forms.workflow_helpers import org


def _stage(session, binding: Binding, quantity: float, unit: str, key: str, ncv: float | None = None,
           month: str = "2025-01") -> StagingRow:  # type: ignore[no-untyped-def]
    row = StagingRow(source="api", batch_id="b1", record_key=key, organization_id=binding.organization_id,
                     subprocess_id=binding.subprocess_id, material_id=binding.material_id,
                     binding_id=binding.id, category=binding.category, month=month,
                     timestamp=dt.datetime(2025, 1, 15, tzinfo=dt.UTC), quantity=quantity, unit=unit, ncv=ncv)
    session.add(row)
    return row


def _clamp_rule(session) -> None:  # type: ignore[no-untyped-def]
    session.add(QualityRule(code="test-clamp-ncv", version=1, status="published", name="NCV 钳位", kind="cleaning",
                            action="clamp", level="record", severity="warning", enabled=True, order=5,
                            author_name="tester", definition={
                                "name": "NCV 钳位", "kind": "cleaning", "action": "clamp", "condition": "",
                                "params": {"field": "ncv", "low": 30, "high": 45}, "severity": "warning",
                                "message": "NCV {before} 超出 30–45，已钳位为 {after}",
                                "tests": [{"name": "clamp", "rows": [{"row_id": 1, "ncv": 50.0}],
                                           "expect_values": [{"row_id": 1, "field": "ncv", "value": 45.0}]}]}))


def test_cleaning_applies_changes_rejects_duplicates_and_promotion_sums_per_month(app: Flask) -> None:
    with app.app_context():
        s = db.session
        west = org(s, "西区")
        diesel = s.execute(select(Binding).where(Binding.organization_id == west.id, Binding.status == "published",
                                                 Binding.category == "fuel_combustion")
                           .order_by(Binding.id)).scalars().all()[-1]
        _clamp_rule(s)
        a = _stage(s, diesel, 100.0, diesel.material.unit, "k1", ncv=50.0)
        b = _stage(s, diesel, 100.0, diesel.material.unit, "k1", ncv=50.0)  # exact duplicate
        c = _stage(s, diesel, 20_000.0, "kg", "k2", ncv=40.0)  # 20 t in kg
        s.commit()
        run, promotion = clean_and_promote(s, west.id, 2025, 1)
        rows = {r.id: r for r in s.execute(select(StagingRow).order_by(StagingRow.id)).scalars()}
        assert rows[a.id].ncv == 45.0 and rows[c.id].ncv == 40.0
        assert rows[b.id].status == "rejected"
        assert rows[a.id].status == rows[c.id].status == "promoted"
        changes = s.execute(select(QualityFinding).where(QualityFinding.run_id == run.id,
                                                         QualityFinding.kind == "change")).scalars().all()
        # the clamp (order 5) runs before the duplicate check, so both copies were clamped first
        assert {(f.rule_code, f.target_id, f.before, f.after) for f in changes if f.field == "ncv"} == {
            ("test-clamp-ncv", a.id, 50.0, 45.0), ("test-clamp-ncv", b.id, 50.0, 45.0)}
        assert {(f.rule_code, f.target_id) for f in changes if f.field == "*"} == {("dedupe-exact", b.id)}
        assert run.counts["applied"]["rejected"] == 1 and run.counts["applied"]["values_changed"] >= 1
        assert len(promotion.created) == 1 and promotion.rows == 2
        record = s.get(ActivityRecord, promotion.created[0])
        assert record.source == "staging" and record.month == "2025-01"
        assert abs(record.quantity - 120.0) < 1e-9 and record.unit == diesel.material.unit
        assert rows[a.id].activity_id == record.id


def test_promotion_skips_a_closed_month_and_writes_nothing_for_it(app: Flask) -> None:
    with app.app_context():
        s = db.session
        west = org(s, "西区")
        diesel = s.execute(select(Binding).where(Binding.organization_id == west.id, Binding.status == "published",
                                                 Binding.category == "fuel_combustion")
                           .order_by(Binding.id)).scalars().all()[-1]
        _stage(s, diesel, 10.0, diesel.material.unit, "k9", month="2025-02")
        s.add(ClosedPeriod(organization_id=west.id, year=2025, month=2, status="closed"))
        s.commit()
        before = s.query(ActivityRecord).count()
        _, promotion = clean_and_promote(s, west.id, 2025, 2)
        assert promotion.created == [] and any("已关闭" in r for r in promotion.skipped)
        assert s.query(ActivityRecord).count() == before


def test_clean_command_reports_counts(app: Flask) -> None:
    from tests.conftest import run_cli

    with app.app_context():
        s = db.session
        west = org(s, "西区")
        diesel = s.execute(select(Binding).where(Binding.organization_id == west.id, Binding.status == "published",
                                                 Binding.category == "fuel_combustion")
                           .order_by(Binding.id)).scalars().all()[-1]
        _stage(s, diesel, 5.0, diesel.material.unit, "c1", month="2025-03")
        _stage(s, diesel, 5.0, diesel.material.unit, "c1", month="2025-03")
        s.commit()
    result = run_cli(app, ["quality", "clean", "--org", "西区", "--year", "2025", "--month", "3"])
    assert result.exit_code == 0, result.output
    assert "已清洗 1 行，剔除 1 行" in result.output and "汇总为 1 条活动数据（1 行暂存数据）" in result.output
