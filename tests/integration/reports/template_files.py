"""Template files for the template-management tests, built with python-docx and openpyxl."""

from __future__ import annotations

import io

import docx
import openpyxl
from openpyxl.workbook.defined_name import DefinedName

GOOD_PARAGRAPHS = ("报告主体：{{ org_name }}", "排放总量：{{ total_tco2|num }} tCO2", "报告年度：{{ report_year }}")


def docx_bytes(*paragraphs: str | tuple[str, ...]) -> bytes:
    """A Word file, one paragraph per argument; a tuple is one paragraph of several runs."""
    document = docx.Document()
    for paragraph in paragraphs:
        target = document.add_paragraph()
        for run in (paragraph,) if isinstance(paragraph, str) else paragraph:
            target.add_run(run)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def good_docx(extra: str = "") -> bytes:
    """A template that passes the check; ``extra`` makes a different file (a new version)."""
    return docx_bytes(*GOOD_PARAGRAPHS, *((extra,) if extra else ()))


def xlsx_bytes(markers: dict[str, str], names: dict[str, str] | None = None) -> bytes:
    """An Excel file with marker cells of the first sheet (汇总表) and defined names."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总表"
    for cell, text in markers.items():
        ws[cell] = text
    for name, target in (names or {}).items():
        wb.defined_names[name] = DefinedName(name, attr_text=target)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# name → (file name, content, {(code, location)} expected among the errors)
BROKEN: dict[str, tuple[str, bytes, set[tuple[str, str]]]] = {
    "split_tag": ("split.docx", docx_bytes("主体：{{ org_name }}", ("代码：{{ org_", "code }}")),
                  {("split_tag", "正文 第 2 段")}),
    "unknown_variable": ("unknown.docx", docx_bytes("{{ org_name }}", "电话：{{ contact_fone }}"),
                         {("unknown_variable", "正文 第 2 段")}),
    "loop_not_list": ("loop.docx", docx_bytes("{%p for row in total_tco2 %}", "{{ row }}", "{%p endfor %}"),
                      {("loop_not_list", "正文 第 1 段")}),
    "syntax": ("syntax.docx", docx_bytes("{{ org_name }}", "{{ org_nature }"), {("syntax", "正文 第 2 段")}),
    "excel_marker": ("form.xlsx", xlsx_bytes({"B2": "{{ total_tco2 }}", "B3": "{{ intensity_totl }}"},
                                             {"e_process": "#REF!"}),
                     {("unknown_variable", "汇总表!B3"), ("bad_name", "名称 e_process")}),
}
