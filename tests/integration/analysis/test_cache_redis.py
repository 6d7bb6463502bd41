"""The panorama aggregate on the real Redis: stored there, served from there, replaced when a new run is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from orgcarbon.accounting.command import AccountOrganisation
from orgcarbon.analysis.cache import TTL_SECONDS, RedisCache, database_namespace
from orgcarbon.metamodel.models import Organization
from orgcarbon.platform.extensions import db
from tests.conftest import ADMIN_PASSWORD, api_token, build_app, dispose
from tests.services import redis_url

pytestmark = pytest.mark.redis


@pytest.fixture()
def redis_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The application with ``REDIS_URL`` set (as ``ORGCARBON_REDIS_URL`` does), its cache namespace emptied."""
    app = build_app(database_url, tmp_path / "instance", REDIS_URL=redis_url())
    app.extensions["analysis_cache"].clear()
    yield app
    app.extensions["analysis_cache"].clear()
    dispose(app)


def _account(app: Flask, ef: float) -> tuple[int, float]:
    with app.app_context():
        group = db.session.scalar(select(Organization.id).where(Organization.name == "华钢集团"))
        run = AccountOrganisation(db.session, group, 2024, electricity_ef=ef).run()
        return run.id, run.total_tco2


def test_panorama_is_stored_in_redis_served_from_it_and_replaced_by_a_new_run(redis_app: Flask) -> None:
    import redis

    store = redis_app.extensions["analysis_cache"]
    assert isinstance(store, RedisCache)
    assert store.prefix == f"orgcarbon:analysis:{database_namespace(redis_app)}:"  # this database's own keys
    server = redis.Redis.from_url(redis_url())
    run_id, total = _account(redis_app, 0.5703)
    client = redis_app.test_client()
    headers = {"Authorization": f"Bearer {api_token(client, 'admin', ADMIN_PASSWORD)}"}

    def panorama() -> dict:
        response = client.get("/api/v1/analysis/panorama?year=2024", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["result"]

    first = panorama()
    assert first["run_ids"] == [run_id] and first["totals"]["total"] == pytest.approx(total, abs=1e-6)
    keys = server.keys(store.prefix + "panorama:*")
    assert len(keys) == 1
    stored = json.loads(server.get(keys[0]))
    assert stored["totals"] == first["totals"] and stored["run_ids"] == [run_id]
    assert 0 < server.ttl(keys[0]) <= TTL_SECONDS

    # Served from Redis: a value planted under the key is what the API answers (nothing is recomputed).
    stored["totals"]["total"] = 42.0
    server.set(keys[0], json.dumps(stored), keepttl=True)
    assert panorama()["totals"]["total"] == 42.0

    # A new run changes the key: the figures are the new run's at once, the planted value is never read again.
    new_id, new_total = _account(redis_app, 0.6)
    fresh = panorama()
    assert fresh["run_ids"] == [new_id]
    assert fresh["totals"]["total"] == pytest.approx(new_total, abs=1e-6)
    assert fresh["totals"]["total"] - total == pytest.approx((1_200_000 - 100_000) * (0.6 - 0.5703), abs=1e-3)
    keys_after = set(server.keys(store.prefix + "panorama:*"))
    assert len(keys_after) == 2 and keys[0] in keys_after  # the stale entry only waits for its TTL
    assert json.loads(server.get((keys_after - {keys[0]}).pop()))["run_ids"] == [new_id]
