"""Template checks run before a template can be activated; each issue has a location."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Literal

import openpyxl

from orgcarbon.report_templates.docx_text import docx_paragraphs, normalise_docxtpl, split_tags
from orgcarbon.report_templates.jinja_check import TemplateIssue, check_source
from orgcarbon.report_templates.xlsx_targets import scan_workbook

__all__ = ["CheckReport", "TemplateIssue", "check_docx", "check_template", "check_xlsx"]

TemplateKind = Literal["docx", "xlsx"]


@dataclass(frozen=True)
class CheckReport:
    """All issues of one template; it may be activated when there is no error."""

    kind: TemplateKind
    issues: tuple[TemplateIssue, ...]

    @property
    def errors(self) -> tuple[TemplateIssue, ...]:
        """Issues that block activation."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def ok(self) -> bool:
        """True when the template can be activated."""
        return not self.errors

    def summary(self) -> str:
        """One Chinese line for the template list."""
        if not self.issues:
            return "检查通过，未发现问题。"
        warnings = len(self.issues) - len(self.errors)
        verdict = "可以启用" if self.ok else "修正错误后才能启用"
        return f"发现 {len(self.errors)} 个错误、{warnings} 个提示，{verdict}。"


def check_docx(data: bytes) -> CheckReport:
    """Split tags, Jinja syntax, unknown names/fields/filters and bad loops in a Word template."""
    try:
        paragraphs = docx_paragraphs(data)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        return CheckReport(
            "docx", (TemplateIssue("bad_file", "文件", f"不是有效的 Word 文件：{exc}"),)
        )
    issues: list[TemplateIssue] = []
    for p in paragraphs:
        for tag, pieces in split_tags(p):
            shown = "」「".join(pieces)
            issues.append(
                TemplateIssue(
                    "split_tag",
                    p.location,
                    f"标签被 Word 拆分成 {len(pieces)} 段（「{shown}」），生成时会原样留在报告中。"
                    "请选中整个标签删除，再一次性重新输入，不要只改其中一部分的格式",
                    tag,
                )
            )
    # One paragraph per source line, so Jinja's line number names the paragraph.
    source = "\n".join(normalise_docxtpl(p.text.replace("\n", " ")) for p in paragraphs)
    issues += check_source(source, lambda line: paragraphs[min(line, len(paragraphs)) - 1].location)
    return CheckReport("docx", tuple(issues))


def check_xlsx(data: bytes) -> CheckReport:
    """Markers and defined names of an Excel template that are wrong or point nowhere."""
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data))
    except Exception as exc:  # openpyxl raises many unrelated types for a bad file
        return CheckReport(
            "xlsx", (TemplateIssue("bad_file", "文件", f"不是有效的 Excel 文件：{exc}"),)
        )
    markers, targets, issues = scan_workbook(wb)
    if not markers and not targets:
        issues.append(
            TemplateIssue(
                "nothing_to_fill",
                "工作簿",
                "没有找到任何 {{ 变量 }} 标记或对应变量的名称，生成的报表将与模板相同",
                "",
                "warning",
            )
        )
    return CheckReport("xlsx", tuple(issues))


def check_template(data: bytes, filename: str) -> CheckReport:
    """Check an uploaded template; the kind follows the file name (.docx, .xlsx, .xlsm)."""
    suffix = filename.lower().rsplit(".", 1)[-1]
    if suffix == "docx":
        return check_docx(data)
    if suffix in ("xlsx", "xlsm"):
        return check_xlsx(data)
    issue = TemplateIssue("bad_file", filename, "只支持 .docx、.xlsx 和 .xlsm 模板")
    return CheckReport("docx", (issue,))
