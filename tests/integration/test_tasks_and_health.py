"""Celery: in-process by default; a real worker on the real Redis when configured. /health."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from orgcarbon.platform.jobs import audit_summary
from tests.conftest import TEST_SECRETS, build_app, dispose
from tests.services import redis_url


def test_tasks_run_in_process_without_redis(app: Flask) -> None:
    celery = app.extensions["celery"]
    assert celery.conf.task_always_eager is True
    result = audit_summary.delay("ab_user").get(timeout=5)
    assert result["table"] == "ab_user"
    assert result["counts"]["insert"] == 8  # admin + seven demo users


def test_health_without_redis_is_ok(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["redis"] == {"configured": False, "ok": True}
    assert body["worker"]["mode"] == "in-process"


def test_health_reports_unreachable_redis_as_degraded(database_url: str, tmp_path: Path) -> None:
    app = build_app(database_url, tmp_path / "i", REDIS_URL="redis://127.0.0.1:1/0")
    try:
        body = app.test_client().get("/health").get_json()
        assert body["status"] == "degraded"
        assert body["redis"]["ok"] is False
    finally:
        dispose(app)


@pytest.fixture()
def worker(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real ``orgcarbon worker`` process on the real Redis, on a queue of its own."""
    url = redis_url()
    queue = f"oc-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "ORGCARBON_DATABASE_URL": database_url,
        "ORGCARBON_REDIS_URL": url,
        "ORGCARBON_INSTANCE_PATH": str(tmp_path / "worker"),
        "ORGCARBON_SECRET_KEY": TEST_SECRETS["SECRET_KEY"],
        "ORGCARBON_DATA_KEY": TEST_SECRETS["DATA_KEY"],
    }
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "orgcarbon.platform.cli", "worker", "-c", "1", "-Q", queue],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield url, queue
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.slow
def test_task_runs_on_a_real_worker_through_redis(worker: tuple[str, str], database_url: str, tmp_path: Path) -> None:
    url, queue = worker
    app = build_app(database_url, tmp_path / "web", REDIS_URL=url)
    try:
        celery = app.extensions["celery"]
        assert celery.conf.task_always_eager is False
        deadline = time.monotonic() + 60
        while not (celery.control.ping(timeout=0.5) or []) and time.monotonic() < deadline:
            time.sleep(0.5)
        result = audit_summary.apply_async(args=["ab_user"], queue=queue)
        value = result.get(timeout=60)
        assert value == {"table": "ab_user", "counts": {"insert": 8}}
        # The worker, not this process, ran it.
        assert result.backend.__class__.__name__ == "RedisBackend"
        for _ in range(5):  # a busy machine may miss one ping round
            body = app.test_client().get("/health").get_json()
            if body["worker"]["workers"]:
                break
        assert body["redis"]["ok"] is True
        assert body["worker"]["mode"] == "redis" and body["worker"]["workers"] >= 1
        assert body["status"] == "ok"
    finally:
        dispose(app)
        from orgcarbon.platform.tasks import celery_app, init_celery

        # Put the shared Celery app back to in-process mode for the tests that follow.
        init_celery(build_app("sqlite://", tmp_path / "reset"), celery_app)
