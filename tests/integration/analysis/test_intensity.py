"""碳排放强度对比: intensity by plant, process, year and month against the stored run and the benchmarks;
open review items on the panorama; every chart's data as Excel."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import insert, select

from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.analysis.models import Benchmark
from orgcarbon.forms.models import FormDefinition, Submission
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from tests.conftest import ADMIN_PASSWORD, api_token, login

GOLDEN_TOTAL, GOLDEN_DIRECT, CRUDE_STEEL = 5_163_239.00, 4_568_909.00, 3_000_000.0
SCALE_2023 = 1.1  # the synthetic earlier year emits 10 % more from the same output


def _org(name: str) -> int:
    return int(db.session.scalar(select(Organization.id).where(Organization.name == name)))


@pytest.fixture()
def lines(app: Flask) -> list[dict]:
    """The demo year accounted at EF 0.5703, and a 2023 run made of the same lines with 10 % more tCO2."""
    with app.app_context():
        run = AccountOrganisation(db.session, _org("华钢集团"), 2024, electricity_ef=0.5703).run()
        stored = [dict(r._mapping) for r in db.session.execute(
            select(ResultLine.__table__).where(ResultLine.run_id == run.id))]
        earlier = AccountingRun(organization_id=run.organization_id, year=2023, model_id=run.model_id,
                                model_version=run.model_version, status="done")
        db.session.add(earlier)
        db.session.flush()
        copies = [{**{k: v for k, v in line.items() if k != "id"}, "run_id": earlier.id,
                   "month": "2023" + line["month"][4:], "tco2": line["tco2"] * SCALE_2023,
                   "net_tco2": line["net_tco2"] * SCALE_2023} for line in stored]
        db.session.execute(insert(ResultLine), copies)
        db.session.commit()
        return stored


def _get(client: FlaskClient, token: str, url: str) -> dict:
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["result"]


@pytest.fixture()
def admin(client: FlaskClient) -> str:
    return api_token(client, "admin", ADMIN_PASSWORD)


def _total(lines: list[dict], scope: str | None = None) -> float:
    return sum(x["net_tco2"] for x in lines if scope is None or x["scope"] == scope)


def _names(row: dict) -> dict[str, dict]:
    return {b["name"]: b for b in row["benchmarks"]}


def test_enterprise_plant_and_year_intensity_equal_the_stored_lines(
        client: FlaskClient, admin: str, lines: list[dict], app: Flask) -> None:
    """Per t crude steel: the enterprise as the engine computes it, each plant, each year; gaps to the benchmarks."""
    data = _get(client, admin, "/api/v1/analysis/intensity?year=2024")
    total, direct = _total(lines), _total(lines, "direct")
    assert total == pytest.approx(GOLDEN_TOTAL, abs=0.01) and direct == pytest.approx(GOLDEN_DIRECT, abs=0.01)
    e = data["enterprise"]
    assert e["quantity_t"] == pytest.approx(CRUDE_STEEL)
    assert e["total_per_t"] == pytest.approx(total / CRUDE_STEEL, abs=1e-9)
    assert e["direct_per_t"] == pytest.approx(direct / CRUDE_STEEL, abs=1e-9)
    assert round(e["total_per_t"], 4) == 1.7211  # as methodology.md gives the golden case
    target, cbam = _names(e)["集团吨钢排放强度目标（示例）"], _names(e)["欧盟 CBAM 高炉-转炉路线基准（直接排放，参考）"]
    assert target["gap"] == pytest.approx(total / CRUDE_STEEL - 1.8, abs=1e-9)
    assert target["gap_pct"] == pytest.approx((total / CRUDE_STEEL - 1.8) / 1.8 * 100, abs=1e-9)
    assert cbam["gap"] == pytest.approx(direct / CRUDE_STEEL - 1.37, abs=1e-9)  # direct against direct
    with app.app_context():
        east = _org("东区")
    plants = {r["name"]: r for r in data["by_plant"]}
    east_total = sum(x["net_tco2"] for x in lines if x["organization_id"] == east)
    assert plants["东区"]["total_per_t"] == pytest.approx(east_total / CRUDE_STEEL, abs=1e-9)
    assert plants["西区"]["quantity_t"] == 0 and plants["西区"]["total_per_t"] is None  # no crude steel there
    assert plants["西区"]["benchmarks"][0]["gap"] is None
    years = {r["year"]: r for r in data["by_year"]}
    assert sorted(years) == [2023, 2024]
    assert years[2023]["total_per_t"] == pytest.approx(SCALE_2023 * total / CRUDE_STEEL, abs=1e-9)
    assert years[2024]["total_per_t"] == pytest.approx(e["total_per_t"], abs=1e-12)
    march = next(r for r in data["trend"] if r["month"] == "2024-03")
    march_lines = [x for x in lines if x["month"] == "2024-03"]
    march_crude = sum(x["activity"] for x in march_lines if x["category"] == "fixed_carbon_product"
                      and x["material"] == "粗钢")
    assert march["value"] == pytest.approx(sum(x["net_tco2"] for x in march_lines) / march_crude, abs=1e-9)
    assert march["last_year"] == pytest.approx(SCALE_2023 * march["value"], abs=1e-9)
    assert len(data["trend"]) == 12 and data["run_ids"] == [lines[0]["run_id"]]


def test_process_intensity_uses_the_process_own_product_lines(
        client: FlaskClient, admin: str, lines: list[dict], app: Flask) -> None:
    """炼铁 per t of its 生铁 lines, 连铸 per t of its 粗钢 lines; a process without product lines has none."""
    data = _get(client, admin, "/api/v1/analysis/intensity?year=2024")
    rows = {r["process"]: r for r in data["by_process"]}
    with app.app_context():
        iron = db.session.scalar(select(ResultLine.process_id).where(
            ResultLine.material == "生铁", ResultLine.category == "fixed_carbon_product").limit(1))
    iron_total = sum(x["net_tco2"] for x in lines if x["process_id"] == iron)
    assert rows["炼铁"]["product"] == "生铁" and rows["炼铁"]["quantity_t"] == pytest.approx(50_000)
    assert rows["炼铁"]["total_per_t"] == pytest.approx(iron_total / 50_000, abs=1e-9)
    assert rows["连铸"]["product"] == "粗钢" and rows["连铸"]["total_per_t"] == pytest.approx(-0.0154, abs=1e-12)
    assert rows["焦化"]["product"] is None and rows["焦化"]["total_per_t"] is None
    bench = _names(rows["炼铁"])["炼铁工序强度（示例）"]
    assert bench["gap"] == pytest.approx(iron_total / 50_000 - 1.5, abs=1e-9)
    assert rows["连铸"]["benchmarks"] == []  # no benchmark for 连铸 / 粗钢


def test_benchmarks_apply_by_organisation_year_and_scope(
        client: FlaskClient, admin: str, lines: list[dict], app: Flask) -> None:
    """A 西区 row applies to 西区 only; a 2023 row to 2023 only; 西区's filler does not see 华钢集团's rows."""
    with app.app_context():
        db.session.add_all([
            Benchmark(name="西区专用", organization_id=_org("西区"), product="粗钢", value=1.0, unit="tCO2/t",
                      scope="total", source="测试"),
            Benchmark(name="2023 年专用", product="粗钢", value=1.9, unit="tCO2/t", scope="total", year=2023,
                      source="测试"),
        ])
        db.session.commit()
    data = _get(client, admin, "/api/v1/analysis/intensity?year=2024")
    assert "西区专用" not in _names(data["enterprise"]) and "2023 年专用" not in _names(data["enterprise"])
    plants = {r["name"]: r for r in data["by_plant"]}
    assert "西区专用" in _names(plants["西区"]) and "西区专用" not in _names(plants["东区"])
    years = {r["year"]: r for r in data["by_year"]}
    assert _names(years[2023])["2023 年专用"]["gap"] == pytest.approx(
        SCALE_2023 * _total(lines) / CRUDE_STEEL - 1.9, abs=1e-9)
    assert "2023 年专用" not in _names(years[2024])
    filler = api_token(client, "filler", "Demo-filler-1")
    mine = _get(client, filler, "/api/v1/analysis/intensity?year=2024")
    assert {b["name"] for b in mine["benchmarks"]} == {"欧盟 CBAM 高炉-转炉路线基准（直接排放，参考）", "西区专用"}
    assert [r["name"] for r in mine["by_plant"]] == ["西区"] and mine["enterprise"]["total_per_t"] is None


def test_every_intensity_chart_downloads_as_excel(client: FlaskClient, admin: str, lines: list[dict]) -> None:
    """Each chart's sheet holds the figures the API returns."""
    data = _get(client, admin, "/api/v1/analysis/intensity?year=2024")
    for chart, size in (("by_plant", len(data["by_plant"])), ("by_process", len(data["by_process"])),
                        ("by_year", 2), ("trend", 12)):
        response = client.get(f"/api/v1/analysis/intensity/{chart}.xlsx?year=2024",
                              headers={"Authorization": f"Bearer {admin}"})
        assert response.status_code == 200, chart
        rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
        assert len(rows) == size + 1, chart
    by_year = list(load_workbook(io.BytesIO(client.get(
        "/api/v1/analysis/intensity/by_year.xlsx?year=2024", headers={"Authorization": f"Bearer {admin}"}).data
    )).active.iter_rows(values_only=True))
    assert by_year[2][0] == 2024 and by_year[2][3] == pytest.approx(_total(lines) / CRUDE_STEEL, abs=1e-12)
    assert by_year[2][5] == pytest.approx(1.8)  # the first total benchmark beside it
    assert client.get("/api/v1/analysis/intensity/nope.xlsx?year=2024",
                      headers={"Authorization": f"Bearer {admin}"}).status_code == 404


def test_every_panorama_chart_downloads_as_excel(client: FlaskClient, admin: str, lines: list[dict]) -> None:
    """Each of the panorama's charts (and the sub-process table) has a sheet with one row per data point."""
    data = _get(client, admin, "/api/v1/analysis/panorama?year=2024")
    for chart in ("trend", "by_category", "by_process", "by_subprocess", "by_organization", "top_sources",
                  "intensity_trend"):
        response = client.get(f"/api/v1/analysis/panorama/{chart}.xlsx?year=2024",
                              headers={"Authorization": f"Bearer {admin}"})
        assert response.status_code == 200, chart
        rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
        assert len(rows) == len(data[chart]) + 1, chart
    trend = list(load_workbook(io.BytesIO(client.get(
        "/api/v1/analysis/panorama/trend.xlsx?year=2024", headers={"Authorization": f"Bearer {admin}"}).data
    )).active.iter_rows(values_only=True))
    assert trend[3][0] == "2024-03" and trend[3][1] == pytest.approx(
        sum(x["net_tco2"] for x in lines if x["month"] == "2024-03"), abs=1e-6)
    assert trend[3][2] == pytest.approx(SCALE_2023 * trend[3][1], abs=1e-6)  # the 2023 run, same month


def test_comparison_chart_downloads_as_excel(client: FlaskClient, admin: str, lines: list[dict], app: Flask) -> None:
    """The driver chart's Excel: both totals and the three effects, which add up to the difference."""
    with app.app_context():
        east, west = _org("东区"), _org("西区")
    response = client.get(f"/api/v1/analysis/compare.xlsx?a_year=2024&a_org_id={east}&b_year=2024&b_org_id={west}",
                          headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200
    values = dict(list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))[1:])
    assert values["基准总量"] == pytest.approx(sum(x["net_tco2"] for x in lines if x["organization_id"] == east))
    assert values["比较对象总量"] == pytest.approx(sum(x["net_tco2"] for x in lines if x["organization_id"] == west))
    effects = values["活动水平影响"] + values["排放因子影响"] + values["范围影响"]
    assert effects == pytest.approx(values["差额"], abs=1e-6)
    assert values["差额"] == pytest.approx(values["比较对象总量"] - values["基准总量"], abs=1e-6)


def test_panorama_counts_open_review_items_in_scope(client: FlaskClient, admin: str, lines: list[dict],
                                                    app: Flask) -> None:
    """Submitted and reviewed submissions count, drafts and approved ones do not; each user sees their subtree's."""
    def count(token: str) -> int:
        return _get(client, token, "/api/v1/analysis/panorama?year=2024")["open_reviews"]["count"]

    def db_count(orgs: list[int] | None = None) -> int:
        query = select(Submission.id).where(Submission.status.in_(("submitted", "reviewed")))
        if orgs is not None:
            query = query.where(Submission.organization_id.in_(orgs))
        return len(db.session.scalars(query).all())

    filler = api_token(client, "filler", "Demo-filler-1")
    with app.app_context():
        east, west = _org("东区"), _org("西区")
        before_all, before_west = db_count(), db_count([west])
        form = FormDefinition(code="test/analysis-open-reviews", name="测试表单", organization_id=west)
        db.session.add(form)
        db.session.flush()
        for period, (org, status) in enumerate([(west, "submitted"), (west, "reviewed"), (east, "submitted"),
                                                (west, "draft"), (west, "approved"), (west, "superseded")], 1):
            db.session.add(Submission(form_id=form.id, organization_id=org, year=2024, period=period, status=status))
        db.session.commit()
        assert db_count() == before_all + 3
    assert count(admin) == before_all + 3
    assert count(filler) == before_west + 2
    with app.app_context():
        assert count(filler) == db_count([west])
    login(client, "admin", ADMIN_PASSWORD)
    page = client.get("/analysis/?year=2024").get_data(as_text=True)
    assert f'<a id="open-reviews" href="/forms/review">{before_all + 3}</a>' in page
