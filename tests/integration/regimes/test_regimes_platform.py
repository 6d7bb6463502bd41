"""多口径 on the demo enterprise: the pages and APIs show what the pure rules compute, scoped and permitted."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.accounting.loader import activity_rows
from orgcarbon.forms.models import Evidence, FormDefinition, Submission
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization, SubProcess
from orgcarbon.metamodel.rules_inputs import factor_library, unit_table
from orgcarbon.platform.extensions import db
from orgcarbon.regimes.export_ets import SHEETS
from orgcarbon.rules import AccountingContext
from orgcarbon.rules.regimes import compute_national_ets, reconcile, shipped_regimes
from orgcarbon.rules.regimes.definition import PACK_DIR
from orgcarbon.rules.regimes.reconcile import cents
from tests.conftest import ADMIN_PASSWORD, api_token, login

EF = 0.5703
GOLDEN_TOTAL = 5_163_239.00
ETS_TOTAL = 4_502_035.08  # golden direct 4 568 909.00 − 64 800 (crude steel 0.037) − 2 449.30 (tar) + 375.38 (benzene)
CBAM_ATTRIBUTED = {"P1": 628_088.75, "P2": 3_369_617.38, "P3": 64_151.54, "P4": 259_577.54}
CBAM_INDIRECT = 1_100_000 * 0.5306  # 583 660.00: MEE/NBS 2023 national factor for 2024 (not published yet)


def _org(name: str) -> int:
    return db.session.scalar(select(Organization.id).where(Organization.name == name))


def _get(client: FlaskClient, token: str, url: str, status: int = 200) -> Any:
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json().get("result") if status == 200 else response


def _money(value: float) -> str:
    return f"{value:,.2f}"


@pytest.fixture()
def ids(app: Flask) -> dict[str, int]:
    """The demo year accounted at EF 0.5703 (the current run the reconciliation starts from); node ids."""
    with app.app_context():
        group = _org("华钢集团")
        run = AccountOrganisation(db.session, group, 2024, electricity_ef=EF).run()
        return {"group": group, "company": _org("华钢钢铁股份有限公司"), "east": _org("东区"), "west": _org("西区"),
                "run": run.id}


@pytest.fixture()
def admin(client: FlaskClient) -> str:
    return api_token(client, "admin", ADMIN_PASSWORD)


def test_national_ets_api_and_page_equal_the_pure_computation(
        app: Flask, client: FlaskClient, admin: str, ids: dict[str, int]) -> None:
    """Group 2024: 4 502 035.08 t; summary adds up; figures equal compute_national_ets over the stored rows."""
    data = _get(client, admin, f"/api/v1/regimes/national-ets?org_id={ids['group']}&year=2024")
    summary = {s["key"]: s["tco2"] for s in data["summary"]}
    assert summary["enterprise"] == pytest.approx(ETS_TOTAL, abs=0.005)
    assert summary["enterprise"] == pytest.approx(summary["process"] + summary["captive_power"] + summary["other"],
                                                  abs=1e-6)
    with app.app_context():
        rows = activity_rows(db.session, ids["group"], 2024)
        context = AccountingContext(year=2024, organization="华钢集团", units=unit_table(db.session))
        expected = compute_national_ets(shipped_regimes()["national_ets_steel"],
                                        [r.record(i) for i, r in enumerate(rows, 1)], factor_library(db.session),
                                        context, templates={r.process: r.process for r in rows})
    assert summary == pytest.approx({s.key: s.tco2 for s in expected.summary}, abs=1e-6)
    assert {t["key"]: t["tco2"] for t in data["by_type"]} == pytest.approx({t.key: t.tco2 for t in expected.by_type},
                                                                            abs=1e-6)
    assert data["gbt"] == {"total_tco2": pytest.approx(GOLDEN_TOTAL, abs=0.005), "run_id": ids["run"]}
    choices = {(c["kind"], c["material"]): c for c in data["factor_choices"]}
    assert choices[("fixed_carbon", "粗钢")]["value"] == 0.037 and choices[("fixed_carbon", "粗钢")]["grade"] == "D"
    assert choices[("process", "白云石")]["fallback"] is True
    assert len(data["excluded"]) == 36 and {e["driver"] for e in data["excluded"]} == {"indirect"}

    login(client, "auditor", "Demo-auditor-1")  # read-only on every area, scope 华钢集团
    html = client.get(f"/regimes/ets?org_id={ids['group']}&year=2024").get_data(as_text=True)
    shown = dict(re.findall(r'data-summary="(\w+)"><td>[^<]*</td><td class="text-right tco2"><strong>([-\d,.]+)', html))
    assert shown == {k: _money(v) for k, v in summary.items()}
    assert "企业层级排放总量" in html and 'data-grade="D"' in html and "掺烧自产二次能源的化石燃料发电设施" in html


def test_measured_parameter_shows_its_form_evidence(
        app: Flask, client: FlaskClient, admin: str, ids: dict[str, int]) -> None:
    """A measured NCV approved through a form: the monthly parameter says 实测 and lists the evidence file."""
    with app.app_context():
        row = db.session.scalar(select(ActivityRecord).join(Material).join(SubProcess).where(
            Material.name == "洗精煤", ActivityRecord.month == "2024-03"))
        form = db.session.scalar(select(FormDefinition).where(FormDefinition.organization_id == ids["east"]))
        sub = Submission(form_id=form.id, organization_id=ids["east"], year=2024, period=3, status="approved",
                         source="form")
        db.session.add(sub)
        db.session.flush()
        db.session.add(Evidence(submission_id=sub.id, organization_id=ids["east"], filename="焦化洗精煤化验单-2024-03.pdf",
                                sm3="ab" * 32, stored_path="evidence/ab/x.pdf", size=1024))
        row.ncv, row.submission_id, row.source = 26.0, sub.id, "form"
        record_id, quantity, sub_id = row.id, row.quantity, sub.id
        db.session.commit()
    data = _get(client, admin, f"/api/v1/regimes/national-ets?org_id={ids['east']}&year=2024")
    param = next(p for p in data["parameters"] if p["record_id"] == record_id)
    assert param["values"]["ncv"]["value"] == 26.0 and param["values"]["ncv"]["measured"] is True
    assert param["tco2"] == pytest.approx(quantity * 26.0 * 0.0254 * 0.9 * 44 / 12, rel=1e-12)
    evidence = param["evidence"]
    assert evidence["submission_id"] == sub_id and evidence["submission_url"] == f"/forms/submission/{sub_id}"
    assert [f["filename"] for f in evidence["files"]] == ["焦化洗精煤化验单-2024-03.pdf"]
    other = next(p for p in data["parameters"] if p["material"] == "洗精煤" and p["month"] == "2024-04")
    assert other["values"]["ncv"] == {**other["values"]["ncv"], "value": 26.344, "measured": False, "grade": "C"}
    assert other["evidence"] is None

    response = client.get(f"/api/v1/regimes/national-ets.xlsx?org_id={ids['east']}&year=2024",
                          headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.data))
    assert wb.sheetnames == list(SHEETS)
    summary = wb["排放量汇总表"]
    annual = {summary.cell(r, 1).value: summary.cell(r, summary.max_column).value for r in range(3, 7)}
    assert annual == pytest.approx({s["name"]: s["tco2"] for s in data["summary"]}, abs=1e-6)
    texts = [str(c.value) for row in wb["企业层级生产数据及排放量表"].iter_rows() for c in row if c.value]
    assert any("焦化洗精煤化验单-2024-03.pdf" in t for t in texts)


def test_cbam_api_page_and_official_template(
        app: Flask, client: FlaskClient, admin: str, ids: dict[str, int]) -> None:
    """The demo installation (the company): attributed emissions, SEE per CN code, the filled official file."""
    data = _get(client, admin, f"/api/v1/regimes/cbam?org_id={ids['group']}&year=2024")
    assert data["organization"]["id"] == ids["company"]
    processes = {p["id"]: p for p in data["processes"]}
    assert {k: p["attributed_direct"] for k, p in processes.items()} == pytest.approx(CBAM_ATTRIBUTED, abs=0.005)
    assert data["totals"]["indirect"] == pytest.approx(CBAM_INDIRECT, abs=1e-6)
    assert data["electricity"]["ef"] == 0.5306 and data["electricity"]["source_code"] == "D.4(b)"
    p1, p2, p3 = processes["P1"], processes["P2"], processes["P3"]
    assert p3["activity_level_t"] == 3_000_000 and p3["activity_basis"] == "固碳产品（粗钢）记录"
    assert p1["see_direct"] == pytest.approx(628_088.75 / 4_200_000, abs=1e-8)  # 0.149545 (docs/regimes.md)
    see2 = (p2["attributed_direct"] + 4_200_000 * p1["see_direct"]) / 2_800_000
    assert p2["see_direct"] == pytest.approx(see2, rel=1e-12)
    assert p3["see_direct"] == pytest.approx((p3["attributed_direct"] + 2_750_000 * see2 + 20_000 * 1.1) / 3_000_000,
                                             rel=1e-12)
    products = {r["cn_code"]: r for r in data["products"]}
    assert set(products) == {"26011200", "72011011", "72071114", "72071210", "72083900"}
    assert products["72071210"]["see_total"] == pytest.approx(p3["see_total"])

    login(client, "auditor", "Demo-auditor-1")  # read-only on every area, scope 华钢集团
    html = client.get(f"/regimes/cbam?org_id={ids['group']}&year=2024").get_data(as_text=True)
    shown = dict(re.findall(r'data-total="(\w+)"><t[dh]>[^<]*</t[dh]><t[dh] class="text-right tco2">([-\d,.]+)', html))
    assert shown == {k: _money(data["totals"][k]) for k in ("direct", "indirect", "total")}
    see = dict(re.findall(r'data-cn="(\d+)">.*?class="text-right see-total">([\d.]+)<', html, re.S))
    assert see == {code: f"{r['see_total']:.6f}" for code, r in products.items()}

    blank = zipfile.ZipFile(PACK_DIR / "cbam" / "CBAM-communication-template-installations-v2.1.1-20241213.xlsx")
    response = client.get(f"/regimes/cbam.xlsx?org_id={ids['group']}&year=2024")
    filled = zipfile.ZipFile(io.BytesIO(response.data))
    assert response.status_code == 200 and filled.namelist() == blank.namelist()
    assert any(b"Huagang Iron and Steel" in filled.read(n) for n in filled.namelist() if n.startswith("xl/worksheets/"))
    api_file = client.get(f"/api/v1/regimes/cbam.xlsx?org_id={ids['group']}&year=2024",
                          headers={"Authorization": f"Bearer {admin}"})
    assert api_file.status_code == 200 and f"cbam-communication-{ids['company']}-2024.xlsx" in api_file.headers[
        "Content-Disposition"]
    assert zipfile.ZipFile(io.BytesIO(api_file.data)).namelist() == blank.namelist()


def test_reconciliation_page_and_api_explain_every_difference(
        client: FlaskClient, admin: str, ids: dict[str, int]) -> None:
    """Group 2024: GB/T 5 163 239.00 → carbon market 4 502 035.08 → CBAM; drivers sum exactly, also as shown."""
    data = _get(client, admin, f"/api/v1/regimes/reconciliation?org_id={ids['group']}&year=2024")
    totals = {t["key"]: t["tco2"] for t in data["totals"]}
    cbam_total = sum(CBAM_ATTRIBUTED.values()) + CBAM_INDIRECT
    assert totals == pytest.approx({"gbt32151_5": GOLDEN_TOTAL, "national_ets_steel": ETS_TOTAL,
                                    "cbam_steel": cbam_total}, abs=0.02)
    assert data["gbt"]["run_id"] == ids["run"] and data["installations"] == ["华钢钢铁股份有限公司"]
    comparisons = {(c["source"], c["target"]): c for c in data["comparisons"]}
    to_ets = {d["key"]: d["tco2"] for d in comparisons[("gbt32151_5", "national_ets_steel")]["drivers"]}
    assert to_ets == pytest.approx({"indirect": -594_330.00, "deductions": -2_073.92, "boundaries": 0.0,
                                    "factors": -64_800.00, "waste_gases": 0.0}, abs=0.005)
    to_cbam = {d["key"]: d["tco2"] for d in comparisons[("gbt32151_5", "cbam_steel")]["drivers"]}
    assert to_cbam["indirect"] == pytest.approx(CBAM_INDIRECT - 594_330.00, abs=1e-6)
    assert to_cbam["deductions"] == pytest.approx(54_800.00, abs=1e-6)
    assert to_cbam["boundaries"] == pytest.approx(-12_383.64, abs=0.005)  # diesel of 厂内运输
    for c in data["comparisons"]:
        assert sum(d["tco2"] for d in c["drivers"]) == pytest.approx(c["difference"], abs=1e-6)
        assert sum(cents(d["display"]) for d in c["drivers"]) == cents(c["difference_display"])
        assert c["difference_display"] == (cents(c["target_total"]) - cents(c["source_total"])) / 100

    login(client, "auditor", "Demo-auditor-1")  # read-only on every area, scope 华钢集团
    html = client.get(f"/regimes/reconcile?org_id={ids['group']}&year=2024").get_data(as_text=True)
    shown_totals = dict(re.findall(r'data-regime="(\w+)"><strong>([-\d,.]+)', html))
    assert shown_totals == {k: _money(v) for k, v in totals.items()}
    for c in data["comparisons"]:
        block = html.split(f'data-source="{c["source"]}" data-target="{c["target"]}"')[1].split("</table>")[0]
        shown = dict(re.findall(r'data-driver="(\w+)"><td>[^<]*</td><td class="text-right driver-value">([-+\d,.]+)',
                                block))
        assert shown == {d["key"]: "{:+,.2f}".format(d["display"]) for d in c["drivers"]}


def test_pure_reconcile_of_the_stored_rows_matches_the_api(
        app: Flask, client: FlaskClient, admin: str, ids: dict[str, int]) -> None:
    """The reconciliation API is reconcile() of the same computations (GB/T → carbon market)."""
    with app.app_context():
        from orgcarbon.regimes.loader import load_inputs

        inputs = load_inputs(db.session, ids["group"], 2024)
        ets = compute_national_ets(shipped_regimes()["national_ets_steel"], inputs.records, inputs.library,
                                   inputs.context, templates=inputs.templates)
        expected = reconcile(inputs.gbt, ets).comparisons[0]
    data = _get(client, admin, f"/api/v1/regimes/reconciliation?org_id={ids['group']}&year=2024")
    got = data["comparisons"][0]
    assert got["difference"] == pytest.approx(expected.difference, abs=1e-6)
    assert [d["display"] for d in got["drivers"]] == [d.display for d in expected.drivers]


def test_scope_and_permissions(client: FlaskClient, ids: dict[str, int]) -> None:
    """viewer (东区) reads 东区 only and no CBAM installation above it; nobody unauthenticated; no writes."""
    assert client.get("/api/v1/regimes/national-ets?year=2024").status_code == 401
    viewer = api_token(client, "viewer", "Demo-viewer-1")
    _get(client, viewer, f"/api/v1/regimes/national-ets?org_id={ids['group']}&year=2024", status=404)
    east = _get(client, viewer, f"/api/v1/regimes/national-ets?org_id={ids['east']}&year=2024")
    assert {p["site"] for p in east["processes"]} == {"东区"}
    default = _get(client, viewer, "/api/v1/regimes/national-ets?year=2024")
    assert default["organization"]["id"] == ids["east"]
    _get(client, viewer, f"/api/v1/regimes/cbam?org_id={ids['east']}&year=2024", status=404)
    rec = _get(client, viewer, f"/api/v1/regimes/reconciliation?org_id={ids['east']}&year=2024")
    assert [t["key"] for t in rec["totals"]] == ["gbt32151_5", "national_ets_steel"]
    assert rec["notes"] == ["所选组织属于一个 CBAM 装置，该装置超出您的数据范围，CBAM 不参与对账"]
    admin = api_token(client, "admin", ADMIN_PASSWORD)
    assert "华钢钢铁股份有限公司" in _get(client, admin, f"/api/v1/regimes/reconciliation?org_id={ids['east']}&year=2024")[
        "notes"][0]
    body = {"format": "orgcarbon-regime-settings/1"}
    response = client.put(f"/api/v1/regimes/settings?org_id={ids['east']}", json=body,
                          headers={"Authorization": f"Bearer {viewer}"})
    assert response.status_code == 403
    login(client, "viewer", "Demo-viewer-1")
    assert client.get(f"/regimes/ets?org_id={ids['east']}&year=2024").status_code == 200
    assert client.get(f"/regimes/ets?org_id={ids['group']}&year=2024").status_code == 404


def test_settings_are_saved_per_organisation_and_change_the_mapping(
        app: Flask, client: FlaskClient, ids: dict[str, int], tmp_path: Any) -> None:
    """The modeller maps 东区/精炼 to 电炉炼钢 for 东区; a bad document is refused in Chinese, nothing saved."""
    modeller = api_token(client, "modeller", "Demo-modeller-1")
    headers = {"Authorization": f"Bearer {modeller}"}
    bad = client.put(f"/api/v1/regimes/settings?org_id={ids['east']}", headers=headers,
                     json={"format": "orgcarbon-regime-settings/1", "regimes": ["eu_ets"]})
    assert bad.status_code == 422 and bad.get_json()["message"] == "东区 的口径设置：未知口径 eu_ets"
    before = _get(client, modeller, f"/api/v1/regimes/national-ets?org_id={ids['east']}&year=2024")
    assert before["settings"]["owner"] == "华钢钢铁股份有限公司"  # inherited from the company's shipped settings
    document = {"format": "orgcarbon-regime-settings/1", "regimes": ["gbt32151_5", "national_ets_steel"],
                "national_ets_steel": {"process_map": {"东区/精炼": "电炉炼钢"}}}
    saved = client.put(f"/api/v1/regimes/settings?org_id={ids['east']}", headers=headers, json=document)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["result"]["settings"]["editable"] is True
    with app.app_context():
        from orgcarbon.regimes.settings import instance_path

        path = instance_path(app.instance_path, db.session.get(Organization, ids["east"]))
    assert path.is_file()
    after = _get(client, modeller, f"/api/v1/regimes/national-ets?org_id={ids['east']}&year=2024")
    types_before = {t["key"]: t["tco2"] for t in before["by_type"]}
    types_after = {t["key"]: t["tco2"] for t in after["by_type"]}
    refining = sum(p["tco2"] for p in before["processes"] if p["process"] == "精炼")
    assert refining == pytest.approx(3_296.70 + 330.00 + 1.44, abs=1e-6)  # electrode, FeCr (GB/T fallback), FeMo
    assert types_after["电炉炼钢"] == pytest.approx(refining, abs=1e-6)
    assert types_after["转炉炼钢"] == pytest.approx(types_before["转炉炼钢"] - refining, abs=1e-6)
    assert after["total_tco2"] == pytest.approx(before["total_tco2"], abs=1e-6)
