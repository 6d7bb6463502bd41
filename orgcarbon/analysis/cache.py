"""A tiny aggregate cache: Redis when ``REDIS_URL`` is configured, else a bounded in-process dict.

Keys name the accounting runs the value was computed from, so a new run (or a restatement that
supersedes one) changes the key and old entries simply stop being asked for; the TTL and the size
bound only reclaim memory. Flask-Caching is not a dependency, and two backends need no more.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

log = logging.getLogger(__name__)

TTL_SECONDS = 600
MAX_ENTRIES = 2048
PREFIX = "orgcarbon:analysis:"


class MemoryCache:
    """Least-recently-used dict with a time-to-live; safe across request threads."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._data: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: str) -> str | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or hit[0] < time.monotonic():
                self._data.pop(key, None)
                return None
            self._data.move_to_end(key)
            return hit[1]

    def set(self, key: str, value: str, ttl: int) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class RedisCache:
    """The same interface over Redis; a Redis outage degrades to computing every time.

    Keys start with ``PREFIX`` and a ``namespace`` naming the database: run ids restart at 1 in
    every database, so two installations (or two test databases) sharing one Redis would
    otherwise read each other's figures.
    """

    def __init__(self, url: str, namespace: str = "") -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = f"{PREFIX}{namespace}:" if namespace else PREFIX

    def get(self, key: str) -> str | None:
        try:
            value = self._client.get(self.prefix + key)
        except Exception as exc:  # noqa: BLE001 - the cache must never break a page
            log.warning("analysis cache get failed: %s", exc)
            return None
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ttl: int) -> None:
        try:
            self._client.set(self.prefix + key, value, ex=ttl)
        except Exception as exc:  # noqa: BLE001
            log.warning("analysis cache set failed: %s", exc)

    def clear(self) -> None:
        try:
            for key in self._client.scan_iter(self.prefix + "*"):
                self._client.delete(key)
        except Exception as exc:  # noqa: BLE001
            log.warning("analysis cache clear failed: %s", exc)


def init_app(app: Flask) -> None:
    """Attach the cache chosen by ``REDIS_URL`` to ``app.extensions``."""
    url = app.config.get("REDIS_URL")
    app.extensions["analysis_cache"] = RedisCache(url, database_namespace(app)) if url else MemoryCache()


def database_namespace(app: Flask) -> str:
    """A short digest of the database URL: the part of a Redis key that names the installation."""
    return hashlib.sha256(str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).encode()).hexdigest()[:12]


def cache() -> MemoryCache | RedisCache:
    """The current app's analysis cache."""
    return current_app.extensions["analysis_cache"]  # type: ignore[no-any-return]


def make_key(name: str, **parts: Any) -> str:
    """A short stable key from a name and JSON-able parts (run ids among them)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"{name}:{digest}"


def cached(key: str, compute: Callable[[], Any], ttl: int = TTL_SECONDS) -> Any:
    """The JSON value under ``key``, computing and storing it on a miss."""
    return json.loads(cached_text(key, compute, ttl))


def cached_text(key: str, compute: Callable[[], Any], ttl: int = TTL_SECONDS) -> str:
    """The JSON text under ``key`` as stored (an API can answer it without parsing it again)."""
    store = cache()
    hit = store.get(key)
    if hit is not None:
        return hit
    text = json.dumps(compute(), separators=(",", ":"))
    store.set(key, text, ttl)
    return text
