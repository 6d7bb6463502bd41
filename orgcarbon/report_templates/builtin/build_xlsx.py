"""The built-in supplementary-tables template (.xlsx): marker cells and named anchor rows."""

from __future__ import annotations

import io

import openpyxl
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.worksheet import Worksheet

from orgcarbon.report_templates.catalogue import BY_NAME

__all__ = ["build_tables"]

_THIN = Side(style="thin", color="808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD = PatternFill("solid", fgColor="DDEBF7")

# (sheet, table variable, fields shown) — the anchor row grows with the data.
_TABLE_SHEETS = (
    (
        "活动数据",
        "activity_data",
        (
            "process",
            "subprocess",
            "month",
            "category",
            "material",
            "quantity",
            "unit",
            "activity",
            "activity_unit",
            "ef",
            "ef_unit",
            "tco2",
            "source",
        ),
    ),
    (
        "排放因子",
        "factors",
        ("material", "parameter", "value", "unit", "origin", "source", "grade"),
    ),
    ("分工序", "by_process", ("process", "tco2", "share")),
    ("分子工序", "by_subprocess", ("process", "subprocess", "tco2", "direct_tco2")),
    ("分月", "by_month", ("period", "tco2", "direct_tco2", "e_combustion", "e_process")),
)


def _name(wb: openpyxl.Workbook, name: str, ws: Worksheet, ref: str) -> None:
    wb.defined_names[name] = DefinedName(name, attr_text=f"{quote_sheetname(ws.title)}!{ref}")


def _summary(wb: openpyxl.Workbook) -> None:
    ws = wb.active
    ws.title = "汇总表"
    ws["A1"] = "{{ org_name }} {{ report_year }} 年度温室气体排放汇总表"
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells("A1:C1")
    info = (
        ("报告主体名称", "{{ org_name }}"),
        ("统一社会信用代码", "{{ org_code }}"),
        ("报告年度", "{{ report_year }}"),
        ("核算方法", "{{ standard }}"),
    )
    for i, (label, marker) in enumerate(info, start=3):
        ws.cell(i, 1, label)
        ws.cell(i, 2, marker)
    ws.cell(8, 1, "排放源").fill = _HEAD
    ws.cell(8, 2, "排放量（tCO2）").fill = _HEAD
    ws.cell(8, 3, "计入方式").fill = _HEAD
    terms = (
        ("化石燃料燃烧 E燃烧", "e_combustion", "计入"),
        ("工业生产过程 E过程", "e_process", "计入"),
        ("购入电力 E购入电", "e_purchased_electricity", "计入"),
        ("购入热力 E购入热", "e_purchased_heat", "计入"),
        ("输出电力 E输出电", "e_exported_electricity", "扣减"),
        ("输出热力 E输出热", "e_exported_heat", "扣减"),
        ("固碳产品 R固碳", "r_fixed_carbon", "扣减"),
    )
    for row, (label, name, how) in enumerate(terms, start=9):
        ws.cell(row, 1, label)
        ws.cell(row, 3, how)
        _name(wb, name, ws, f"$B${row}")  # named cells: a government form's usual way
    ws.cell(16, 1, "排放总量（表内公式）")
    ws.cell(16, 2, "=B9+B10+B11+B12-B13-B14-B15")
    ws.cell(17, 1, "排放总量（平台核算）")
    ws.cell(17, 2, "{{ total_tco2 }}")
    ws.cell(18, 1, "直接排放量")
    ws.cell(18, 2, "{{ total_direct_tco2 }}")
    ws.cell(19, 1, "间接排放量（净）")
    ws.cell(19, 2, "{{ indirect_tco2 }}")
    ws.cell(20, 1, "单位产品排放量（tCO2/t）")
    ws.cell(20, 2, "{{ intensity_total }}")
    for row in ws.iter_rows(min_row=8, max_row=20, max_col=3):
        for cell in row:
            cell.border = _BOX
    for row in range(9, 20):
        ws.cell(row, 2).number_format = "#,##0.00"
    ws.cell(20, 2).number_format = "0.0000"
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 36
    ws.column_dimensions["C"].width = 12


def _table_sheet(wb: openpyxl.Workbook, title: str, table: str, fields: tuple[str, ...]) -> None:
    variable = BY_NAME[table]
    by_name = {f.name: f for f in variable.fields}
    ws = wb.create_sheet(title)
    ws["A1"] = "{{ org_name }} {{ report_year }} 年度 " + variable.description
    ws["A1"].font = Font(bold=True, size=12)
    for col, name in enumerate(fields, start=1):
        f = by_name[name]
        unit = f"（{f.unit}）" if f.unit and not f.unit.startswith("见") else ""
        head = ws.cell(2, col, f.description + unit)
        head.font, head.fill, head.border = Font(bold=True), _HEAD, _BOX
        head.alignment = Alignment(wrap_text=True, vertical="center")
        ws.cell(3, col).border = _BOX  # the anchor row's style is copied to every data row
        letter = get_column_letter(col)
        _name(wb, f"{table}.{name}", ws, f"${letter}$3")
        ws.column_dimensions[letter].width = 14 if name not in ("source", "material") else 24
    ws.freeze_panes = "A3"


def build_tables() -> bytes:
    """The supplementary-tables template as .xlsx bytes."""
    wb = openpyxl.Workbook()
    _summary(wb)
    for title, table, fields in _TABLE_SHEETS:
        _table_sheet(wb, title, table, fields)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
