"""碳分析 in a real browser: panorama total, ledger → explain drill-down, a comparison; screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, build_app, dispose
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_login_flow import page_text_after

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_panorama_ledger_explain_and_comparison(database_url: str, live_server: str, browser: Any,
                                                tmp_path: Path) -> None:
    """The panorama shows the stored total (5,163,239.00 at EF 0.5703), charts render, drill-down and compare work."""
    from selenium.webdriver.common.by import By
    from sqlalchemy import text

    from orgcarbon.accounting.command import AccountOrganisation
    from orgcarbon.platform.extensions import db

    # The demo year accounted in the server's database (the server reads it on the next request).
    app = build_app(database_url, tmp_path / "setup-instance")
    with app.app_context():
        group = db.session.execute(text("select id from mm_organization where name = '华钢集团'")).scalar_one()
        AccountOrganisation(db.session, group, 2024, electricity_ef=0.5703).run()
    dispose(app)

    browser.get(live_server + "/login/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit],button[type=submit]").click()
    page_text_after(browser, "当前用户：admin")

    browser.get(live_server + "/analysis/?year=2024")
    body = page_text_after(browser, "碳全景")
    assert browser.find_element(By.ID, "total-tco2").text == "5,163,239.00"
    assert "按工序排放" in body or browser.find_elements(By.CSS_SELECTOR, "#chart-by_process canvas")
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-trend canvas"), "ECharts did not render"
    browser.save_screenshot(str(ARTIFACTS / "analysis-01-panorama.png"))

    browser.get(live_server + "/analysis/ledger?year=2024&material=焦炭&month=2024-03")
    page_text_after(browser, "碳账本")
    assert browser.find_element(By.ID, "ledger-count").text == "1"
    browser.save_screenshot(str(ARTIFACTS / "analysis-02-ledger.png"))
    browser.find_element(By.CSS_SELECTOR, "a.explain-link").click()
    explain = page_text_after(browser, "数字溯源")
    assert "焦炭" in explain and "活动数据记录" in explain  # down to the raw activity record
    browser.save_screenshot(str(ARTIFACTS / "analysis-03-explain.png"))

    browser.get(live_server + "/analysis/compare?a_year=2024&a_month_from=1&a_month_to=6"
                              "&b_year=2024&b_month_from=7&b_month_to=12")
    page_text_after(browser, "碳比对")
    browser.find_element(By.ID, "run-compare").click()
    result = page_text_after(browser, "活动水平影响")
    assert "排放因子影响" in result
    browser.save_screenshot(str(ARTIFACTS / "analysis-04-compare.png"))
