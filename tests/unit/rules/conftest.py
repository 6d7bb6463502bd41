"""Fixtures for the accounting-core tests: the shipped library, the default model, the golden case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orgcarbon.rules.factor_pack import default_library
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.model import AccountingModel, default_model

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "domain"
GOLDEN_PACKAGE = FIXTURES / "golden-bfbof-annual.package.json"
GOLDEN_CASE = FIXTURES / "golden-bfbof-annual.json"


@pytest.fixture(scope="session")
def library() -> FactorLibrary:
    return default_library()


@pytest.fixture(scope="session")
def model() -> AccountingModel:
    return default_model()


@pytest.fixture()
def golden_package() -> dict[str, Any]:
    return json.loads(GOLDEN_PACKAGE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def golden_case() -> dict[str, Any]:
    return json.loads(GOLDEN_CASE.read_text(encoding="utf-8"))


@pytest.fixture()
def write_package(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a package dict to a JSON file and return its path."""

    def write(data: dict[str, Any], name: str = "package.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return path

    return write
