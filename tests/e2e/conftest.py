"""Browser fixtures: the real server in a subprocess and headless Chromium driven by Selenium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, TEST_SECRETS
from tests.services import unavailable

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def live_server(database_url: str, tmp_path: Path) -> Iterator[str]:
    """``orgcarbon run`` on a free loopback port, on this test's own database."""
    port = _free_port()
    env = {
        **os.environ,
        "ORGCARBON_DATABASE_URL": database_url,
        "ORGCARBON_INSTANCE_PATH": str(tmp_path / "instance"),
        "ORGCARBON_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ORGCARBON_SECRET_KEY": TEST_SECRETS["SECRET_KEY"],
        "ORGCARBON_DATA_KEY": TEST_SECRETS["DATA_KEY"],
    }
    env.pop("ORGCARBON_REDIS_URL", None)
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "orgcarbon.platform.cli", "run", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((tmp_path / "server.log").read_text()) from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture()
def browser() -> Iterator[object]:
    """Headless Debian Chromium at 1366×768, the PC screen the spec's users have."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        unavailable("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1366,768", "--lang=zh-CN",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(5)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
