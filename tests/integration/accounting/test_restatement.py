"""Recalculation and restatement: stale runs, freeze vs restate, preview, approval, scope, locks."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import func, select

from orgcarbon.accounting import restatement as rs
from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.accounting.models import AccountingRun, Restatement, ResultLine
from orgcarbon.accounting.recalc import runs_affected_by_record, stale_runs
from orgcarbon.forms.models import Period
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization, Process
from orgcarbon.metamodel.versioned import Factor
from orgcarbon.metamodel.versioning import new_version, publish
from orgcarbon.platform.extensions import db
from orgcarbon.security.scope import org_scope
from tests.conftest import ADMIN_PASSWORD, login, run_cli
from tests.integration.metamodel.helpers import Api

EF = 0.5703
NEW_NCV = 30.0


def _org(name: str) -> int:
    return db.session.scalar(select(Organization.id).where(Organization.name == name))


def _user(app: Flask, name: str):  # type: ignore[no-untyped-def]
    return app.appbuilder.sm.find_user(username=name)


def _coke_ncv() -> Factor:
    coke = db.session.scalar(select(Material.id).where(Material.name == "焦炭"))
    return db.session.scalar(select(Factor).where(Factor.material_id == coke, Factor.kind == "ncv",
                                                  Factor.status == "published"))


def _publish_new_ncv() -> Factor:
    draft = new_version(_coke_ncv(), db.session)
    draft.value = NEW_NCV
    publish(draft, db.session)
    db.session.commit()
    return draft


def _runs() -> dict[str, int]:
    """Account the group, 东区 and 西区 for 2024 at a given grid EF; names → run ids."""
    return {name: AccountOrganisation(db.session, _org(name), 2024, electricity_ef=EF).run().id
            for name in ("华钢集团", "东区", "西区")}


def _snapshot(run_id: int) -> tuple[object, ...]:
    run = db.session.get(AccountingRun, run_id)
    lines = db.session.scalar(select(func.sum(ResultLine.net_tco2)).where(ResultLine.run_id == run_id))
    return run.status, run.total_tco2, dict(run.factor_versions), run.inputs_digest, round(lines, 6)


def test_stale_finder_freeze_and_data_changes(app: Flask) -> None:
    """A new 焦炭 NCV makes exactly the runs containing 1#高炉 stale; freeze keeps them; data changes are found."""
    with app.app_context():
        runs = _runs()
        assert stale_runs(db.session) == []
        old = _coke_ncv()
        before = {name: _snapshot(i) for name, i in runs.items()}
        factor = _publish_new_ncv()
        stale = stale_runs(db.session)
        assert sorted(s.run.id for s in stale) == sorted([runs["华钢集团"], runs["东区"]])
        assert all(s.factor_codes == [factor.code] and not s.data_changed for s in stale)
        assert f"v{factor.version}" in stale[0].reasons[0] and f"v{old.version}" in stale[0].reasons[0]
        assert sorted(r.id for r in rs.runs_affected_by_factor(db.session, factor)) == sorted(s.run.id for s in stale)

        # Freeze: stored figures and factor versions unchanged; a new run uses the new version.
        decision = rs.freeze(db.session, factor, _user(app, "modeller"))
        assert decision.status == "frozen" and {r.run_id for r in decision.runs} == {runs["华钢集团"], runs["东区"]}
        assert {name: _snapshot(i) for name, i in runs.items()} == before
        assert stale_runs(db.session) == []  # kept on purpose
        fresh = AccountOrganisation(db.session, _org("东区"), 2024, electricity_ef=EF).run()
        assert fresh.factor_versions[factor.code] == str(factor.version)
        coke = db.session.scalars(select(ResultLine).where(ResultLine.run_id == fresh.id,
                                                           ResultLine.material == "焦炭")).all()
        assert len(coke) == 12 and all(line.inputs["ncv"] == NEW_NCV for line in coke)
        assert fresh.total_tco2 > before["东区"][1]

        # Data: a changed row makes the runs of its subtree stale, and only those.
        record = db.session.scalar(select(ActivityRecord).join(Material).where(
            Material.name == "柴油", ActivityRecord.month == "2024-05"))
        found = runs_affected_by_record(db.session, record.id, record.organization_id, record.month)
        assert sorted(r.id for r in found) == sorted([runs["华钢集团"], runs["西区"]])
        record.quantity = record.quantity + 10
        db.session.commit()
        stale = {s.run.id: s for s in stale_runs(db.session)}
        assert sorted(stale) == sorted([runs["华钢集团"], runs["西区"]])
        assert all(s.data_changed and "已有记录被修改" in s.reasons[-1] for s in stale.values())


def test_restate_preview_approval_and_supersession(app: Flask) -> None:
    """Preview = activity × new EF − stored line; requester cannot approve; another user's approval supersedes."""
    with app.app_context():
        runs = _runs()
        old_ncv = _coke_ncv().value
        untouched = _snapshot(runs["西区"])
        factor = _publish_new_ncv()
        count_before = db.session.scalar(select(func.count()).select_from(AccountingRun))
        request = rs.request_restatement(db.session, factor, _user(app, "modeller"),
                                         org_scope(_user(app, "modeller"), db.session))
        assert db.session.scalar(select(func.count()).select_from(AccountingRun)) == count_before  # nothing stored
        assert request.status == "pending" and {r.run_id for r in request.runs} == {runs["华钢集团"], runs["东区"]}

        # Independent expectation from the stored lineage: quantity × new NCV × EF, signed, minus the stored line.
        expected: dict[tuple[int, int, str], float] = {}
        for line in db.session.scalars(select(ResultLine).where(ResultLine.run_id.in_(list(runs.values())),
                                                                ResultLine.material == "焦炭")):
            assert line.inputs["ncv"] == old_ncv
            new = line.sign * line.inputs["quantity"] * NEW_NCV * line.ef
            expected[(line.run_id, line.process_id, line.month)] = new - line.net_tco2
        got = {(d.run_id, d.process_id, d.month): d.diff_tco2 for d in request.diffs}
        assert got.keys() == expected.keys() and len(got) == 24
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-9), key
        iron = db.session.scalar(select(Process.id).where(Process.name == "炼铁"))
        assert {d.process_id for d in request.diffs} == {iron} and {d.organization.name for d in request.diffs} == {"东区"}
        for item in request.runs:
            diff = sum(v for (run_id, _, _), v in expected.items() if run_id == item.run_id)
            assert item.after_tco2 - item.before_tco2 == pytest.approx(diff, rel=1e-9)
            assert not item.data_changed

        with pytest.raises(rs.RestatementRefused, match="职责分离"):
            rs.approve(db.session, request.id, _user(app, "modeller"))
        # A month closed on the company (东区's parent) refuses the restatement until it is reopened.
        closed = Period(organization_id=_org("华钢钢铁股份有限公司"), year=2024, month=3, status="closed")
        db.session.add(closed)
        db.session.commit()
        with pytest.raises(rs.RestatementRefused) as refused:
            rs.approve(db.session, request.id, _user(app, "admin"))
        assert "期间 东区 2024-03 已锁定，须先重新开放该期间才能重述" in refused.value.reasons
        assert not any("2024-04" in r for r in refused.value.reasons)
        assert db.session.get(Restatement, request.id).status == "pending"
        assert db.session.scalar(select(func.count()).select_from(AccountingRun)) == count_before
        closed.status = "open"
        db.session.commit()

        applied = rs.approve(db.session, request.id, _user(app, "admin"))
        assert applied.status == "applied" and applied.decided_by_name == "admin"
        for item in applied.runs:
            old, new = db.session.get(AccountingRun, item.run_id), db.session.get(AccountingRun, item.new_run_id)
            assert old.status == "superseded" and old.superseded_by_id == new.id
            assert old.total_tco2 == pytest.approx(item.before_tco2)  # kept, never edited
            assert new.status == "done" and new.total_tco2 == pytest.approx(item.after_tco2, abs=1e-6)
            assert new.factor_versions[factor.code] == str(factor.version)
            assert f"重述申请 #{request.id}" in new.notes
        assert _snapshot(runs["西区"]) == untouched
        assert stale_runs(db.session) == []


def test_restatement_api_cli_and_scope(app: Flask) -> None:
    """API: list stale runs, request (modeller), scope-limited reads (viewer: 东区), approval by admin; CLI."""
    with app.app_context():
        runs = _runs()
        factor = _publish_new_ncv()
        factor_id = factor.id
    modeller, admin, viewer = Api(app, "modeller"), Api(app, "admin"), Api(app, "viewer")
    stale = modeller.get("results/stale").get_json()["result"]
    assert sorted(s["run_id"] for s in stale) == sorted([runs["华钢集团"], runs["东区"]])
    assert [s["run_id"] for s in viewer.get("results/stale").get_json()["result"]] == [runs["东区"]]
    assert viewer.post("results/restatements", {"factor_id": factor_id, "policy": "restate"}).status_code == 403
    created = modeller.post("results/restatements", {"factor_id": factor_id, "policy": "restate"})
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()["result"]
    assert body["status"] == "pending" and len(body["preview"]) == 24
    seen = viewer.get(f"results/restatements/{body['id']}").get_json()["result"]
    assert [r["run_id"] for r in seen["runs"]] == [runs["东区"]]
    assert modeller.post(f"results/restatements/{body['id']}/approve").status_code == 422
    browser = app.test_client()
    login(browser, "admin", ADMIN_PASSWORD)
    page = browser.get(f"/results/restatement/{body['id']}")
    assert page.status_code == 200 and "炼铁" in page.get_data(as_text=True)
    assert browser.get("/results/restatements").status_code == 200
    approved = admin.post(f"results/restatements/{body['id']}/approve")
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.get_json()["result"]["status"] == "applied"
    assert modeller.get("results/stale").get_json()["result"] == []

    result = run_cli(app, ["stale-runs", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []
    result = run_cli(app, ["restate", "preview", "--factor", "999999", "--by", "modeller"])
    assert result.exit_code != 0 and "因子版本不存在" in result.output


def test_cli_preview_apply_and_freeze(app: Flask) -> None:
    """CLI: stale-runs names the run; preview prints the table; the requester's apply is refused, another's works."""
    with app.app_context():
        run_id = AccountOrganisation(db.session, _org("东区"), 2024, electricity_ef=EF).run().id
        factor = _publish_new_ncv()
        code, version = factor.code, factor.version
    result = run_cli(app, ["stale-runs"])
    assert result.exit_code == 0 and f"核算结果 #{run_id} 东区 2024" in result.output and code in result.output
    result = run_cli(app, ["restate", "preview", "--factor", code, "--by", "modeller", "--json"])
    assert result.exit_code == 0, result.output
    request = json.loads(result.output)
    assert request["factor_version"] == version and len(request["preview"]) == 12
    result = run_cli(app, ["restate", "apply", str(request["id"]), "--by", "modeller"])
    assert result.exit_code != 0 and "职责分离" in result.output
    result = run_cli(app, ["restate", "apply", str(request["id"]), "--by", "admin"])
    assert result.exit_code == 0, result.output
    assert "新结果 #" in result.output
    with app.app_context():
        assert db.session.get(AccountingRun, run_id).status == "superseded"
    result = run_cli(app, ["restate", "preview", "--factor", code, "--by", "modeller", "--freeze"])
    assert result.exit_code == 0 and "freeze" in result.output
