"""数据填报 and 碳数据审核 in a real browser: fill with evidence, reject, correct, review, approve, close, account.

Four people: ``filler`` (西区) fills a monthly form, sees a field error as soon as she leaves the
field, attaches a lab report and submits; ``reviewer`` rejects with a reason; ``filler`` sees the
reason, corrects and resubmits; ``reviewer`` reviews and ``approver`` approves; ``reviewer``
closes the month on 期间管理; an accounting run of 西区's year then shows the approved quantity in
its result lines. Screenshots go to ``tests/artifacts/forms-*.png``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import build_app, dispose
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_login_flow import page_text_after

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

YEAR, MONTH = 2024, 3
REASON = "天然气用量与燃气计量单不符，请核对"
CORRECTED = "255.5"


def sign_in(browser: Any, server: str, name: str) -> None:
    """Log out whoever is signed in and log in as ``name`` with the demo password."""
    from selenium.webdriver.common.by import By

    browser.get(server + "/logout/")
    browser.get(server + "/login/")
    browser.find_element(By.NAME, "username").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(f"Demo-{name}-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit],button[type=submit]").click()
    page_text_after(browser, f"当前用户：{name}")


def wait_for(browser: Any, condition: Any) -> Any:
    """Wait until ``condition(browser)``; elements of the page being left may go stale meanwhile."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(browser, 15, ignored_exceptions=ignored).until(condition)


def shot(browser: Any, name: str) -> None:
    browser.save_screenshot(str(ARTIFACTS / f"forms-{name}.png"))


def api_json(server: str, path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(server + path, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{path}: {exc.code} {exc.read().decode(errors='replace')}") from None


def sub_records(session: Any, submission_id: int) -> list[Any]:
    """Activity rows an approved submission wrote."""
    from sqlalchemy import select

    from orgcarbon.metamodel.models import ActivityRecord

    return list(session.execute(select(ActivityRecord).where(ActivityRecord.submission_id == submission_id)).scalars())


def gas_binding(submission: Any) -> int:
    return next(f.binding_id for f in submission.form.fields if f.parameter == "quantity" and "天然气" in f.label)


def test_fill_reject_correct_review_approve_close_and_account(database_url: str, live_server: str, browser: Any,
                                                               tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from sqlalchemy import select

    from orgcarbon.accounting.models import ResultLine
    from orgcarbon.forms.models import Submission
    from orgcarbon.metamodel.models import ActivityRecord
    from orgcarbon.platform.extensions import db
    from tests.integration.forms.workflow_helpers import west_form

    # The form an administrator would configure: 西区's monthly consumption, a file required to submit.
    app = build_app(database_url, tmp_path / "setup-instance")
    with app.app_context():
        form = west_form(db.session, code="e2e-west-monthly", evidence_required=True)
        db.session.commit()
        form_id, west_id = form.id, form.organization_id
        quantities = [(f.id, f.label) for f in form.fields if f.parameter == "quantity"]
        gas_id, gas_label = next((i, label) for i, label in quantities if "天然气" in label)
    dispose(app)
    report = tmp_path / "化验单-2024-03.pdf"
    report.write_bytes("%PDF-1.4 天然气低位发热量化验单 2024-03".encode())

    # filler: 我的填报 → the March form; a negative quantity is refused as soon as she leaves the field.
    sign_in(browser, live_server, "filler")
    browser.get(f"{live_server}/forms/?year={YEAR}")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-form="{form_id}"][data-period="{MONTH}"]')
    assert "未填报" in row.text and row.find_elements(By.CSS_SELECTOR, ".overdue")
    shot(browser, "01-due")
    row.find_element(By.CSS_SELECTOR, "a.fill-link").click()
    page_text_after(browser, gas_label)
    gas = browser.find_element(By.ID, f"f{gas_id}")
    gas.send_keys("-5")
    browser.find_element(By.ID, "comment").click()  # leave the field
    wait_for(browser, lambda b: b.find_element(By.ID, f"err-{gas_id}").text == "不能为负数（-5）")
    assert "has-error" in browser.find_element(By.ID, f"group-{gas_id}").get_attribute("class")
    shot(browser, "02-field-error")
    for field_id, _label in quantities:
        box = browser.find_element(By.ID, f"f{field_id}")
        box.clear()
        box.send_keys("260")
    browser.find_element(By.ID, "comment").click()
    wait_for(browser, lambda b: b.find_element(By.ID, f"err-{gas_id}").text == "")
    browser.find_element(By.ID, "evidence").send_keys(str(report))
    browser.find_element(By.ID, "submit-form").click()
    page_text_after(browser, "已提交")
    assert "/forms/submission/" in browser.current_url
    sub_id = int(browser.current_url.rstrip("/").rsplit("/", 1)[-1])
    assert "化验单-2024-03.pdf" in browser.find_element(By.ID, "evidence-list").text
    shot(browser, "03-submitted")

    # reviewer: the queue → the submission → 驳回 with a reason.
    sign_in(browser, live_server, "reviewer")
    browser.get(f"{live_server}/forms/review")
    browser.find_element(By.CSS_SELECTOR, f'tr[data-submission="{sub_id}"] a.open-link').click()
    wait_for(browser, lambda b: b.current_url.endswith(f"/forms/submission/{sub_id}"))
    page_text_after(browser, "260")
    browser.find_element(By.ID, "decision-comment").send_keys(REASON)
    shot(browser, "04-review")
    browser.find_element(By.ID, "do-reject").click()
    wait_for(browser, lambda b: b.current_url.endswith("/forms/review"))
    assert not browser.find_elements(By.CSS_SELECTOR, f'tr[data-submission="{sub_id}"]')

    # filler: the reason is on 我的填报 and on the form; she corrects the gas and resubmits.
    sign_in(browser, live_server, "filler")
    browser.get(f"{live_server}/forms/?year={YEAR}")
    assert REASON in browser.find_element(By.CSS_SELECTOR, f'tr[data-form="{form_id}"][data-period="{MONTH}"]').text
    browser.get(f"{live_server}/forms/fill/{form_id}/{YEAR}/{MONTH}")
    assert REASON in browser.find_element(By.ID, "rejection-reason").text
    gas = browser.find_element(By.ID, f"f{gas_id}")
    gas.clear()
    gas.send_keys(CORRECTED)
    shot(browser, "05-rejected-draft")
    browser.find_element(By.ID, "submit-form").click()
    page_text_after(browser, "已提交")

    # reviewer reviews, approver approves.
    sign_in(browser, live_server, "reviewer")
    browser.get(f"{live_server}/forms/submission/{sub_id}")
    browser.find_element(By.ID, "do-review").click()
    wait_for(browser, lambda b: b.current_url.endswith("/forms/review"))
    sign_in(browser, live_server, "approver")
    browser.get(f"{live_server}/forms/review")
    assert "已审核" in browser.find_element(By.CSS_SELECTOR, f'tr[data-submission="{sub_id}"]').text
    shot(browser, "06-queue")
    browser.find_element(By.CSS_SELECTOR, f'tr[data-submission="{sub_id}"] a.open-link').click()
    page_text_after(browser, CORRECTED)
    browser.find_element(By.ID, "do-approve").click()
    wait_for(browser, lambda b: b.current_url.endswith("/forms/review"))
    browser.get(f"{live_server}/forms/submission/{sub_id}")
    history = page_text_after(browser, "已批准")
    for label in ("提交", "驳回", "审核通过", "批准"):
        assert label in browser.find_element(By.ID, "history").text, label
    assert REASON in history
    shot(browser, "07-approved")

    # filler: approved data is read-only; a change would be a new version with a reason.
    sign_in(browser, live_server, "filler")
    browser.get(f"{live_server}/forms/fill/{form_id}/{YEAR}/{MONTH}")
    page_text_after(browser, "已批准")
    assert not browser.find_elements(By.ID, f"f{gas_id}") and browser.find_elements(By.ID, "revise")
    shot(browser, "08-approved-read-only")

    # reviewer closes March for 西区 on 期间管理.
    sign_in(browser, live_server, "reviewer")
    browser.get(f"{live_server}/forms/periods?year={YEAR}")
    browser.find_element(By.ID, f"cell-{west_id}-{MONTH}").click()
    browser.find_element(By.ID, "period-text").send_keys("三月数据已审核批准")
    browser.find_element(By.ID, "close-period").click()
    wait_for(browser, lambda b: b.find_element(By.ID, f"cell-{west_id}-{MONTH}").get_attribute("data-state")
             == "closed")
    assert browser.find_element(By.ID, f"cell-{west_id}-{MONTH + 1}").get_attribute("data-state") == "open"
    shot(browser, "09-period-closed")

    # An accounting run of 西区's year (the modeller's right) uses the approved quantity.
    login = api_json(live_server, "/api/v1/security/login",
                     {"username": "modeller", "password": "Demo-modeller-1", "provider": "db", "refresh": False})
    run = api_json(live_server, "/api/v1/results/runs", {"organization_id": west_id, "year": YEAR},
                   login["access_token"])["result"]
    app = build_app(database_url, tmp_path / "check-instance")
    with app.app_context():
        sub = db.session.get(Submission, sub_id)
        assert sub.status == "approved" and sub.version == 1
        approved = {r.binding_id: r for r in sub_records(db.session, sub_id)}
        assert approved[gas_binding(sub)].quantity == pytest.approx(float(CORRECTED))
        lines = {(line.binding_id, line.month): line for line in db.session.execute(
            select(ResultLine).where(ResultLine.run_id == run["id"])).scalars()}
        march, february = f"{YEAR}-{MONTH:02d}", f"{YEAR}-{MONTH - 1:02d}"
        for binding_id, record in approved.items():
            line, before = lines[(binding_id, march)], lines[(binding_id, february)]
            assert record.id in line.record_ids  # the line's lineage names the approved row
            # Demo months hold the same quantity; March's figure moves by the approved quantity's ratio.
            demo_quantity = db.session.get(ActivityRecord, before.record_ids[0]).quantity
            assert line.activity / before.activity == pytest.approx(record.quantity / demo_quantity)
        gas_line_id = lines[(gas_binding(sub), march)].id
    dispose(app)
    sign_in(browser, live_server, "modeller")
    browser.get(f"{live_server}/results/run/{run['id']}")
    page_text_after(browser, f"{YEAR}-{MONTH:02d}")
    browser.get(f"{live_server}/results/line/{gas_line_id}/explain")
    explain = page_text_after(browser, "天然气")
    assert CORRECTED in explain  # down to the approved activity row
    shot(browser, "10-accounting")
