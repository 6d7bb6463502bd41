"""碳分析: panorama, ledger, comparison and what-if equal the stored accounting results; scope; cache."""

from __future__ import annotations

import io
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from tests.conftest import ADMIN_PASSWORD, api_token, login

GOLDEN_TOTAL = 5_163_239.00


def _org(name: str) -> int:
    return db.session.scalar(select(Organization.id).where(Organization.name == name))


@pytest.fixture()
def run(app: Flask) -> dict[str, float]:
    """The demo year accounted at grid EF 0.5703; its stored totals."""
    with app.app_context():
        r = AccountOrganisation(db.session, _org("华钢集团"), 2024, electricity_ef=0.5703).run()
        return {"id": r.id, "total": r.total_tco2, "direct": r.direct_tco2, "indirect": r.indirect_tco2}


def _get(client: FlaskClient, token: str, url: str) -> dict:
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["result"]


@pytest.fixture()
def admin(client: FlaskClient) -> str:
    return api_token(client, "admin", ADMIN_PASSWORD)


def test_panorama_totals_equal_the_run_and_the_golden_total(client: FlaskClient, admin: str, run: dict) -> None:
    """Total, direct and indirect equal the stored run; by-process, by-category and by-month add up to it."""
    data = _get(client, admin, "/api/v1/analysis/panorama?year=2024")
    t = data["totals"]
    assert data["run_ids"] == [run["id"]]
    assert t["total"] == pytest.approx(run["total"], abs=1e-6)
    assert t["total"] == pytest.approx(GOLDEN_TOTAL, abs=0.05)
    assert t["direct"] == pytest.approx(run["direct"], abs=1e-6)
    assert t["indirect"] == pytest.approx(run["indirect"], abs=1e-6)
    assert t["lines"] == 240
    for part in ("by_process", "by_subprocess", "by_category", "by_organization"):
        assert sum(r["value"] for r in data[part]) == pytest.approx(t["total"], abs=1e-4), part
        assert sum(r["share"] for r in data[part]) == pytest.approx(100.0, abs=1e-9), part
    assert sum(r["value"] for r in data["trend"]) == pytest.approx(t["total"], abs=1e-4)
    assert [r["month"] for r in data["trend"]] == [f"2024-{m:02d}" for m in range(1, 13)]
    assert all(r["last_year"] is None and r["change"] is None for r in data["trend"])  # no 2023 run
    # Intensity as the rules engine computes it: total / crude steel (3,000,000 t in the demo year).
    assert data["intensity"]["quantity_t"] == pytest.approx(3_000_000)
    assert data["intensity"]["total_per_t"] == pytest.approx(GOLDEN_TOTAL / 3_000_000, abs=1e-6)
    assert data["completeness"] == {"months_with_data": 24, "months_expected": 24, "ratio": 1.0, "nodes": 2}
    top = data["top_sources"]
    assert top[0]["value"] == max(r["value"] for r in top) and len(top) == 10
    # Contribution rate of each process is its share of the total.
    first = data["by_process"][0]
    assert first["share"] == pytest.approx(first["value"] / t["total"] * 100)


def test_month_range_and_plant_filter(client: FlaskClient, admin: str, run: dict, app: Flask) -> None:
    """A month range sums those months' lines; one plant sums its own lines only."""
    with app.app_context():
        east = _org("东区")
        lines = db.session.scalars(select(ResultLine).where(ResultLine.run_id == run["id"])).all()
        q1 = sum(x.net_tco2 for x in lines if x.month <= "2024-03")
        east_total = sum(x.net_tco2 for x in lines if x.organization_id == east)
    data = _get(client, admin, "/api/v1/analysis/panorama?year=2024&month_from=1&month_to=3")
    assert data["totals"]["total"] == pytest.approx(q1, abs=1e-6)
    assert len(data["trend"]) == 3
    data = _get(client, admin, f"/api/v1/analysis/panorama?year=2024&org_id={east}")
    assert data["totals"]["total"] == pytest.approx(east_total, abs=1e-6)
    assert {r["name"] for r in data["by_organization"]} == {"东区"}


def test_west_plant_user_sees_only_west_numbers(client: FlaskClient, run: dict, app: Flask) -> None:
    """filler belongs to 西区: the panorama, the ledger and exports hold only 西区 lines."""
    with app.app_context():
        west = _org("西区")
        west_total = sum(x.net_tco2 for x in db.session.scalars(
            select(ResultLine).where(ResultLine.run_id == run["id"], ResultLine.organization_id == west)))
    token = api_token(client, "filler", "Demo-filler-1")
    data = _get(client, token, "/api/v1/analysis/panorama?year=2024")
    assert data["totals"]["total"] == pytest.approx(west_total, abs=1e-6)
    assert data["totals"]["total"] < run["total"] / 2
    assert {r["name"] for r in data["by_organization"]} == {"西区"}
    response = client.get("/api/v1/analysis/ledger?year=2024", headers={"Authorization": f"Bearer {token}"})
    body = response.get_json()
    assert body["count"] == 36 and {r["organization"] for r in body["result"]} == {"西区"}
    response = client.get(f"/api/v1/analysis/panorama?year=2024&org_id={_org_id(app, '东区')}",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400


def _org_id(app: Flask, name: str) -> int:
    with app.app_context():
        return _org(name)


def test_new_run_invalidates_the_cached_panorama(client: FlaskClient, admin: str, run: dict, app: Flask) -> None:
    """A cached panorama is keyed by run ids: a newer run changes the figures at once."""
    first = _get(client, admin, "/api/v1/analysis/panorama?year=2024")
    assert first == _get(client, admin, "/api/v1/analysis/panorama?year=2024")  # served from the cache
    with app.app_context():
        assert len(app.extensions["analysis_cache"]._data) == 1
        newer = AccountOrganisation(db.session, _org("华钢集团"), 2024, electricity_ef=0.6).run()
        new_total, new_id = newer.total_tco2, newer.id
    second = _get(client, admin, "/api/v1/analysis/panorama?year=2024")  # purchased − exported power
    assert second["run_ids"] == [new_id]
    assert second["totals"]["total"] == pytest.approx(new_total, abs=1e-6)
    assert second["totals"]["total"] - first["totals"]["total"] == pytest.approx((1_200_000 - 100_000) * (0.6 - 0.5703), abs=1e-3)
    # A superseded run no longer counts: the older one comes back.
    with app.app_context():
        db.session.get(AccountingRun, new_id).status = "superseded"
        db.session.commit()
    third = _get(client, admin, "/api/v1/analysis/panorama?year=2024")
    assert third["run_ids"] == [run["id"]] and third["totals"]["total"] == pytest.approx(run["total"], abs=1e-6)


def test_later_plant_run_replaces_only_that_plants_lines(client: FlaskClient, admin: str, run: dict,
                                                         app: Flask) -> None:
    """A newer run of 西区 alone answers for 西区; the group run still answers for 东区; nothing counts twice."""
    with app.app_context():
        west = AccountOrganisation(db.session, _org("西区"), 2024, electricity_ef=0.6).run()
        west_total, west_id = west.total_tco2, west.id
        east_total = sum(x.net_tco2 for x in db.session.scalars(
            select(ResultLine).where(ResultLine.run_id == run["id"], ResultLine.organization_id == _org("东区"))))
    data = _get(client, admin, "/api/v1/analysis/panorama?year=2024")
    assert sorted(data["run_ids"]) == sorted([run["id"], west_id])
    assert data["totals"]["total"] == pytest.approx(east_total + west_total, abs=1e-6)
    assert data["totals"]["lines"] == 240


def test_ledger_lists_filters_and_exports_lines(client: FlaskClient, admin: str, run: dict, app: Flask) -> None:
    """The ledger pages through all 240 lines; filters narrow them; the Excel export holds the filtered lines."""
    body = client.get("/api/v1/analysis/ledger?year=2024", headers={"Authorization": f"Bearer {admin}"}).get_json()
    assert body["count"] == 240 and len(body["result"]) == 50
    assert body["total_tco2"] == pytest.approx(run["total"], abs=1e-6)
    body = client.get("/api/v1/analysis/ledger?year=2024&material=焦炭&month=2024-03",
                      headers={"Authorization": f"Bearer {admin}"}).get_json()
    assert body["count"] == 1
    line = body["result"][0]
    response = client.get("/api/v1/analysis/ledger.xlsx?year=2024&category=purchased_electricity",
                          headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "行号" and len(rows) == 13
    assert {r[5] for r in rows[1:]} == {"电力"} and {r[6] for r in rows[1:]} == {"购入电力"}
    assert sum(r[11] for r in rows[1:]) == pytest.approx(1_200_000 * 0.5703, abs=1e-6)
    # The page links each figure to its explanation, which opens for this user.
    login(client, "admin", ADMIN_PASSWORD)
    page = client.get("/analysis/ledger?year=2024&material=焦炭&month=2024-03").get_data(as_text=True)
    assert f'/results/line/{line["id"]}/explain' in page
    assert client.get(f'/results/line/{line["id"]}/explain').status_code == 200


def test_chart_excel_matches_the_panorama(client: FlaskClient, admin: str, run: dict) -> None:
    """The by-process download holds the chart's rows with Chinese headers; values sum to the total."""
    response = client.get("/api/v1/analysis/panorama/by_process.xlsx?year=2024",
                          headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0] == ("组织", "工序", "tCO2", "贡献率（%）")
    assert sum(r[2] for r in rows[1:]) == pytest.approx(run["total"], abs=1e-4)
    assert sum(r[3] for r in rows[1:]) == pytest.approx(100.0)
    assert client.get("/api/v1/analysis/panorama/nope.xlsx?year=2024",
                      headers={"Authorization": f"Bearer {admin}"}).status_code == 404


def test_comparison_drivers_add_up_to_the_difference(client: FlaskClient, admin: str, run: dict) -> None:
    """Q2 against Q1 and 西区 against 东区: activity + factor + scope effects equal the difference."""
    q = _get(client, admin, "/api/v1/analysis/compare?a_year=2024&a_month_from=1&a_month_to=3"
                            "&b_year=2024&b_month_from=4&b_month_to=6")
    assert q["activity_effect"] + q["factor_effect"] + q["scope_effect"] == pytest.approx(q["difference"], abs=1e-6)
    assert q["scope_effect"] != 0  # months differ: matched by calendar month, Q1 and Q2 share none
    plant = _get(client, admin, "/api/v1/analysis/compare?a_year=2024&a_org_id=3&b_year=2024&b_org_id=4")
    total = plant["activity_effect"] + plant["factor_effect"] + plant["scope_effect"]
    assert total == pytest.approx(plant["total_new"] - plant["total_old"], abs=1e-6)


def test_comparison_of_two_runs_is_pure_factor_effect(client: FlaskClient, admin: str, run: dict, app: Flask) -> None:
    """The same data at two grid factors: the whole difference is the electricity factor effect."""
    with app.app_context():
        before = {x.id: x for x in db.session.scalars(select(ResultLine).where(ResultLine.run_id == run["id"]))}
        assert all(abs(x.activity * x.ef - x.tco2) <= 1e-6 * max(1, abs(x.tco2)) for x in before.values())
    body = {"year": 2024, "changes": [{"material": "电力", "category": "purchased_electricity", "ef": 0.6}]}
    response = client.post("/api/v1/analysis/whatif", json=body, headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    r = response.get_json()["result"]
    changed = r["changed_lines"]
    expected = {i for i, x in before.items() if x.material == "电力" and x.category == "purchased_electricity"}
    assert {c["id"] for c in changed} == expected and len(expected) == 12
    for c in changed:
        assert c["after"] == pytest.approx(before[c["id"]].activity * 0.6, abs=1e-6)
    assert r["difference"] == pytest.approx(1_200_000 * (0.6 - 0.5703), abs=1e-4)
    assert r["factor_effect"] == pytest.approx(r["difference"], abs=1e-6)
    assert r["activity_effect"] == pytest.approx(0, abs=1e-6) and r["scope_effect"] == 0
    # Nothing was written.
    with app.app_context():
        assert db.session.scalar(select(AccountingRun.id).order_by(AccountingRun.id.desc())) == run["id"]


def test_whatif_activity_change_is_activity_effect(client: FlaskClient, admin: str, run: dict) -> None:
    """Ten per cent more limestone in 东区 moves only the limestone lines, by ten per cent of their tCO2."""
    body = {"year": 2024, "changes": [{"material": "石灰石", "activity_scale": 1.1}]}
    r = client.post("/api/v1/analysis/whatif", json=body, headers={"Authorization": f"Bearer {admin}"}).get_json()
    r = r["result"]
    assert len(r["changed_lines"]) == 12 and {c["material"] for c in r["changed_lines"]} == {"石灰石"}
    assert r["difference"] == pytest.approx(263_120.0 * 0.1, abs=1e-4)
    assert r["activity_effect"] == pytest.approx(r["difference"], abs=1e-6)
    assert client.post("/api/v1/analysis/whatif", json={"year": 2024, "changes": [{"material": "x"}]},
                       headers={"Authorization": f"Bearer {admin}"}).status_code == 400


def test_pages_render_in_chinese_with_the_total(client: FlaskClient, run: dict) -> None:
    """The panorama shows the total and Chinese chart labels; the comparison page runs a comparison."""
    login(client, "consultant", "Demo-consultant-1")  # 报告顾问 of 华钢集团
    page = client.get("/analysis/?year=2024").get_data(as_text=True)
    assert "碳全景" in page and "5,163,239.00" in page and "echarts.min.js" in page
    assert json.dumps("按工序排放") in page  # the ECharts labels come translated from the server
    page = client.get("/analysis/compare?a_year=2024&a_month_from=1&a_month_to=6&b_year=2024&b_month_from=7"
                      "&b_month_to=12&run=1").get_data(as_text=True)
    assert "活动水平影响" in page
    assert client.get("/analysis/ledger?year=2024").status_code == 200
