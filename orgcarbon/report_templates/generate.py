"""One entry point per use: render any template, a built-in one, or a report from a package."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orgcarbon.report_templates.builtin import BUILTIN
from orgcarbon.report_templates.catalogue import example_context
from orgcarbon.report_templates.context import ReportInfo, build_context
from orgcarbon.report_templates.environment import RenderError
from orgcarbon.report_templates.render_docx import RenderedFile, render_docx
from orgcarbon.report_templates.render_xlsx import fill_workbook

__all__ = ["preview_template", "render_builtin", "render_template", "report_from_package"]

_BUILTIN_FOR = {".docx": "gbt32151.5-report", ".xlsx": "gbt32151.5-tables"}


def render_template(template: bytes, filename: str, context: Mapping[str, Any]) -> RenderedFile:
    """Render an uploaded or built-in template; the kind follows ``filename``."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".docx":
        return render_docx(template, context)
    if suffix in (".xlsx", ".xlsm"):
        return fill_workbook(template, context, filename)
    raise RenderError("只支持 .docx、.xlsx 和 .xlsm 模板")


def render_builtin(name: str, context: Mapping[str, Any]) -> RenderedFile:
    """Render a built-in template by name (``BUILTIN`` keys)."""
    path = BUILTIN[name][0]
    return render_template(path.read_bytes(), path.name, context)


def preview_template(template: bytes, filename: str) -> RenderedFile:
    """Render with the catalogue's example values (the template-management preview)."""
    return render_template(template, filename, {**example_context(), "draft": True})


def report_from_package(
    package_path: str | Path, out_path: str | Path, *, draft: bool = True, **info: Any
) -> RenderedFile:
    """``calc PACKAGE --report FILE.docx|FILE.xlsx``: account, render the built-in, write."""
    from orgcarbon.rules.calc import calculate_package  # the CLI module imports click

    out = Path(out_path)
    name = _BUILTIN_FOR.get(out.suffix.lower())
    if name is None:
        raise RenderError("报告文件名应以 .docx 或 .xlsx 结尾")
    package, result = calculate_package(package_path)
    context = build_context(result, ReportInfo.from_package(package, **info), draft=draft)
    rendered = render_builtin(name, context)
    out.write_bytes(rendered.content)
    return rendered
