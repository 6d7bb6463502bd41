"""What ``GET /health`` reports: can we reach the database, Redis and a worker?"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import text


def _database(app: Flask) -> dict[str, Any]:
    from orgcarbon.platform.extensions import db

    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "dialect": db.engine.dialect.name}
    except Exception as exc:  # the point is to report, not to raise
        db.session.rollback()
        return {"ok": False, "error": type(exc).__name__}


def _redis(url: str | None) -> dict[str, Any]:
    if not url:
        return {"configured": False, "ok": True}
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
        return {"configured": True, "ok": True}
    except Exception as exc:
        return {"configured": True, "ok": False, "error": type(exc).__name__}


def _worker(app: Flask, redis_ok: bool) -> dict[str, Any]:
    celery = app.extensions["celery"]
    if celery.conf.task_always_eager:
        return {"mode": "in-process", "ok": True, "workers": 0}
    if not redis_ok:
        return {"mode": "redis", "ok": False, "workers": 0}
    try:
        replies = celery.control.ping(timeout=1.0) or []
    except Exception as exc:
        return {"mode": "redis", "ok": False, "workers": 0, "error": type(exc).__name__}
    return {"mode": "redis", "ok": bool(replies), "workers": len(replies)}


def health_report(app: Flask) -> dict[str, Any]:
    """Status of each dependency; ``status`` is ok, degraded (no worker) or error (no database)."""
    database = _database(app)
    redis_status = _redis(app.config.get("REDIS_URL"))
    worker = _worker(app, redis_status["ok"])
    if not database["ok"]:
        status = "error"
    elif not (redis_status["ok"] and worker["ok"]):
        status = "degraded"
    else:
        status = "ok"
    from orgcarbon import __version__

    return {"status": status, "version": __version__, "database": database, "redis": redis_status, "worker": worker}
