"""The variable catalogue as rows for the 变量目录 page and as an Excel workbook (no Flask).

Rows come from ``report_templates.catalogue.CATALOGUE``, so page, workbook, checks and docs show
the same names; a table's columns follow the table as nested rows (``by_process[].tco2``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from orgcarbon.report_templates.catalogue import CATALOGUE

KIND_LABELS = {"scalar": "单值", "list": "列表", "table": "表格", "image": "图片", "field": "列"}
HEADERS = ("变量", "用法", "分组", "类型", "说明", "单位", "示例")


@dataclass(frozen=True)
class CatalogueRow:
    """One variable or one column of a table variable, ready to show."""

    name: str  # org_name, by_process[].tco2
    usage: str  # how to write it in a template
    group: str
    kind: str  # scalar | list | table | image | field
    description: str
    unit: str
    example: str
    parent: str | None = None  # the table of a column

    @property
    def kind_label(self) -> str:
        """The type in Chinese."""
        return KIND_LABELS.get(self.kind, self.kind)

    def cells(self) -> tuple[str, ...]:
        """The row as the workbook writes it (same order as ``HEADERS``)."""
        return (self.name, self.usage, self.group, self.kind_label, self.description, self.unit, self.example)


def _example(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _usage(name: str, kind: str) -> str:
    if kind == "table":
        return f"{{%tr for r in {name} %}} … {{%tr endfor %}}"
    if kind == "list":
        return f"{{%p for t in {name} %}} … {{%p endfor %}}"
    return f"{{{{ {name} }}}}"


def catalogue_rows() -> list[CatalogueRow]:
    """Every variable, each table followed by its columns."""
    rows: list[CatalogueRow] = []
    for v in CATALOGUE:
        rows.append(CatalogueRow(v.name, _usage(v.name, v.kind), v.group, v.kind, v.description, v.unit,
                                 "" if v.kind in ("table", "image") else _example(v.example)))
        for f in v.fields:
            rows.append(CatalogueRow(f"{v.name}[].{f.name}", f"{{{{ r.{f.name} }}}}", v.group, "field",
                                     f.description, f.unit, _example(f.example), parent=v.name))
    return rows


def catalogue_workbook() -> bytes:
    """The catalogue as an .xlsx (one sheet 变量目录, header frozen, filter on)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "变量目录"
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in catalogue_rows():
        ws.append(row.cells())
        if row.kind == "table":
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
    for index, width in enumerate((34, 36, 16, 8, 48, 12, 30), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
