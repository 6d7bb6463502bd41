"""Golden-case fixtures shared by the report template tests (computed once per session)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from orgcarbon.report_templates.context import ReportInfo, build_context
from orgcarbon.rules.calc import calculate_package
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
