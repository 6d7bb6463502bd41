"""Shared fixtures: a migrated template database per session, a fresh copy and app per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.databases import DatabaseFactory
from tests.services import postgres_server_url

ADMIN_PASSWORD = "Admin-test-1"
TEST_SECRETS = {"SECRET_KEY": "test-secret-key-not-for-production", "DATA_KEY": "00112233445566778899aabbccddeeff"}


def backend() -> str:
    """``postgresql`` when ORGCARBON_DATABASE_URL names a PostgreSQL server, else ``sqlite``."""
    url = os.environ.get("ORGCARBON_DATABASE_URL", "")
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def make_factory(kind: str, workdir: Path) -> DatabaseFactory:
    """A database factory of ``kind``; PostgreSQL's server URL comes from the environment."""
    if kind == "sqlite":
        return DatabaseFactory("sqlite", workdir)
    server = os.environ.get("ORGCARBON_DATABASE_URL", "")
    if not server.startswith("postgresql"):
        server = postgres_server_url()
    return DatabaseFactory("postgresql", workdir, server_url=server)


def app_overrides(database_url: str, instance: Path, **extra: Any) -> dict[str, Any]:
    """Settings for a test app: its own database and instance folder, known secrets, no CSRF."""
    return {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "REDIS_URL": None,
        "WTF_CSRF_ENABLED": False,
        "TESTING": True,
        **TEST_SECRETS,
        **extra,
    }


def build_app(database_url: str, instance: Path, **extra: Any) -> Flask:
    """``create_app`` for tests."""
    from orgcarbon.platform.app import create_app

    return create_app(app_overrides(database_url, instance, **extra))


def dispose(app: Flask) -> None:
    """Close every pooled connection of ``app`` (PostgreSQL cannot copy or drop a busy database)."""
    from orgcarbon.platform.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def run_cli(app: Flask, args: list[str]) -> Any:
    """Invoke an ``orgcarbon`` command against ``app``; returns click's Result."""
    from orgcarbon.platform.cli import cli

    return app.test_cli_runner().invoke(cli, args)


@pytest.fixture(scope="session")
def db_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """The database factory of this run's backend."""
    factory = make_factory(backend(), tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def template_database(db_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head, with roles, the admin and the demo users (``init`` + ``demo``)."""
    url = db_factory.empty()
    app = build_app(url, tmp_path_factory.mktemp("template-instance"))
    for command in (["init"], ["demo"]):
        result = run_cli(app, command)
        assert result.exit_code == 0, result.output
    dispose(app)
    return url


@pytest.fixture()
def database_url(db_factory: DatabaseFactory, template_database: str) -> Iterator[str]:
    """A private copy of the template database for one test."""
    url = db_factory.copy(template_database)
    yield url
    db_factory.drop(url)


@pytest.fixture()
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The application on this test's own database."""
    application = build_app(database_url, tmp_path / "instance")
    yield application
    dispose(application)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    """A browser-like test client (cookies kept between requests)."""
    return app.test_client()


def login(client: FlaskClient, username: str, password: str) -> Any:
    """Log in through the web form; returns the response after redirects."""
    return client.post("/login/", data={"username": username, "password": password}, follow_redirects=True)


def api_token(client: FlaskClient, username: str, password: str) -> str:
    """A JWT access token from the REST login."""
    response = client.post(
        "/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db", "refresh": False},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["access_token"]
