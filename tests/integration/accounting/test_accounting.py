"""Platform accounting: stored results with lineage, export/import packages, explain, data scope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from orgcarbon.accounting.command import AccountingRefused, AccountOrganisation
from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization, SubProcess
from orgcarbon.metamodel.versioned import Factor, Formula
from orgcarbon.platform.extensions import db
from orgcarbon.rules.calc import calculate_package
from tests.conftest import run_cli
from tests.integration.metamodel.helpers import Api

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "domain" / "golden-bfbof-annual.package.json"
GOLDEN_TOTAL = 5_163_239.00


def _org(name: str) -> int:
    return db.session.scalar(select(Organization.id).where(Organization.name == name))


def _counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(AccountingRun)),
            db.session.scalar(select(func.count()).select_from(ResultLine)))


def test_demo_year_is_stored_with_lineage_and_equals_the_golden_total(app: Flask, tmp_path: Path) -> None:
    """The demo year at grid EF 0.5703 stores 240 lines adding up to 5,163,239.00 t; calc agrees."""
    with app.app_context():
        run = AccountOrganisation(db.session, _org("华钢集团"), 2024, electricity_ef=0.5703).run()
        assert run.status == "done" and run.line_count == 240 and len(run.inputs_digest) == 64
        assert run.total_tco2 == pytest.approx(GOLDEN_TOTAL, abs=0.05)
        lines = db.session.scalars(select(ResultLine).where(ResultLine.run_id == run.id)).all()
        assert len(lines) == 240
        assert sum(line.net_tco2 for line in lines) == pytest.approx(run.total_tco2, abs=1e-6)
        # Lineage: the stored formula is the binding's, factors name stored versions, records exist.
        coke = next(line for line in lines if line.material == "焦炭" and line.month == "2024-03")
        assert coke.binding is not None and coke.formula_id == coke.binding.formula_id
        assert db.session.get(Formula, coke.formula_id).name == coke.formula_name == "gbt32151.5/燃料燃烧"
        assert {f["id"].rsplit("/", 1)[-1] for f in coke.factors} >= {"ncv", "cc", "of"} or len(coke.factors) == 3
        for used in coke.factors:
            stored = db.session.scalar(select(Factor).where(Factor.code == used["id"]))
            assert stored is not None and str(stored.version) == used["version"] and stored.value == used["value"]
        record = db.session.get(ActivityRecord, coke.record_ids[0])
        assert record.month == "2024-03" and record.quantity == pytest.approx(200000 / 12)
        assert coke.inputs["quantity"] == pytest.approx(200000 / 12)
        assert coke.activity == pytest.approx(coke.inputs["quantity"] * coke.inputs["ncv"])
        # The run row went through the ORM: one audit entry for the run, none per line.
        from orgcarbon.security.models import AuditEntry

        tables = dict(db.session.execute(select(AuditEntry.table_name, func.count()).group_by(AuditEntry.table_name)).all())
        assert tables.get("ac_run") == 1 and "ac_result_line" not in tables
        stored_by_category = run.by_category

    out = tmp_path / "demo.package.json"
    result = run_cli(app, ["export-package", "--org", "华钢集团", "--year", "2024", "--electricity-ef", "0.5703",
                           "-o", str(out)])
    assert result.exit_code == 0, result.output
    package = json.loads(out.read_text(encoding="utf-8"))
    assert package["format"] == "orgcarbon-activity/1" and len(package["records"]) == 240
    _, calc = calculate_package(out)
    assert calc.total_tco2 == pytest.approx(run.total_tco2, abs=0.05)
    assert calc.total_tco2 == pytest.approx(GOLDEN_TOTAL, abs=0.05)
    for term, value in stored_by_category.items():
        assert calc.by_category[term] == pytest.approx(value, abs=0.05), term


def test_grid_factor_fallback_is_noted_on_the_run(app: Flask) -> None:
    """Without an EF the 2024 run uses 华北 2023 (0.6361) and says so; indirect = 1,040,000 MWh × 0.6361 − heat."""
    result = run_cli(app, ["account", "--org", "华钢集团", "--year", "2024", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert any("沿用最近的 2023 年因子" in note for note in data["notes"])
    assert data["indirect_tco2"] == pytest.approx((1_200_000 - 100_000) * 0.6361 - 33_000, abs=0.05)


def test_golden_package_imported_accounted_and_read_back(app: Flask) -> None:
    """Import the golden package into a new company, account it, read back the expected figures."""
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))["expected"]
    with app.app_context():
        db.session.add(Organization(name="示例联合钢铁有限公司（虚构）", level="公司", parent_id=_org("华钢集团")))
        db.session.commit()
    result = run_cli(app, ["import-package", str(GOLDEN), "--org", "示例联合钢铁有限公司（虚构）"])
    assert result.exit_code == 0, result.output
    assert "已导入 20 条活动记录" in result.output
    result = run_cli(app, ["account", "--org", "示例联合钢铁有限公司（虚构）", "--year", "2022",
                           "--electricity-ef", "0.5703", "--json"])
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.output)["run"]
    with app.app_context():
        run = db.session.get(AccountingRun, run_id)
        for key in ("total_tco2", "direct_tco2", "indirect_tco2"):
            assert getattr(run, key) == pytest.approx(expected[key], abs=0.05), key
        for term, value in expected["by_category"].items():
            assert run.by_category[term] == pytest.approx(value, abs=0.05), term
    body = Api(app).get(f"results/runs/{run_id}").get_json()["result"]
    by_process: dict[str, float] = {}
    for row in body["by_process"]:
        by_process[row["process"]] = by_process.get(row["process"], 0.0) + row["net_tco2"]
    for process, value in expected["by_process"].items():
        assert by_process[process] == pytest.approx(value, abs=0.05), process


def test_rejected_package_names_rows_in_chinese_and_writes_nothing(app: Flask, tmp_path: Path) -> None:
    """One bad row refuses the whole package: no process, sub-process or activity row is written."""
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    data["records"][1]["quantity"] = "abc"
    data["records"][4]["material"] = "无此物料"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with app.app_context():
        before = (db.session.scalar(select(func.count()).select_from(ActivityRecord)),
                  db.session.scalar(select(func.count()).select_from(SubProcess)))
    result = run_cli(app, ["import-package", str(bad), "--org", "西区"])
    assert result.exit_code != 0
    assert "第 2 行" in result.output and "数量不是数字" in result.output
    assert "第 5 行" in result.output and "未知物料" in result.output
    with app.app_context():
        after = (db.session.scalar(select(func.count()).select_from(ActivityRecord)),
                 db.session.scalar(select(func.count()).select_from(SubProcess)))
    assert after == before


def test_missing_factor_is_refused_in_chinese_and_nothing_is_stored(app: Flask) -> None:
    """A fuel without NCV/CC/OF in the library stops the run; never a silent zero."""
    with app.app_context():
        db.session.add(Material(name="氢气", category="fuel", unit="10^4Nm3"))
        sub = db.session.scalar(select(SubProcess).where(SubProcess.name == "1#高炉"))
        db.session.add(ActivityRecord(organization_id=sub.organization_id, subprocess_id=sub.id,
                                      material=db.session.scalar(select(Material).where(Material.name == "氢气")),
                                      category="fuel_combustion", month="2024-05", quantity=10, unit="10^4Nm3"))
        db.session.commit()
        with pytest.raises(AccountingRefused) as refused:
            AccountOrganisation(db.session, _org("东区"), 2024, electricity_ef=0.5703).run()
        assert any("氢气" in reason and "1#高炉" in reason for reason in refused.value.reasons)
        assert _counts() == (0, 0)
    result = run_cli(app, ["account", "--org", "东区", "--year", "2024"])
    assert result.exit_code != 0 and "核算被拒绝" in result.output and "氢气" in result.output
    with app.app_context():
        assert _counts() == (0, 0)


def test_api_runs_through_the_task_explains_a_line_and_respects_scope(app: Flask) -> None:
    """POST starts the task; explain substitutes values; filler (西区) gets 404 for 东区 figures."""
    admin = Api(app)
    with app.app_context():
        group, east, west = _org("华钢集团"), _org("东区"), _org("西区")
    response = admin.post("results/runs", {"organization_id": group, "year": 2024, "electricity_ef": 0.5703})
    assert response.status_code == 201, response.get_data(as_text=True)
    run = response.get_json()["result"]
    assert run["status"] == "done" and run["total_tco2"] == pytest.approx(GOLDEN_TOTAL, abs=0.05)
    lines = admin.get(f"results/?run_id={run['id']}&material=石灰石&month=2024-01").get_json()["result"]
    assert len(lines) == 1
    explained = admin.get(f"results/{lines[0]['id']}/explain").get_json()["result"]
    # Limestone: 650,000 t / 12 × purity 0.92 × EF 0.44.
    quantity = 650000 / 12
    assert explained["equation"]["activity"].startswith(f"quantity * if_null(purity, 1) = {quantity:.10g} * if_null(0.92, 1)")
    assert explained["tco2"] == pytest.approx(quantity * 0.92 * 0.44, abs=0.01)
    assert explained["factors"][0]["value"] == 0.44 and explained["factors"][0]["source"]
    assert explained["records"][0]["quantity"] == pytest.approx(quantity) and explained["records"][0]["origin"]
    page = admin.client.get(f"/results/line/{lines[0]['id']}/explain", headers=admin.headers)

    with app.app_context():
        east_line = db.session.scalar(select(ResultLine.id).where(ResultLine.organization_id == east).limit(1))
        west_line = db.session.scalar(select(ResultLine.id).where(ResultLine.organization_id == west).limit(1))
    filler = Api(app, "filler")
    assert filler.get(f"results/{east_line}/explain").status_code == 404
    assert filler.get(f"results/{west_line}/explain").status_code == 200
    assert filler.get(f"results/runs/{run['id']}").status_code == 404  # the group's run is not 西区's
    assert filler.get("results/runs").get_json()["result"] == []
    assert filler.post("results/runs", {"organization_id": east, "year": 2024}).status_code in (403, 404)
    assert page.status_code in (200, 302)


def test_explain_page_shows_the_equation(app: Flask, client) -> None:  # type: ignore[no-untyped-def]
    """The explain page (admin, browser login) shows the formula, substituted values and the record."""
    from tests.conftest import ADMIN_PASSWORD, login

    with app.app_context():
        run = AccountOrganisation(db.session, _org("西区"), 2024, electricity_ef=0.5703).run()
        line_id = db.session.scalar(select(ResultLine.id).where(ResultLine.run_id == run.id).limit(1))
    login(client, "admin", ADMIN_PASSWORD)
    assert client.get("/results/").status_code == 200
    assert client.get(f"/results/run/{run.id}").status_code == 200
    html = client.get(f"/results/line/{line_id}/explain").get_data(as_text=True)
    assert "quantity" in html and "mm_activity" in html and "tCO2" in html


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scale=st.floats(min_value=0.01, max_value=1000.0), month=st.integers(min_value=1, max_value=12))
def test_stored_by_process_values_add_up_to_the_total(app: Flask, scale: float, month: int) -> None:
    """Whatever the quantities, stored lines by process and by organisation add up to the run total."""
    with app.app_context():
        db.session.query(ActivityRecord).filter(ActivityRecord.month == f"2024-{month:02d}").update(
            {ActivityRecord.quantity: ActivityRecord.quantity * scale}, synchronize_session=False)
        db.session.commit()
        run = AccountOrganisation(db.session, _org("华钢钢铁股份有限公司"), 2024, electricity_ef=0.5703).run()
        rows = db.session.execute(select(ResultLine.process_id, func.sum(ResultLine.net_tco2))
                                  .where(ResultLine.run_id == run.id).group_by(ResultLine.process_id)).all()
        assert sum(v for _, v in rows) == pytest.approx(run.total_tco2, rel=1e-9, abs=1e-6)
        direct = db.session.scalar(select(func.sum(ResultLine.net_tco2))
                                   .where(ResultLine.run_id == run.id, ResultLine.scope == "direct"))
        assert direct == pytest.approx(run.direct_tco2, rel=1e-9, abs=1e-6)
