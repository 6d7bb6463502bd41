"""Register the report pages, APIs and tasks with the application."""

from __future__ import annotations

from typing import Any


def register_reports(appbuilder: Any) -> None:
    """报告模板 (template management) and 报告 (rendered reports) menus, pages and APIs."""
    from orgcarbon.reports.template_views import register_template_views
    from orgcarbon.reports.views import register_report_views

    register_template_views(appbuilder)
    register_report_views(appbuilder)
