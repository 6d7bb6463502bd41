"""Measured parameters and record origins through the platform; intensity per process product."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.accounting.loader import activity_rows, inputs_digest
from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.forms.models import FormDefinition, Submission
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization
from orgcarbon.platform.extensions import db
from orgcarbon.rules.calc import calculate_package
from tests.conftest import ADMIN_PASSWORD, login, run_cli
from tests.integration.metamodel.helpers import Api

EF = 0.5703
MEASURED_NCV = 30.0
GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "domain" / "golden-bfbof-annual.package.json"


def _org(name: str) -> int:
    return db.session.scalar(select(Organization.id).where(Organization.name == name))


def _coke_row(month: str = "2024-03") -> ActivityRecord:
    return db.session.scalar(select(ActivityRecord).join(Material).where(Material.name == "焦炭",
                                                                         ActivityRecord.month == month))


def _lines(run_id: int) -> dict[int, ResultLine]:
    return {line.record_ids[0]: line for line in db.session.scalars(select(ResultLine).where(ResultLine.run_id == run_id))}


def test_measured_ncv_changes_exactly_that_line_as_the_formula_says(app: Flask) -> None:
    """NCV 30 measured on one 焦炭 row: that line = FC × 30 × CC × OF × 44/12; every other line unchanged."""
    with app.app_context():
        before = AccountOrganisation(db.session, _org("东区"), 2024, electricity_ef=EF).run()
        old_lines, old_total, old_digest = _lines(before.id), before.total_tco2, before.inputs_digest
        row = _coke_row()
        row.ncv = MEASURED_NCV
        db.session.commit()
        after = AccountOrganisation(db.session, _org("东区"), 2024, electricity_ef=EF).run()
        new_lines = _lines(after.id)
        assert after.inputs_digest != old_digest and set(new_lines) == set(old_lines)
        changed = [rid for rid in new_lines if new_lines[rid].tco2 != pytest.approx(old_lines[rid].tco2, rel=1e-12)]
        assert changed == [row.id]
        line, old = new_lines[row.id], old_lines[row.id]
        cc, of = old.inputs["cc"], old.inputs["of"]
        assert (cc, of) == (0.0295, 0.93)
        assert line.tco2 == pytest.approx(row.quantity * MEASURED_NCV * cc * of * 44 / 12, rel=1e-12)
        assert line.activity == pytest.approx(row.quantity * MEASURED_NCV, rel=1e-12)
        assert line.measured == ["ncv"] and line.inputs["ncv"] == MEASURED_NCV
        assert "ncv" not in {f["id"].rsplit("/", 1)[-1] for f in line.factors}  # the default NCV was not used
        assert after.total_tco2 - old_total == pytest.approx(line.tco2 - old.tco2, rel=1e-9)
        run_id, line_id = after.id, line.id

    explained = Api(app).get(f"results/{line_id}/explain").get_json()["result"]
    assert explained["measured_parameters"] == [{"name": "ncv", "label": "低位发热量 NCV", "value": MEASURED_NCV,
                                                 "unit": "GJ/t", "source": "实测值（活动记录）"}]
    assert explained["equation"]["activity"].startswith(f"quantity * ncv = {200000 / 12:.10g} * 30 = ")
    record = explained["records"][0]
    assert record["measured"] == {"ncv": MEASURED_NCV}
    assert (record["source"], record["origin"], record["submission_url"]) == ("demo", "演示数据", None)
    browser = app.test_client()
    login(browser, "admin", ADMIN_PASSWORD)
    html = browser.get(f"/results/line/{line_id}/explain").get_data(as_text=True)
    assert "低位发热量 NCV" in html and "演示数据" in html and "mm_activity #" in html
    assert browser.get(f"/results/run/{run_id}").status_code == 200


def test_digest_of_rows_without_measured_values_is_unchanged(app: Flask) -> None:
    """Runs stored before the measured columns existed stay fresh: their digest is computed as before."""
    with app.app_context():
        run = AccountOrganisation(db.session, _org("西区"), 2024, electricity_ef=EF).run()
        rows = activity_rows(db.session, _org("西区"), 2024)
        legacy = {"model": [run.model.id, run.model.version], "electricity_ef": EF,
                  "factors": sorted(run.factor_versions.items()),
                  "rows": [[r.id, r.subprocess_id, r.material_id, r.category, r.month, r.quantity, r.unit, r.purity]
                           for r in rows]}
        expected = hashlib.sha256(json.dumps(legacy, ensure_ascii=False, default=str).encode()).hexdigest()
        assert run.inputs_digest == expected
        assert inputs_digest(rows, run.factor_versions, run.model, EF) == expected


def test_form_submission_origin_links_to_the_submission(app: Flask) -> None:
    """A row written by an approved submission explains as 表单提交 #id（…） with a link to its page."""
    with app.app_context():
        east = _org("东区")
        form = FormDefinition(code="east-monthly", name="东区月报", organization_id=east)
        db.session.add(form)
        db.session.flush()
        submission = Submission(form_id=form.id, organization_id=east, year=2024, period=3, status="approved",
                                source="form")
        db.session.add(submission)
        db.session.flush()
        row = _coke_row()
        row.source, row.submission_id = "form", submission.id
        db.session.commit()
        submission_id = submission.id
        run = AccountOrganisation(db.session, east, 2024, electricity_ef=EF).run()
        line_id = _lines(run.id)[row.id].id
    record = Api(app).get(f"results/{line_id}/explain").get_json()["result"]["records"][0]
    assert record["origin"] == f"表单提交 #{submission_id}（东区月报，东区，2024-03，第 1 版）"
    assert record["submission_url"] == f"/forms/submission/{submission_id}" and record["source"] == "form"
    browser = app.test_client()
    login(browser, "admin", ADMIN_PASSWORD)
    html = browser.get(f"/results/line/{line_id}/explain").get_data(as_text=True)
    assert f'href="/forms/submission/{submission_id}"' in html


def test_measured_values_round_trip_through_export_and_import(app: Flask, tmp_path: Path) -> None:
    """export-package writes measured NCV/EF; import-package stores them (source "package"); totals agree."""
    with app.app_context():
        row = _coke_row("2024-05")
        row.ncv, row.ef = MEASURED_NCV, 2.9
        db.session.commit()
        original = AccountOrganisation(db.session, _org("东区"), 2024, electricity_ef=EF).run()
        total = original.total_tco2
        db.session.add(Organization(name="测试导入厂", level="厂区", parent_id=_org("华钢集团")))
        db.session.commit()
    out = tmp_path / "east.json"
    result = run_cli(app, ["export-package", "--org", "东区", "--year", "2024", "--electricity-ef", str(EF),
                           "-o", str(out)])
    assert result.exit_code == 0, result.output
    package = json.loads(out.read_text(encoding="utf-8"))
    measured = [r for r in package["records"] if "ncv" in r]
    assert measured == [{**measured[0], "ncv": MEASURED_NCV, "ef": 2.9}] and measured[0]["month"] == "2024-05"
    _, calc = calculate_package(out)
    assert calc.total_tco2 == pytest.approx(total, abs=0.05)
    result = run_cli(app, ["import-package", str(out), "--org", "测试导入厂"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = db.session.scalars(select(ActivityRecord).where(ActivityRecord.organization_id == _org("测试导入厂"))).all()
        assert {r.source for r in stored} == {"package"} and len(stored) == len(package["records"])
        assert [(r.ncv, r.ef) for r in stored if r.ncv is not None] == [(MEASURED_NCV, 2.9)]
        run = AccountOrganisation(db.session, _org("测试导入厂"), 2024, electricity_ef=EF).run()
        assert run.total_tco2 == pytest.approx(total, abs=0.05)
        line_id = db.session.scalar(select(ResultLine.id).where(ResultLine.run_id == run.id).limit(1))
    origin = Api(app).get(f"results/{line_id}/explain").get_json()["result"]["records"][0]["origin"]
    assert origin == "数据包导入"


def test_run_api_and_page_show_intensity_per_process_product(app: Flask, tmp_path: Path) -> None:
    """Demo: 转炉炼钢 per t crude steel; an imported package with sinter output: 烧结 per t sinter, as calc says."""
    admin = Api(app)
    with app.app_context():
        demo = AccountOrganisation(db.session, _org("华钢集团"), 2024, electricity_ef=EF).run()
        demo_id = demo.id
    body = admin.get(f"results/runs/{demo_id}").get_json()["result"]
    assert body["intensity"]["total_tco2_per_t"] == pytest.approx(1.7211, abs=5e-5)
    assert [(i["organization"], i["process"], i["product"], i["basis"]) for i in body["process_intensity"]] == [
        ("东区", "转炉炼钢", "粗钢", "fixed_carbon_product")]
    steel = body["process_intensity"][0]
    assert steel["quantity_t"] == pytest.approx(3_000_000) and steel["net_tco2"] == pytest.approx(20000 * 0.073)

    package = json.loads(GOLDEN.read_text(encoding="utf-8"))
    package["records"].append({"process": "烧结", "subprocess": "1#烧结机", "category": "产品产量",
                               "material": "烧结矿", "quantity": 4_500_000, "unit": "t", "month": "2022-06"})
    path = tmp_path / "golden-products.json"
    path.write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
    _, calc = calculate_package(path)
    with app.app_context():
        db.session.add(Organization(name="示例联合钢铁有限公司（虚构）", level="公司", parent_id=_org("华钢集团")))
        db.session.commit()
    assert run_cli(app, ["import-package", str(path), "--org", "示例联合钢铁有限公司（虚构）"]).exit_code == 0
    result = run_cli(app, ["account", "--org", "示例联合钢铁有限公司（虚构）", "--year", "2022", "--electricity-ef", "0.5703",
                           "--json"])
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.output)["run"]
    with app.app_context():
        run = db.session.get(AccountingRun, run_id)
        assert run.line_count == 21 and run.total_tco2 == pytest.approx(calc.total_tco2, abs=1e-6)
        sinter = db.session.get(Material, db.session.scalar(select(Material.id).where(Material.name == "烧结矿")))
        assert (sinter.category, sinter.unit) == ("product", "t")
    body = admin.get(f"results/runs/{run_id}").get_json()["result"]
    expected = {i.process: i for i in calc.process_intensity}
    got = {i["process"]: i for i in body["process_intensity"]}
    assert set(got) == set(expected) == {"烧结", "炼钢"}
    for process, item in expected.items():
        assert got[process]["product"] == item.product and got[process]["quantity_t"] == pytest.approx(item.quantity_t)
        assert got[process]["total_tco2_per_t"] == pytest.approx(item.total_per_t, rel=1e-9)
        assert got[process]["direct_tco2_per_t"] == pytest.approx(item.direct_per_t, rel=1e-9)
    browser = app.test_client()
    login(browser, "admin", ADMIN_PASSWORD)
    html = browser.get(f"/results/run/{run_id}").get_data(as_text=True)
    assert "烧结矿" in html and f"{expected['烧结'].total_per_t:.4f}" in html
