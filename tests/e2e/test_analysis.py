"""碳分析 in a real browser: the panorama's figures are the stored run's, a total drills down through the
ledger and its explanation to the raw activity record, intensity and a comparison run; screenshots
of every step go to ``tests/artifacts/`` for a reviewer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, build_app, dispose
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_login_flow import page_text_after

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Rectangles of each chart's title and legend as drawn (ECharts' component views, in pixels).
CHART_BOXES_JS = """
var out = [];
document.querySelectorAll('.analysis-chart').forEach(function (el) {
  var chart = echarts.getInstanceByDom(el);
  if (!chart) { return; }
  var boxes = {};
  ['title', 'legend', 'toolbox'].forEach(function (kind) {
    var model = chart.getModel().getComponent(kind);
    if (!model) { return; }
    var group = chart.getViewOfComponentModel(model).group;
    var r = group.getBoundingRect().clone();
    r.applyTransform(group.getLocalTransform());
    boxes[kind] = [r.x, r.y, r.width, r.height];
  });
  var option = chart.getOption();
  out.push({id: el.id, width: el.clientWidth, boxes: boxes,
            png_name: option.toolbox[0].feature.saveAsImage.name,
            png_button: option.toolbox[0].feature.saveAsImage.title});
});
return out;
"""


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _check_charts(browser: Any, expected: int) -> list[dict[str, Any]]:
    """Every chart has a Chinese PNG button, a PNG named after its Chinese title, and a title that
    overlaps neither the legend nor the toolbox."""
    charts = browser.execute_script(CHART_BOXES_JS)
    assert len(charts) == expected, charts
    for chart in charts:
        boxes = chart["boxes"]
        assert chart["png_button"] == "保存为图片"
        assert re.search(r"[\u4e00-\u9fff]", chart["png_name"]), chart
        assert 400 < chart["width"] <= 700, chart  # at most half of a 1366-pixel page, or 700 px
        for other in ("legend", "toolbox"):
            if other in boxes:
                assert not _overlap(boxes["title"], boxes[other]), (chart["id"], other, boxes)
    return charts


def _stored(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Account the demo year in the server's database; the figures the pages must show."""
    from sqlalchemy import func, select, text

    from orgcarbon.accounting.command import AccountOrganisation
    from orgcarbon.accounting.models import ResultLine
    from orgcarbon.forms.models import Submission
    from orgcarbon.platform.extensions import db

    app = build_app(database_url, tmp_path / "setup-instance")
    with app.app_context():
        group = db.session.execute(text("select id from mm_organization where name = '华钢集团'")).scalar_one()
        run = AccountOrganisation(db.session, group, 2024, electricity_ef=0.5703).run()
        lines = db.session.scalars(select(ResultLine).where(ResultLine.run_id == run.id)).all()
        figures = {
            "total": run.total_tco2, "direct": run.direct_tco2, "indirect": run.indirect_tco2,
            "lines": run.line_count,
            "crude": sum(x.activity for x in lines if x.category == "fixed_carbon_product" and x.material == "粗钢"),
            "plants": {name: (org_id, sum(x.net_tco2 for x in lines if x.organization_id == org_id))
                       for name, org_id in db.session.execute(text(
                           "select name, id from mm_organization where name in ('东区', '西区')"))},
            "coke_march": next(x for x in lines if x.material == "焦炭" and x.month == "2024-03"),
            "open_reviews": db.session.scalar(select(func.count()).select_from(Submission).where(
                Submission.status.in_(("submitted", "reviewed")))),
        }
        coke = figures["coke_march"]
        figures["coke_march"] = {"id": coke.id, "net": coke.net_tco2, "record_id": coke.record_ids[0],
                                 "quantity": coke.inputs["quantity"]}
    dispose(app)
    return figures


def test_panorama_drill_down_intensity_and_comparison(database_url: str, live_server: str, browser: Any,
                                                     tmp_path: Path) -> None:
    """Pages show the stored run's figures (5,163,239.00 at EF 0.5703); a total drills to its raw record."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    stored = _stored(database_url, tmp_path)
    assert round(stored["total"], 2) == 5_163_239.00  # the golden case, as the accounting issue fixed it

    browser.get(live_server + "/login/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit],button[type=submit]").click()
    page_text_after(browser, "当前用户：admin")

    # 碳全景: every figure is the stored run's.
    browser.get(live_server + "/analysis/?year=2024")
    page_text_after(browser, "碳全景")
    text_of = lambda element_id: browser.find_element(By.ID, element_id).text  # noqa: E731
    assert text_of("total-tco2") == f"{stored['total']:,.2f}"
    assert text_of("direct-tco2") == f"{stored['direct']:,.2f}"
    assert text_of("indirect-tco2") == f"{stored['indirect']:,.2f}"
    assert text_of("intensity").startswith(f"{stored['total'] / stored['crude']:.4f}")
    assert text_of("completeness").startswith("24 / 24")
    reviews = browser.find_element(By.ID, "open-reviews")
    assert reviews.text == str(stored["open_reviews"]) and reviews.get_attribute("href").endswith("/forms/review")
    _check_charts(browser, 6)
    browser.save_screenshot(str(ARTIFACTS / "analysis-01-panorama.png"))
    browser.execute_script("window.scrollTo(0, 560)")
    browser.save_screenshot(str(ARTIFACTS / "analysis-02-panorama-charts.png"))

    # Drill down: the total opens the ledger of exactly those lines …
    browser.execute_script("window.scrollTo(0, 0)")
    browser.find_element(By.ID, "total-tco2").click()
    page_text_after(browser, "碳账本")
    assert text_of("ledger-count") == str(stored["lines"])
    assert text_of("ledger-total") == f"{stored['total']:,.2f}"
    browser.get(live_server + "/analysis/ledger?year=2024&material=焦炭&month=2024-03")
    page_text_after(browser, "碳账本")
    assert text_of("ledger-count") == "1"
    link = browser.find_element(By.CSS_SELECTOR, "a.explain-link")
    assert link.text == f"{stored['coke_march']['net']:,.2f}"
    browser.save_screenshot(str(ARTIFACTS / "analysis-03-ledger.png"))
    # … the figure opens its explanation …
    link.click()
    explain = page_text_after(browser, "数字溯源")
    record_id = stored["coke_march"]["record_id"]
    assert f"#{stored['coke_march']['id']}" in explain
    assert re.search(rf"mm_activity\D{{1,4}}{record_id}\b", explain), explain  # "mm_activity #15"
    browser.save_screenshot(str(ARTIFACTS / "analysis-04-explain.png"))
    # … which names the raw activity record, and the record holds the quantity the figure used.
    browser.get(f"{live_server}/activityrecordview/show/{record_id}")
    record = page_text_after(browser, "焦炭")
    assert f"{stored['coke_march']['quantity']:.4f}"[:8] in record.replace(",", "")
    browser.save_screenshot(str(ARTIFACTS / "analysis-05-record.png"))

    # Intensity against the benchmarks.
    browser.get(live_server + "/analysis/intensity?year=2024")
    assert text_of("enterprise-total-per-t") == f"{stored['total'] / stored['crude']:.4f}"
    assert "集团吨钢排放强度目标（示例）" in text_of("enterprise-intensity")
    _check_charts(browser, 4)
    browser.save_screenshot(str(ARTIFACTS / "analysis-06-intensity.png"))
    browser.execute_script("window.scrollTo(0, 330)")
    browser.save_screenshot(str(ARTIFACTS / "analysis-07-intensity-charts.png"))
    browser.execute_script("document.getElementById('process-intensity').scrollIntoView(false)")
    browser.save_screenshot(str(ARTIFACTS / "analysis-07b-intensity-processes.png"))

    # 碳比对: plant against plant (东区 the baseline, 西区 compared), through the form.
    (east, east_total), (west, west_total) = stored["plants"]["东区"], stored["plants"]["西区"]
    browser.get(live_server + "/analysis/compare")
    page_text_after(browser, "碳比对")
    for prefix, org_id in (("a_", east), ("b_", west)):
        Select(browser.find_element(By.NAME, prefix + "org_id")).select_by_value(str(org_id))
        browser.find_element(By.NAME, prefix + "year").clear()
        browser.find_element(By.NAME, prefix + "year").send_keys("2024")
    browser.find_element(By.ID, "run-compare").click()
    result = page_text_after(browser, "活动水平影响")
    assert "排放因子影响" in result
    cells = browser.execute_script(  # the effects table: one header cell and one figure per row
        "var out = {}; document.querySelectorAll('table tr').forEach(function (tr) {"
        " var th = tr.querySelector('th'), td = tr.querySelector('td');"
        " if (th && td) { out[th.innerText.trim()] = td.innerText.trim(); } }); return out;")
    assert cells["基准总量"] == f"{east_total:,.2f}" and cells["比较对象总量"] == f"{west_total:,.2f}"
    assert text_of("difference") == f"{west_total - east_total:,.2f}"
    assert abs(west_total - east_total) > 1e6  # a real difference, split by driver below
    _check_charts(browser, 1)
    browser.save_screenshot(str(ARTIFACTS / "analysis-08-compare.png"))

    browser.get(live_server + "/benchmarkview/list/")
    assert "示例对标值（虚构，仅用于演示）" in page_text_after(browser, "1.37")
    browser.save_screenshot(str(ARTIFACTS / "analysis-09-benchmarks.png"))
