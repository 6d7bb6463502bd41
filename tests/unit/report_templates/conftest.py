"""Golden-case fixtures shared by the report template tests (computed once per session)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from orgcarbon.report_templates.context import ReportInfo, build_context
from orgcarbon.rules.calc import calculate_package, spread_over_sites
from orgcarbon.rules.package import Package
from orgcarbon.rules.results import Result

GOLDEN = Path(__file__).parents[2] / "fixtures/domain/golden-bfbof-annual.package.json"


@pytest.fixture(scope="session")
def golden() -> tuple[Package, Result]:
    return calculate_package(GOLDEN)


@pytest.fixture(scope="session")
def context(golden: tuple[Package, Result]) -> dict[str, Any]:
    package, result = golden
    info = ReportInfo.from_package(
        package,
        org_code="91130200MA0EXAMPLE",
        legal_representative="张三",
        compile_date=date(2023, 3, 31),
    )
    return build_context(result, info, generated_at=datetime(2023, 3, 31, 2, 0, tzinfo=UTC))


def rewrite_zip(data: bytes, member: str, old: str, new: str) -> bytes:
    """Copy a zip (docx/xlsx) with one text replacement in one member; the text must occur."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == member:
                text = content.decode()
                assert old in text, f"{old!r} not in {member}"
                content = text.replace(old, new, 1).encode()
            dst.writestr(item, content)
    return out.getvalue()


PLANTS, MONTHS = 3, 2


@pytest.fixture(scope="session")
def group_context() -> dict[str, Any]:
    """The golden plant copied to three sites over two months (a multi-plant result)."""
    package, _ = calculate_package(GOLDEN)
    result = spread_over_sites(package, PLANTS, MONTHS)
    info = ReportInfo.from_package(package, org_name="示例集团（3 基地）")
    return build_context(result, info, generated_at=datetime(2024, 1, 1, tzinfo=UTC))


def canonical_parts(content: bytes) -> dict[str, bytes]:
    """A docx/xlsx package's parts but the save time; XML as canonical XML (C14N), where
    ``<v></v>`` and ``<v/>``, or a namespace declared twice, are one thing."""
    package = zipfile.ZipFile(io.BytesIO(content))
    parts = {}
    for name in package.namelist():
        data = package.read(name)
        if name.endswith((".xml", ".rels")):
            data = etree.tostring(etree.fromstring(data), method="c14n")
        parts[name] = data
    parts.pop("docProps/core.xml", None)
    return parts
