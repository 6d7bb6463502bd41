"""Starting an accounting run from the 核算运行记录 page, and ``orgcarbon demo --account``.

The page's form posts organisation, year, optional model and grid factor; the run is the same as the
API's and the CLI's (golden total), bad input is refused field by field in Chinese with nothing
written, and a user can only account the organisations they may write.
"""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from orgcarbon.accounting.models import AccountingRun
from orgcarbon.metamodel.models import Organization, UserOrganization
from orgcarbon.platform.extensions import db
from tests.conftest import login, run_cli

GOLDEN_TOTAL = 5_163_239.00  # the demo year with the golden case's grid factor


def _org(app: Flask, name: str) -> int:
    with app.app_context():
        return int(db.session.scalar(select(Organization.id).where(Organization.name == name)))


def _runs(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(AccountingRun.id))))


def _form(client: FlaskClient) -> tuple[str, str]:
    page = client.get("/results/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return page, token.group(1) if token else ""


def test_modeller_starts_a_run_from_the_page_and_gets_the_golden_total(app: Flask) -> None:
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    app.config["WTF_CSRF_ENABLED"] = True
    page, token = _form(client)
    assert "开始核算" in page and 'value="2024"' in page  # the demo data's year is offered
    group = _org(app, "华钢集团")
    response = client.post("/results/runs/start", data={
        "csrf_token": token, "organization_id": group, "year": "2024", "model_id": "", "electricity_ef": "0.5703"})
    assert response.status_code == 302
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        run = db.session.get(AccountingRun, run_id)
        assert run is not None and run.status == "done" and run.created_by_name == "modeller"
        assert abs(run.total_tco2 - GOLDEN_TOTAL) <= 0.05
    shown = client.get(f"/results/run/{run_id}").get_data(as_text=True)
    assert "5,163,239.00" in shown
    listing = client.get("/results/").get_data(as_text=True)
    assert "已完成" in listing or "完成" in listing


def test_bad_input_is_refused_by_field_and_writes_nothing(app: Flask) -> None:
    client = app.test_client()
    login(client, "modeller", "Demo-modeller-1")
    group, before = _org(app, "华钢集团"), _runs(app)
    cases = [
        ({"organization_id": group, "year": "二〇二四"}, "年份（year）：需要四位整数年份"),
        ({"organization_id": group, "year": "1800"}, "年份（year）：1800 不在 1990"),
        ({"organization_id": "", "year": "2024"}, "组织（organization_id）"),
        ({"organization_id": group, "year": "2024", "electricity_ef": "abc"}, "电网排放因子（electricity_ef）：应为数字"),
        ({"organization_id": group, "year": "2024", "model_id": "999999"}, "核算模型 999999 不存在"),
        ({"organization_id": 10**12, "year": "2024"}, "组织不存在或不在您的数据范围内"),
    ]
    for data, message in cases:
        response = client.post("/results/runs/start", data=data, follow_redirects=True)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True), (data, message)
    assert _runs(app) == before


def test_a_plant_user_cannot_account_another_plant_and_a_viewer_has_no_form(app: Flask) -> None:
    east, west = _org(app, "东区"), _org(app, "西区")
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.add_user("east_modeller", "东", "建模", "east@example.invalid", sm.find_role("建模管理员"),
                           password="East-modeller-1")
        db.session.add(UserOrganization(user_id=user.id, organization_id=east))
        db.session.commit()
    client = app.test_client()
    login(client, "east_modeller", "East-modeller-1")
    page, _ = _form(client)
    assert f'<option value="{east}">东区</option>' in page and f'value="{west}"' not in page
    before = _runs(app)
    refused = client.post("/results/runs/start", data={"organization_id": west, "year": "2024"}, follow_redirects=True)
    assert "组织不存在或不在您的数据范围内" in refused.get_data(as_text=True)
    assert _runs(app) == before

    viewer = app.test_client()
    login(viewer, "viewer", "Demo-viewer-1")
    assert "开始核算" not in _form(viewer)[0]
    response = viewer.post("/results/runs/start", data={"organization_id": east, "year": "2024"})
    assert response.status_code in (302, 403)
    assert _runs(app) == before


def test_demo_account_runs_the_demo_year_once(app: Flask) -> None:
    before = _runs(app)
    first = run_cli(app, ["demo", "--account", "2024"])
    assert first.exit_code == 0, first.output
    assert "已核算华钢集团 2024 年" in first.output
    again = run_cli(app, ["demo", "--account", "2024"])
    assert again.exit_code == 0 and "跳过" in again.output
    assert _runs(app) == before + 1
