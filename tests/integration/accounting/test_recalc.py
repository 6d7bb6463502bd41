"""Recompute only what depends on a change: data and model changes, not factor-only ones; locked periods."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import func, select

from orgcarbon.accounting import restatement as rs
from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.accounting.models import AccountingRun
from orgcarbon.accounting.recalc import current_runs, recalculate_stale, stale_runs
from orgcarbon.forms.models import Period
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization
from orgcarbon.metamodel.versioned import Factor
from orgcarbon.metamodel.versioning import new_version, publish
from orgcarbon.platform.extensions import db
from tests.conftest import run_cli
from tests.integration.metamodel.helpers import Api

EF = 0.5703


def _org(name: str) -> int:
    return db.session.scalar(select(Organization.id).where(Organization.name == name))


def _runs(*names: str) -> dict[str, int]:
    return {name: AccountOrganisation(db.session, _org(name), 2024, electricity_ef=EF).run().id for name in names}


def _diesel(month: str) -> ActivityRecord:
    """西区's diesel row of ``month`` (厂内运输)."""
    return db.session.scalar(select(ActivityRecord).join(Material).where(Material.name == "柴油",
                                                                         ActivityRecord.month == month))


def _current() -> dict[int, int]:
    return {r.organization_id: r.id for r in current_runs(db.session)}


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(AccountingRun))


def test_one_changed_row_recomputes_only_its_run(app: Flask) -> None:
    """A 西区 row changes: 西区's run is re-accounted as a new run; 东区's run keeps its id and figures."""
    with app.app_context():
        runs = _runs("东区", "西区")
        east_total = db.session.get(AccountingRun, runs["东区"]).total_tco2
        assert recalculate_stale(db.session) == []  # nothing changed yet
        row = _diesel("2024-05")
        row.quantity += 120.0
        db.session.commit()
        done = recalculate_stale(db.session)
        assert len(done) == 1 and done.skipped == []
        new = done[0]
        assert new.organization_id == _org("西区") and new.year == 2024 and new.id not in runs.values()
        assert done.replaced == {new.id: runs["西区"]}
        assert _current() == {_org("东区"): runs["东区"], _org("西区"): new.id}
        east = db.session.get(AccountingRun, runs["东区"])
        assert east.status == "done" and east.total_tco2 == east_total
        old = db.session.get(AccountingRun, runs["西区"])
        assert old.status == "superseded" and old.superseded_by_id == new.id
        # The new run is what accounting the changed data gives: 120 t diesel more.
        diesel = 42.652 * 0.0202 * 0.98 * 44 / 12
        assert new.total_tco2 - old.total_tco2 == pytest.approx(120.0 * diesel, rel=1e-9)
        assert f"替代核算结果 #{runs['西区']}" in new.notes and "活动数据已变化" in new.notes
        assert new.electricity_ef == EF and stale_runs(db.session) == []
        assert recalculate_stale(db.session) == []


def test_factor_only_changes_are_left_to_restatement_and_data_changes_keep_factor_versions(app: Flask) -> None:
    """A new 焦炭 NCV alone recomputes nothing; with a data change too, the new run keeps the old NCV version."""
    with app.app_context():
        runs = _runs("东区", "西区")
        coke = db.session.scalar(select(Material.id).where(Material.name == "焦炭"))
        old = db.session.scalar(select(Factor).where(Factor.material_id == coke, Factor.kind == "ncv",
                                                     Factor.status == "published"))
        draft = new_version(old, db.session)
        draft.value = 30.0
        publish(draft, db.session)
        db.session.commit()
        count = _count()
        assert [s.run.id for s in stale_runs(db.session)] == [runs["东区"]]
        assert recalculate_stale(db.session) == [] and _count() == count

        row = db.session.scalar(select(ActivityRecord).join(Material).where(Material.name == "焦炭",
                                                                            ActivityRecord.month == "2024-02"))
        row.quantity += 100.0
        db.session.commit()
        done = recalculate_stale(db.session)
        assert [r.organization_id for r in done] == [_org("东区")]
        new = done[0]
        assert new.factor_versions[old.code] == str(old.version)  # the NCV change still awaits its policy
        stale = stale_runs(db.session)
        assert [(s.run.id, s.factor_codes, s.data_changed) for s in stale] == [(new.id, [old.code], False)]
        assert _current()[_org("西区")] == runs["西区"]


def test_locked_month_is_skipped_until_reopened(app: Flask) -> None:
    """A change in a closed month (closed on the company) is not recomputed; after reopening it is."""
    with app.app_context():
        runs = _runs("东区", "西区")
        period = Period(organization_id=_org("华钢钢铁股份有限公司"), year=2024, month=5, status="closed")
        db.session.add(period)
        row = _diesel("2024-05")
        row.quantity += 50.0
        db.session.commit()
        count = _count()
        done = recalculate_stale(db.session)
        assert done == [] and _count() == count
        assert [(s.run.id, s.reasons) for s in done.skipped] == [
            (runs["西区"], ["期间 西区 2024-05 已锁定，须先重新开放该期间才能重算"])]
        assert _current()[_org("西区")] == runs["西区"]
        period.status = "open"
        db.session.commit()
        done = recalculate_stale(db.session)
        assert [r.organization_id for r in done] == [_org("西区")] and done.skipped == []


def test_run_held_by_a_freeze_decision_is_not_recomputed(app: Flask) -> None:
    """A freeze keeps the runs it covers: a later data change there is reported, not recomputed."""
    with app.app_context():
        runs = _runs("东区")
        coke = db.session.scalar(select(Material.id).where(Material.name == "焦炭"))
        old = db.session.scalar(select(Factor).where(Factor.material_id == coke, Factor.kind == "ncv",
                                                     Factor.status == "published"))
        draft = new_version(old, db.session)
        draft.value = 30.0
        publish(draft, db.session)
        db.session.commit()
        rs.freeze(db.session, draft, app.appbuilder.sm.find_user(username="modeller"))
        row = db.session.scalar(select(ActivityRecord).join(Material).where(Material.name == "焦炭",
                                                                            ActivityRecord.month == "2024-07"))
        row.quantity += 10.0
        db.session.commit()
        done = recalculate_stale(db.session)
        assert done == [] and len(done.skipped) == 1 and done.skipped[0].run.id == runs["东区"]
        assert done.skipped[0].reasons == [f"因子冻结决定保持该核算结果（{old.code} v{draft.version}），未重算"]


def test_new_model_version_recomputes_with_that_version(app: Flask) -> None:
    """A newer published model makes every run on the old version stale; recalc uses the new version."""
    with app.app_context():
        runs = _runs("东区", "西区")
        old = db.session.get(AccountingRun, runs["东区"]).model
        draft = new_version(old, db.session)
        publish(draft, db.session)
        db.session.commit()
        done = recalculate_stale(db.session)
        assert sorted(done.replaced.values()) == sorted(runs.values()) and done.skipped == []
        for new in done:
            assert (new.model_id, new.model_version) == (draft.id, draft.version)
            assert new.total_tco2 == pytest.approx(db.session.get(AccountingRun, done.replaced[new.id]).total_tco2)
            assert f"v{draft.version}" in new.notes


def test_cli_and_api_recalc(app: Flask) -> None:
    """``orgcarbon recalc --json`` and ``POST /api/v1/results/recalc`` (write on Results; viewer 403)."""
    with app.app_context():
        runs = _runs("东区", "西区")
        _diesel("2024-03").quantity += 1.0
        db.session.commit()
    result = run_cli(app, ["recalc", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(r["organization"], r["replaces"]) for r in data["runs"]] == [("西区", runs["西区"])]
    assert data["skipped"] == []
    result = run_cli(app, ["recalc"])
    assert result.exit_code == 0 and "没有需要重算的核算结果" in result.output

    with app.app_context():
        _diesel("2024-04").quantity += 1.0
        db.session.commit()
    assert Api(app, "viewer").post("results/recalc").status_code == 403
    response = Api(app, "modeller").post("results/recalc")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()["result"]
    assert [r["organization"] for r in body["runs"]] == ["西区"] and body["skipped"] == []
    with app.app_context():
        new = db.session.get(AccountingRun, body["runs"][0]["run_id"])
        assert new.created_by_name == "modeller" and _current()[_org("东区")] == runs["东区"]
