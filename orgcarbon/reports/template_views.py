"""报告模板: upload, check, preview, versions, activation per organisation; variable catalogue."""

from __future__ import annotations

from typing import Any


def register_template_views(appbuilder: Any) -> None:
    """Add the template-management pages and APIs (filled in by the template-management work)."""
