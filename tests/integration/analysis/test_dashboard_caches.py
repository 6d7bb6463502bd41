"""The dashboard's per-process caches show a change at the next request: submissions waiting for
review (their own ``workflow_cache``, which leaves the permission cache alone), benchmark values and
new accounting runs (the permission cache's stamp)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.analysis.models import Benchmark
from orgcarbon.forms.models import FormDefinition, Submission
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from orgcarbon.security.permission_cache import WORKFLOW_TABLES, pending_changes
from tests.conftest import ADMIN_PASSWORD, api_token


def _org(name: str) -> int:
    return int(db.session.scalar(select(Organization.id).where(Organization.name == name)))


def _get(client: FlaskClient, token: str, url: str) -> dict:
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["result"]


def _reviews(client: FlaskClient, token: str) -> int:
    return int(_get(client, token, "/api/v1/analysis/panorama?year=2024")["open_reviews"]["count"])


def test_a_submitted_form_counts_at_the_next_request_and_keeps_the_permission_cache(app: Flask,
                                                                                     client: FlaskClient) -> None:
    token = api_token(client, "admin", ADMIN_PASSWORD)
    before = _reviews(client, token)
    assert _reviews(client, token) == before  # now answered from the workflow cache
    grants, workflow = app.extensions["permission_cache"], app.extensions["workflow_cache"]
    generations = (grants._generation, workflow._generation)
    with app.app_context():
        form = FormDefinition(code="test/dashboard-caches", name="测试表单", organization_id=_org("西区"))
        db.session.add(form)
        db.session.flush()
        draft = Submission(form_id=form.id, organization_id=form.organization_id, year=2024, period=1, status="draft")
        db.session.add(draft)
        db.session.commit()
        assert _reviews(client, token) == before  # a draft waits for nobody
        draft.status = "submitted"
        db.session.commit()
    assert _reviews(client, token) == before + 1
    assert grants._generation == generations[0]  # the users' entries were not thrown away
    assert workflow._generation == generations[1] + 2


def test_an_uncommitted_submission_counts_as_a_pending_workflow_change_only(app: Flask) -> None:
    with app.app_context():
        form = FormDefinition(code="test/pending", name="测试表单", organization_id=_org("西区"))
        db.session.add(form)
        db.session.commit()
        db.session.add(Submission(form_id=form.id, organization_id=form.organization_id, year=2024, period=2,
                                  status="submitted"))
        assert pending_changes(db.session, WORKFLOW_TABLES) is True
        assert pending_changes(db.session) is False  # nothing the permission cache holds
        db.session.flush()  # flushed, not committed: still pending
        assert pending_changes(db.session, WORKFLOW_TABLES) is True
        db.session.rollback()
        assert pending_changes(db.session, WORKFLOW_TABLES) is False


def test_a_new_benchmark_value_shows_in_the_next_intensity_answer(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        AccountOrganisation(db.session, _org("华钢集团"), 2024, electricity_ef=0.5703).run()
    token = api_token(client, "admin", ADMIN_PASSWORD)
    url = "/api/v1/analysis/intensity?year=2024"
    names = {b["name"] for b in _get(client, token, url)["benchmarks"]}
    assert names and "测试缓存对标值" not in names
    with app.app_context():
        db.session.add(Benchmark(name="测试缓存对标值", product="粗钢", value=1.25, unit="tCO2/t", scope="total",
                                 source="测试来源"))
        db.session.commit()
    after = {b["name"]: b for b in _get(client, token, url)["benchmarks"]}
    assert after["测试缓存对标值"]["value"] == 1.25
    assert set(after) == names | {"测试缓存对标值"}


def test_a_new_run_shows_in_the_next_panorama(app: Flask, client: FlaskClient) -> None:
    token = api_token(client, "admin", ADMIN_PASSWORD)
    url = "/api/v1/analysis/panorama?year=2024"
    empty = _get(client, token, url)
    assert empty["run_ids"] == [] and empty["totals"]["total"] == 0.0
    with app.app_context():
        run = AccountOrganisation(db.session, _org("华钢集团"), 2024, electricity_ef=0.5703).run()
        run_id = run.id
    shown = _get(client, token, url)
    assert shown["run_ids"] == [run_id]
    assert shown["totals"]["total"] > 0
