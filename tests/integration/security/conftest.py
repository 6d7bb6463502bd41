"""Fixtures for the backup tests: an empty target database with its own app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, select

from tests.conftest import build_app, dispose
from tests.databases import DatabaseFactory


@dataclass
class Target:
    """An empty database to restore into, and the app that points at it."""

    url: str
    app: Flask


@pytest.fixture()
def target(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Target]:
    """A brand-new empty database (``db_factory.empty()``) with an app on it."""
    url = db_factory.empty()
    application = build_app(url, tmp_path / "target-instance")
    yield Target(url, application)
    dispose(application)
    db_factory.drop(url)


def all_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table in ``all_metadata()``, sorted, for comparing two databases."""
    from orgcarbon.platform.metadata import all_metadata

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                for table in all_metadata().sorted_tables
            }
    finally:
        engine.dispose()
