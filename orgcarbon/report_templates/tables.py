"""The supplementary tables as a generated workbook, streamed with openpyxl ``write_only``."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from orgcarbon.report_templates.catalogue import BY_NAME
from orgcarbon.report_templates.render_xlsx import cell_format

__all__ = ["SHEETS", "supplementary_workbook"]

# (sheet title, table variable); headers and formats come from the catalogue, not from here.
SHEETS: tuple[tuple[str, str], ...] = (
    ("按排放源汇总", "emissions_by_source"),
    ("活动数据", "activity_data"),
    ("排放因子", "factors"),
    ("分工序", "by_process"),
    ("分子工序", "by_subprocess"),
    ("分月", "by_month"),
)
_HEAD_FONT = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP = Alignment(wrap_text=True, vertical="center")


def _header(ws: WriteOnlyWorksheet, texts: list[str]) -> list[WriteOnlyCell]:
    cells = []
    for text in texts:
        cell = WriteOnlyCell(ws, text)
        cell.font, cell.fill, cell.alignment = _HEAD_FONT, _HEAD_FILL, _WRAP
        cells.append(cell)
    return cells


def supplementary_workbook(context: Mapping[str, Any]) -> bytes:
    """Summary by source, activity data, factors, by process/sub-process and by month."""
    wb = openpyxl.Workbook(write_only=True)
    title = f"{context['org_name']} {context['report_year']} 年度温室气体排放补充数据表"
    for sheet_title, name in SHEETS:
        variable = BY_NAME[name]
        ws = wb.create_sheet(sheet_title)
        ws.freeze_panes = "A3"
        for i, _ in enumerate(variable.fields):
            ws.column_dimensions[openpyxl.utils.get_column_letter(i + 1)].width = 16
        ws.append([title + "（" + variable.description + "）"])
        ws.append(
            _header(
                ws,
                [
                    f.description
                    + (f"（{f.unit}）" if f.unit and not f.unit.startswith("见") else "")
                    for f in variable.fields
                ],
            )
        )
        formats = [cell_format(f.unit, f.name) for f in variable.fields]
        for row in context[name]:
            cells = []
            for f, fmt in zip(variable.fields, formats, strict=True):
                cell = WriteOnlyCell(ws, row[f.name])
                if fmt and isinstance(row[f.name], int | float):
                    cell.number_format = fmt
                cells.append(cell)
            ws.append(cells)
        if name == "emissions_by_source":
            total = WriteOnlyCell(ws, context["total_tco2"])
            total.number_format, total.font = "#,##0.00", _HEAD_FONT
            ws.append([WriteOnlyCell(ws, "合计"), WriteOnlyCell(ws, "排放总量"), None, None, total])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
