"""Rows streamed as sheet XML give the workbook openpyxl alone would write, cell for cell."""

from __future__ import annotations

import io
import math
import warnings
from datetime import date
from typing import Any

import openpyxl
from openpyxl.styles import Border, Font, Side
from openpyxl.workbook.defined_name import DefinedName

from orgcarbon.report_templates.builtin import BUILTIN
from orgcarbon.report_templates.render_xlsx import fill_workbook
from orgcarbon.report_templates.xlsx_rows import RowGrid
from tests.unit.report_templates.conftest import MONTHS, PLANTS, canonical_parts


def _both(template: bytes, context: dict[str, Any]) -> tuple[bytes, bytes]:
    streamed = fill_workbook(template, context).content
    reference = fill_workbook(template, context, stream_rows=False).content
    return streamed, reference


def _load(content: bytes) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a malformed part makes openpyxl warn
        return openpyxl.load_workbook(io.BytesIO(content))


def _cells(wb: openpyxl.Workbook) -> dict[tuple[str, str], tuple[Any, str]]:
    return {
        (ws.title, c.coordinate): (c.value, c.number_format)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
    }


def test_builtin_tables_of_a_group_equal_the_openpyxl_reference(
    group_context: dict[str, Any],
) -> None:
    template = BUILTIN["gbt32151.5-tables"][0].read_bytes()
    streamed, reference = _both(template, group_context)
    assert canonical_parts(streamed) == canonical_parts(reference)  # every sheet, style and name
    new, old = _load(streamed), _load(reference)
    assert (
        new.sheetnames
        == old.sheetnames
        == ["汇总表", "活动数据", "排放因子", "分工序", "分子工序", "分月"]
    )
    assert _cells(new) == _cells(old)
    lines = group_context["activity_data"]
    assert len(lines) == 240 * PLANTS * MONTHS // 12
    ws = new["活动数据"]
    assert ws.max_row == 2 + len(lines)
    last = ws.cell(2 + len(lines), 12)
    assert last.value == lines[-1]["tco2"] and last.number_format == "#,##0.00"
    assert ws.cell(2 + len(lines), 6).value == lines[-1]["quantity"]
    assert new["汇总表"]["B16"].value == "=B9+B10+B11+B12-B13-B14-B15"


def _awkward_template() -> bytes:
    """An anchor with a formatted column, a protected sheet, and cells already below it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "明细"
    ws["A1"] = "{{ org_name }}"
    ws["B2"].number_format = "0.000"  # the form's own format wins
    ws["A2"].border = Border(bottom=Side(style="thin"))
    ws["E5"] = "=SUM(B2:B9)"  # a formula in a row the table grows into
    ws["E6"] = "备注"
    ws["C7"].font = Font(italic=True)  # an existing styled cell inside the table's area
    ws.row_dimensions[8].height = 30
    wb.defined_names["by_month"] = DefinedName("by_month", attr_text="明细!$A$2")
    ws.protection.sheet = True
    ws.protection.password = "gov"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_rows_merge_with_existing_cells_formulas_and_protection(
    group_context: dict[str, Any],
) -> None:
    streamed, reference = _both(_awkward_template(), group_context)
    assert canonical_parts(streamed) == canonical_parts(reference)
    ws = _load(streamed)["明细"]
    months = group_context["by_month"]
    assert [ws.cell(2 + i, 1).value for i in range(len(months))] == [m["period"] for m in months]
    assert ws["B2"].number_format == "0.000" and ws["B3"].number_format == "0.000"
    assert ws["E5"].value == "=SUM(B2:B9)" and ws["E6"].value == "备注"
    assert ws.row_dimensions[8].height == 30
    assert ws.protection.sheet is True and ws.protection.password


def test_values_the_grid_refuses_are_written_by_openpyxl(group_context: dict[str, Any]) -> None:
    odd: list[Any] = [
        "=1+1",
        "#N/A",
        math.nan,
        True,
        date(2024, 1, 2),
        " 空格 ",
        "a<b&c>\r\n\t",
        "",
    ]
    context = {
        **group_context,
        "by_month": [{"period": v, "tco2": 1} for v in ["首行", *odd, None, 3, 2.5]],
    }
    streamed, reference = _both(_awkward_template(), context)
    assert canonical_parts(streamed) == canonical_parts(reference)
    ws = _load(streamed)["明细"]
    assert ws["A3"].value == "=1+1" and ws["A4"].value == "#N/A" and ws["A6"].value is True
    assert ws["A8"].value == " 空格 " and ws["A9"].value == "a<b&c>\r\n\t"


def test_grid_accepts_only_what_it_writes_like_openpyxl() -> None:
    grid = RowGrid()
    assert all(grid.accepts(v) for v in (None, 1, 2.5, "", "文本", "=", "a & b"))
    assert not any(
        grid.accepts(v) for v in ("=A1", "#DIV/0!", "\x01", math.inf, True, date(2024, 1, 1))
    )
