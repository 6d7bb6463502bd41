"""Real servers for the connector tests: mock-sap started per module, the running Mosquitto."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.services import reachable, unavailable

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


def mqtt_url() -> str:
    """The Mosquitto to test against (``ORGCARBON_MQTT_URL`` or the local default), or skip/fail."""
    url = os.environ.get("ORGCARBON_MQTT_URL") or DEFAULT_MQTT_URL
    if not reachable(url, 1883):
        unavailable(f"MQTT broker not reachable at {url}")
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def mock_sap() -> Iterator[str]:
    """Base URL of a fresh mock-sap (in-memory SQLite, CSRF on) on a free loopback port."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mocksap",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-q",
            "--no-request-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_mock/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                unavailable(
                    "mock-sap did not start: "
                    + (process.stderr.read() if process.stderr else b"").decode()[-500:]
                )
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
