"""报告: request a report of an accounting run, follow its progress, download and verify files."""

from __future__ import annotations

from typing import Any


def register_report_views(appbuilder: Any) -> None:
    """Add the report pages and APIs (filled in by the report-rendering work)."""
