"""Where the real services are, and what to do when one is unreachable.

With ``ORGCARBON_REQUIRE_SERVICES=1`` (CI) an unreachable service fails the test; otherwise the
test is skipped with the reason, so a laptop without Redis can still run the rest.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def services_required() -> bool:
    """True when CI demands every service (``ORGCARBON_REQUIRE_SERVICES``)."""
    return os.environ.get("ORGCARBON_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes", "on"}


def unavailable(reason: str) -> None:
    """Skip, or fail when services are required."""
    if services_required():
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def reachable(url: str, default_port: int) -> bool:
    """Whether a TCP connection to the URL's host and port opens within a second."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 1):
            return True
    except OSError:
        return False


def redis_url() -> str:
    """The Redis to test against (``ORGCARBON_REDIS_URL`` or the local default), or skip/fail."""
    url = os.environ.get("ORGCARBON_REDIS_URL") or DEFAULT_REDIS_URL
    if not reachable(url, 6379):
        unavailable(f"Redis not reachable at {url}")
    return url


def postgres_server_url() -> str:
    """The PostgreSQL server to create test databases on, or skip/fail."""
    url = os.environ.get("ORGCARBON_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    if not reachable(url, 5432):
        unavailable(f"PostgreSQL not reachable at {url}")
    return url
