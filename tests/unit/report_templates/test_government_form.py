"""Filling an uploaded government workbook keeps its formulas, styles and sheet protection."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName

from orgcarbon.report_templates.render_xlsx import fill_workbook


def _form() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "附表1"
    ws["A1"] = "企业名称"
    ws["B1"] = "{{ org_name }}（{{ report_year }} 年度）"
    ws["A2"], ws["A3"], ws["A4"] = "燃烧排放", "过程排放", "合计（表内公式）"
    ws["B2"].font = Font(bold=True, color="FF0000")
    ws["B2"].number_format = "0.0"  # the form's own format wins over the report's
    ws["B4"] = "=B2+B3"
    ws["B4"].fill = PatternFill("solid", fgColor="FFFF00")
    wb.defined_names["e_combustion"] = DefinedName("e_combustion", attr_text="附表1!$B$2")
    wb.defined_names["e_process"] = DefinedName("e_process", attr_text="附表1!$B$3")
    # a fixed three-row form area for processes: the 7 processes do not fit
    wb.defined_names["by_process"] = DefinedName("by_process", attr_text="附表1!$D$2:$E$4")
    ws.protection.sheet = True
    ws.protection.password = "gov"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_fill_preserves_formula_style_and_protection(context: dict[str, Any]) -> None:
    rendered = fill_workbook(_form(), context)
    ws = openpyxl.load_workbook(io.BytesIO(rendered.content))["附表1"]
    assert ws["B1"].value == "示例联合钢铁有限公司（虚构）（2022 年度）"
    assert ws["B2"].value == context["e_combustion"] and ws["B3"].value == 366647.14
    assert ws["B4"].value == "=B2+B3"
    assert ws["B4"].fill.fgColor.rgb.endswith("FFFF00")
    assert ws["B2"].font.bold and ws["B2"].font.color.rgb.endswith("FF0000")
    assert ws["B2"].number_format == "0.0"
    assert ws.protection.sheet is True and ws.protection.password
    assert [ws["D2"].value, ws["D3"].value, ws["D4"].value] == ["焦化", "炼铁", "烧结"]
    assert ws["E2"].value == context["by_process"][0]["tco2"]
    assert rendered.warnings == ("名称 by_process 的区域只有 3 行，数据有 7 行，多出的未填写",)
