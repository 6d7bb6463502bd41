"""Fill an uploaded Excel form in place (formats, formulas, protection kept), or write tables.

openpyxl keeps cell styles, formulas, defined names, data validation and sheet protection on a
load/save round trip; it drops pictures and charts of the uploaded workbook (docs/reports.md).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from copy import copy
from typing import Any

import openpyxl
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.worksheet.worksheet import Worksheet

from orgcarbon.report_templates.catalogue import BY_NAME, Variable
from orgcarbon.report_templates.environment import RenderError, make_environment
from orgcarbon.report_templates.numbers import DECIMALS
from orgcarbon.report_templates.render_docx import RenderedFile
from orgcarbon.report_templates.xlsx_rows import RowGrid, splice_rows
from orgcarbon.report_templates.xlsx_targets import NamedTarget, scan_workbook

__all__ = ["cell_format", "fill_workbook"]

_BARE = re.compile(r"^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")


def cell_format(unit: str, field: str = "") -> str | None:
    """Excel number format for a value of ``unit``; None leaves the cell's format alone."""
    if field == "share":
        return "0.00%"
    digits = DECIMALS.get(unit)
    if digits is None:
        return None
    return "#,##0" + ("." + "0" * digits if digits else "")


def _unit(variable: Variable, field: str | None) -> str:
    if field is None:
        return variable.unit
    return next((f.unit for f in variable.fields if f.name == field), "")


def _put(cell: Cell | MergedCell, value: Any, fmt: str | None, warnings: list[str]) -> None:
    if isinstance(cell, MergedCell):
        warnings.append(f"{cell.parent.title}!{cell.coordinate} 是合并单元格的一部分，未填写")
        return
    if isinstance(value, list):
        value = "\n".join(map(str, value))
    cell.value = value
    # Respect the form's own format; only General cells get the report's number format.
    if fmt and isinstance(value, int | float) and cell.number_format == "General":
        cell.number_format = fmt


def _fill_markers(
    wb: openpyxl.Workbook, markers: Sequence[Any], context: Mapping[str, Any], warnings: list[str]
) -> None:
    env = make_environment()
    for marker in markers:
        cell = wb[marker.sheet][marker.coordinate]
        bare = _BARE.match(marker.text)
        if bare:  # keep numbers numeric so the form's own formulas can use them
            variable = BY_NAME[bare.group(1)]
            _put(cell, context.get(variable.name), cell_format(variable.unit), warnings)
        else:
            _put(cell, env.from_string(marker.text).render(context), None, warnings)


def _rows(target: NamedTarget, context: Mapping[str, Any], width: int) -> list[list[Any]]:
    value = context.get(target.variable.name)
    if target.variable.kind == "list":
        return [[v] for v in value or []]
    if target.variable.kind != "table":
        return [[value]]
    fields = [target.field] if target.field else [f.name for f in target.variable.fields][:width]
    return [[row.get(f) for f in fields] for row in value or []]


def _fields(target: NamedTarget, width: int) -> list[str | None]:
    if target.field or target.variable.kind != "table":
        return [target.field]
    return [f.name for f in target.variable.fields][:width]


class _ColumnStyle:
    """The cell format ids of one column's new rows: the anchor cell's, with ``fmt`` for numbers.

    Ids are taken on first use only, so a workbook gains no format that no cell uses.
    """

    def __init__(self, ws: Worksheet, template: Cell | MergedCell, fmt: str | None) -> None:
        self._ws, self._template, self._fmt = ws, template, fmt
        self._ids: dict[bool, int | None] = {}

    def id(self, numeric: bool) -> int | None:
        """The format id for a number (``numeric``) or other value; None for no format at all."""
        if numeric not in self._ids:
            probe = Cell(self._ws)
            probe._style = copy(self._template._style)
            if numeric and self._fmt and probe.number_format == "General":
                probe.number_format = self._fmt
            self._ids[numeric] = probe.style_id if probe.has_style else None
        return self._ids[numeric]


def _fill_target(
    ws: Worksheet,
    target: NamedTarget,
    context: Mapping[str, Any],
    warnings: list[str],
    grid: RowGrid | None,
) -> None:
    min_col, min_row, max_col, max_row = target.bounds
    width = max_col - min_col + 1
    if target.variable.kind == "table" and not target.field and width == 1:
        width = len(target.variable.fields)  # one anchor cell: all fields, left to right
    rows = _rows(target, context, width)
    fields = _fields(target, width)
    height = max_row - min_row + 1
    if not target.anchor and len(rows) > height:
        warnings.append(
            f"名称 {target.name} 的区域只有 {height} 行，数据有 {len(rows)} 行，多出的未填写"
        )
        rows = rows[:height]
    if not target.anchor:  # clear a fixed area first so a shorter table leaves no stale values
        rows += [[None] * len(fields)] * (height - len(rows))
    templates = [ws.cell(min_row, min_col + j) for j in range(len(fields))]
    formats = [cell_format(_unit(target.variable, f), f or "") for f in fields]  # once per column
    styles: list[_ColumnStyle] = []
    for i, row in enumerate(rows):
        if i == 1 and target.anchor:  # after the anchor row: its formats are what rows copy
            styles = [_ColumnStyle(ws, t, fmt) for t, fmt in zip(templates, formats, strict=True)]
        for j, value in enumerate(row):
            r, c = min_row + i, min_col + j
            if styles and grid is not None and (r, c) not in ws._cells and grid.accepts(value):
                grid.put(r, c, value, styles[j].id(isinstance(value, int | float)))
                continue
            if grid is not None:
                grid.discard(r, c)
            cell = ws.cell(r, c)
            if i and target.anchor and not isinstance(cell, MergedCell):
                cell._style = copy(templates[j]._style)  # new rows look like the anchor row
            _put(cell, value, formats[j], warnings)


def fill_workbook(
    template: bytes,
    context: Mapping[str, Any],
    filename: str = "template.xlsx",
    *,
    stream_rows: bool = True,
) -> RenderedFile:
    """Fill markers and named cells/ranges of ``template``; raise ``RenderError`` if it is broken.

    The rows an anchor adds below itself are streamed as sheet XML (``xlsx_rows``);
    ``stream_rows=False`` makes every cell an openpyxl cell, the slower reference the tests
    compare the streamed workbook with.
    """
    keep_vba = filename.lower().endswith(".xlsm")
    try:
        wb = openpyxl.load_workbook(io.BytesIO(template), keep_vba=keep_vba, keep_links=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a bad file
        raise RenderError(f"无法打开 Excel 模板：{exc}") from exc
    markers, targets, issues = scan_workbook(wb)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise RenderError("Excel 模板未通过检查：" + "；".join(map(str, errors[:5])))
    warnings: list[str] = []
    _fill_markers(wb, markers, context, warnings)
    grids = {title: RowGrid() for title in wb.sheetnames} if stream_rows else {}
    for target in targets:
        _fill_target(wb[target.sheet], target, context, warnings, grids.get(target.sheet))
    out = io.BytesIO()
    wb.save(out)
    return RenderedFile(splice_rows(out.getvalue(), grids), tuple(warnings))
