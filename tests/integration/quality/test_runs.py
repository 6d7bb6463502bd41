"""Dry runs over stored data: planted problems found with rule codes and record ids, the verification
report equal to the findings (page, API, Excel), staging rows, and the data scope."""

from __future__ import annotations

import datetime as dt
import io

from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from orgcarbon.metamodel.models import ActivityRecord, Organization
from orgcarbon.platform.extensions import db
from orgcarbon.quality.models import QualityFinding, QualityRun, StagingRow
from tests.conftest import login, run_cli
from tests.integration.quality.helpers import Api, add_second_modeller, copy_row, demo_row, org_id

CLAMP_OF = {
    "id": "of-clamp", "name": "碳氧化率截断到 [0.8, 1]", "kind": "cleaning", "action": "clamp",
    "scope": {"categories": ["fuel_combustion"]}, "condition": "of > 1", "params": {"field": "of", "high": 1.0},
    "severity": "info", "message": "{material}的碳氧化率 {before} 截断为 {after}", "order": 50,
    "tests": [{"name": "1.05 → 1.0", "rows": [{"row_id": 1, "category": "fuel_combustion", "material": "焦炭",
                                               "quantity": 1, "unit": "t", "of": 1.05}],
               "expect_values": [{"row_id": 1, "field": "of", "value": 1.0}]}],
}


def _plant() -> dict[str, int]:
    """An NCV out of range, a month-over-month jump of +50 %, an exact duplicate, an OF above 1."""
    ncv = demo_row("焦炭", "2024-03")
    ncv.ncv = 80.0
    jump = demo_row("烟煤", "2024-06")
    jump.quantity *= 1.5
    duplicate = copy_row(demo_row("洗精煤", "2024-04"))
    oxidation = demo_row("无烟煤", "2024-02")
    oxidation.oxidation_factor = 1.05
    db.session.commit()
    return {"ncv": ncv.id, "jump": jump.id, "after_jump": demo_row("烟煤", "2024-07").id,
            "duplicate": duplicate.id, "of": oxidation.id}


def _findings(run_id: int) -> list[QualityFinding]:
    return list(db.session.scalars(select(QualityFinding).where(QualityFinding.run_id == run_id)))


def test_dry_run_finds_the_planted_problems_with_rule_codes_and_record_ids(app: Flask) -> None:
    """The demo year with planted rows: each problem under its rule, on its record; no data changes."""
    add_second_modeller(app)
    with app.app_context():
        planted = _plant()
        group = org_id("华钢集团")
        quantities = dict(db.session.execute(select(ActivityRecord.id, ActivityRecord.quantity)).all())
    author, publisher = Api(app, "modeller"), Api(app, "modeller2")
    clamp = author.post("rules", CLAMP_OF).get_json()["result"]["id"]
    assert publisher.post(f"rules/{clamp}/publish").status_code == 200
    response = author.post("runs", {"organization_id": group, "year": 2024})
    assert response.status_code == 201, response.get_data(as_text=True)
    run = response.get_json()["result"]
    assert run["status"] == "done" and run["kind"] == "dry_run" and run["rule_versions"]["of-clamp"] == 1
    body = author.get(f"runs/{run['id']}").get_json()["result"]
    found = {(f["rule"], f["kind"], tuple(f["records"])) for f in body["findings"]}
    assert ("ncv-solid-range", "finding", (planted["ncv"],)) in found
    assert ("month-over-month", "finding", (planted["jump"],)) in found
    assert ("month-over-month", "finding", (planted["after_jump"],)) in found
    assert ("dedupe-exact", "change", (planted["duplicate"],)) in found
    assert ("of-clamp", "change", (planted["of"],)) in found
    assert len(body["findings"]) == 5 and body["counts"]["findings"] == 3 and body["counts"]["changes"] == 2
    jump = next(f for f in body["findings"] if f["records"] == [planted["jump"]])
    assert jump["target"] == "aggregate" and jump["key"] == "东区/炼铁/喷煤/fuel_combustion/烟煤/2024-06"
    assert "比上月 25000 变化超过 ±30%" in jump["message"]
    clamped = next(f for f in body["findings"] if f["rule"] == "of-clamp")
    assert (clamped["field"], clamped["before"], clamped["after"]) == ("of", 1.05, 1.0)
    ncv = next(f for f in body["findings"] if f["rule"] == "ncv-solid-range")
    assert ncv["severity"] == "error" and ncv["month"] == "2024-03" and "80 GJ/t" in ncv["message"]
    with app.app_context():
        # A dry run changes nothing: the OF is still 1.05, the duplicate still there, quantities as before.
        assert db.session.get(ActivityRecord, planted["of"]).oxidation_factor == 1.05
        assert db.session.get(ActivityRecord, planted["duplicate"]) is not None
        assert dict(db.session.execute(select(ActivityRecord.id, ActivityRecord.quantity)).all()) == quantities


def test_verification_report_counts_equal_the_findings(app: Flask) -> None:
    """Per rule findings and changes, open findings by severity, resolved by cleaning: page, API and Excel agree."""
    add_second_modeller(app)
    with app.app_context():
        planted = _plant()
        group = org_id("华钢集团")
    author = Api(app, "modeller")
    clamp = author.post("rules", CLAMP_OF).get_json()["result"]["id"]
    Api(app, "modeller2").post(f"rules/{clamp}/publish")
    run_id = author.post("runs", {"organization_id": group, "year": 2024}).get_json()["result"]["id"]
    report = author.get(f"runs/{run_id}").get_json()["result"]["report"]
    with app.app_context():
        stored = _findings(run_id)
    per_rule = {r["rule"]: r for r in report["rules"]}
    for code in {f.rule_code for f in stored} | set(per_rule):
        mine = [f for f in stored if f.rule_code == code]
        assert per_rule[code]["findings"] == sum(f.kind == "finding" for f in mine), code
        assert per_rule[code]["changes"] == sum(f.kind == "change" for f in mine), code
    assert report["findings_total"] + report["changes_total"] == len(stored) == 5
    assert report["remaining"] == {"error": 1, "warning": 2, "info": 0}
    # Cleaning resolved the OF above 1: one hit of of-range before cleaning, none after.
    assert (per_rule["of-range"]["before_cleaning"], per_rule["of-range"]["findings"],
            per_rule["of-range"]["resolved"]) == (1, 0, 1)
    assert report["rows_in"] == 241 and report["rows_out"] == 240
    changes = {(c["rule"], c["target_id"], c["field"], c["before"], c["after"]) for c in report["changes"]}
    assert ("of-clamp", planted["of"], "of", 1.05, 1.0) in changes
    assert ("dedupe-exact", planted["duplicate"], "*", 112500.0, None) in changes

    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    page = client.get(f"/quality/runs/{run_id}/report").get_data(as_text=True)
    assert 'data-rule="of-clamp"' in page and "截断为 1" in page
    excel = client.get(f"/quality/runs/{run_id}/report.xlsx")
    assert excel.status_code == 200 and excel.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(excel.data))
    assert wb.sheetnames == ["按规则统计", "值的变更", "未解决问题"]
    rows = {r[0]: r for r in wb["按规则统计"].iter_rows(min_row=2, values_only=True)}
    assert rows["ncv-solid-range"][6] == 1 and rows["of-clamp"][7] == 1 and rows["dedupe-exact"][7] == 1
    assert wb["值的变更"].max_row == 3
    remaining = {r[0]: r[1] for r in wb["未解决问题"].iter_rows(min_row=2, values_only=True)}
    assert remaining == {"错误": 1, "警告": 2, "提示": 0, "合计": 3}
    run_page = client.get(f"/quality/runs/{run_id}").get_data(as_text=True)
    assert f'/quality/record/activity/{planted["ncv"]}' in run_page and 'data-rule="month-over-month"' in run_page
    record = client.get(f"/quality/record/activity/{planted['ncv']}").get_data(as_text=True)
    assert "ncv-solid-range" in record and "80 GJ/t" in record


def test_month_run_uses_the_previous_month_as_context_only(app: Flask) -> None:
    """A June run reports June's jump (compared with May) and nothing of May itself."""
    with app.app_context():
        planted = _plant()
        group = org_id("华钢集团")
    runs = Api(app, "modeller")
    june = runs.post("runs", {"organization_id": group, "year": 2024, "month": 6}).get_json()["result"]
    body = runs.get(f"runs/{june['id']}").get_json()["result"]
    assert [(f["rule"], f["records"]) for f in body["findings"]] == [("month-over-month", [planted["jump"]])]
    assert body["counts"]["rows"] == 20 and {f["month"] for f in body["findings"]} == {"2024-06"}


def test_dry_run_on_staging_rows_names_the_staging_record(app: Flask) -> None:
    """Staging rows with provenance: the NCV out of range is reported on the staging row id."""
    with app.app_context():
        east = org_id("东区")
        sample = demo_row("焦炭", "2024-05")
        received = dt.datetime(2024, 6, 3, tzinfo=dt.UTC)
        rows = [StagingRow(source="api", batch_id="b-1", request_id="req-1", row=i, received_at=received,
                           organization_id=east, subprocess_id=sample.subprocess_id, material_id=sample.material_id,
                           category="fuel_combustion", month="2024-05", quantity=quantity, unit="t", ncv=ncv)
                for i, (quantity, ncv) in enumerate(((1000.0, 28.0), (1200.0, 3.0)), start=1)]
        db.session.add_all(rows)
        db.session.commit()
        bad_id = rows[1].id
    api = Api(app, "modeller")
    run = api.post("runs", {"organization_id": east, "year": 2024, "month": 5, "dataset": "staging"})
    assert run.status_code == 201, run.get_data(as_text=True)
    findings = api.get(f"runs/{run.get_json()['result']['id']}").get_json()["result"]["findings"]
    assert [(f["rule"], f["target"], f["target_id"]) for f in findings] == [("ncv-solid-range", "staging", bad_id)]


def test_another_organisations_run_is_not_found(app: Flask) -> None:
    """A run of a group outside the modeller's subtree answers 404 to the API and the pages; starting one too."""
    with app.app_context():
        other = Organization(name="另一集团", level="集团")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    admin_run = Api(app, "admin").post("runs", {"organization_id": other_id, "year": 2024})
    assert admin_run.status_code == 201
    run_id = admin_run.get_json()["result"]["id"]
    modeller = Api(app, "modeller")
    assert modeller.get(f"runs/{run_id}").status_code == 404
    assert run_id not in [r["id"] for r in modeller.get("runs").get_json()["result"]]
    assert modeller.post("runs", {"organization_id": other_id, "year": 2024}).status_code == 404
    assert modeller.get(f"scorecard?organization_id={other_id}&year=2024").status_code == 404
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    assert client.get(f"/quality/runs/{run_id}").status_code == 404
    assert client.get(f"/quality/runs/{run_id}/report").status_code == 404
    assert client.get(f"/quality/runs/{run_id}/report.xlsx").status_code == 404
    # The auditor may read runs of the group but not start one (read only on Rules).
    with app.app_context():
        group = org_id("华钢集团")
    assert Api(app, "auditor").post("runs", {"organization_id": group, "year": 2024}).status_code == 403


def test_page_starts_a_dry_run_and_the_cli_runs_one(app: Flask) -> None:
    """The 试运行 form stores a run and opens it; ``orgcarbon quality dry-run`` prints its counts."""
    with app.app_context():
        _plant()
        group = org_id("华钢集团")
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    response = client.post("/quality/runs/start", data={"organization_id": str(group), "year": "2024", "month": "",
                                                         "dataset": "activity"})
    assert response.status_code == 302 and "/quality/runs/" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert "ncv-solid-range" in page and "month-over-month" in page
    result = run_cli(app, ["quality", "dry-run", "--org", "华钢集团", "--year", "2024"])
    assert result.exit_code == 0, result.output
    assert "241 条记录，问题 4 条（错误 1，警告 3，提示 0），清洗变更 1 处" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(QualityRun)) == 2
