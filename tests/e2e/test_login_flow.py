"""A new user's first minutes, in a real browser: Chinese login, menu, audit log, logout."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def page_text_after(browser: Any, expected: str) -> str:
    """The page's text once ``expected`` appears (waits out the navigation a click starts)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(driver: Any) -> str | bool:
        try:
            text = driver.find_element(By.TAG_NAME, "body").text
        except Exception:  # stale while the next page loads
            return False
        return text if expected in text else False

    return str(WebDriverWait(browser, 15).until(ready))


def test_admin_logs_in_and_reads_the_audit_log_in_chinese(live_server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(live_server + "/")
    assert browser.title == "组织碳平台"
    assert "/login/" in browser.current_url
    browser.save_screenshot(str(ARTIFACTS / "01-login.png"))
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "用户名" in page and "密码" in page

    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit],button[type=submit]").click()
    body = page_text_after(browser, "当前用户：admin")
    assert "系统管理" in body and "安全" in body
    browser.save_screenshot(str(ARTIFACTS / "02-home.png"))

    browser.get(live_server + "/auditentryview/list/")
    browser.save_screenshot(str(ARTIFACTS / "03-audit-log.png"))
    table = page_text_after(browser, "数据变更日志")
    for header in ("发生时间", "用户", "IP 地址", "操作", "数据表"):
        assert header in table, header
    assert "ab_user" in table
    assert "admin" in table  # the login itself is attributed to the user, not "anonymous"

    browser.get(live_server + "/logout/")
    assert "/login/" in browser.current_url


def test_data_entry_user_gets_no_audit_menu_and_no_access(live_server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(live_server + "/login/")
    browser.find_element(By.NAME, "username").send_keys("filler")
    browser.find_element(By.NAME, "password").send_keys("Demo-filler-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit],button[type=submit]").click()
    body = page_text_after(browser, "当前用户：filler")
    assert "数据变更日志" not in body
    browser.get(live_server + "/auditentryview/list/")
    assert "ab_user" not in browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(ARTIFACTS / "04-filler-denied.png"))
