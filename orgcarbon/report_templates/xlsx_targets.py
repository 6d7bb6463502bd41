"""Where an Excel template takes values: marker cells and defined names, with their problems.

Conventions (docs/reports.md): a cell whose text contains ``{{ ... }}`` is a marker; a defined
name equal to a catalogue variable (``total_tco2``) is filled with it; ``table.field``
(``by_process.tco2``) fills one column of a table; a bare table name fills all its fields in
catalogue order. A one-row range is an anchor that grows downwards; a taller range is a fixed
form area (extra rows are reported, not written over the form).
"""

from __future__ import annotations

from dataclasses import dataclass

from openpyxl.utils.cell import range_boundaries
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.workbook import Workbook

from orgcarbon.report_templates.catalogue import BY_NAME, Variable
from orgcarbon.report_templates.jinja_check import TemplateIssue, check_source

__all__ = ["MarkerCell", "NamedTarget", "scan_workbook"]


@dataclass(frozen=True)
class MarkerCell:
    """A cell holding ``{{ ... }}`` text."""

    sheet: str
    coordinate: str
    text: str

    @property
    def location(self) -> str:
        """Excel's own notation, e.g. ``汇总表!B6``."""
        return f"{self.sheet}!{self.coordinate}"


@dataclass(frozen=True)
class NamedTarget:
    """A defined name that maps to a catalogue variable (and optionally one of its fields)."""

    name: str
    variable: Variable
    field: str | None
    sheet: str
    bounds: tuple[int, int, int, int]  # min_col, min_row, max_col, max_row

    @property
    def anchor(self) -> bool:
        """A one-row range grows downwards with the data."""
        return self.bounds[1] == self.bounds[3]


def _resolve(name: str) -> tuple[Variable | None, str | None, str | None]:
    """(variable, field, error) for a name; (None, None, None) when it is not ours."""
    if name in BY_NAME:
        return BY_NAME[name], None, None
    head, _, tail = name.partition(".")
    variable = BY_NAME.get(head)
    if variable is None or not tail:
        return None, None, None
    if variable.kind != "table" or tail not in {f.name for f in variable.fields}:
        fields = "、".join(f.name for f in variable.fields) or "（无）"
        return None, None, f"变量“{head}”没有字段“{tail}”，可用字段：{fields}"
    return variable, tail, None


def _names(wb: Workbook) -> list[tuple[str, DefinedName, str]]:
    found = [(n, d, f"名称 {n}") for n, d in wb.defined_names.items()]
    for ws in wb.worksheets:
        found += [(n, d, f"名称 {ws.title}!{n}") for n, d in ws.defined_names.items()]
    return [f for f in found if not f[0].startswith("_xlnm") and not f[1].is_reserved]


def _scan_names(wb: Workbook) -> tuple[list[NamedTarget], list[TemplateIssue]]:
    targets, issues = [], []
    for name, defined, where in _names(wb):
        destinations = list(defined.destinations) if defined.type == "RANGE" else []
        if not destinations or "#REF!" in (defined.attr_text or ""):
            issues.append(
                TemplateIssue(
                    "bad_name",
                    where,
                    "名称指向无效的区域（#REF! 或已删除的单元格），"
                    "请在 Excel 的“名称管理器”中修正或删除",
                    defined.attr_text or "",
                )
            )
            continue
        sheet, ref = destinations[0]
        if sheet not in wb.sheetnames:
            issues.append(
                TemplateIssue(
                    "bad_name", where, f"名称指向不存在的工作表“{sheet}”", defined.attr_text or ""
                )
            )
            continue
        variable, field, error = _resolve(name)
        if error:
            issues.append(TemplateIssue("unknown_field", where, error, name))
            continue
        if variable is None:
            issues.append(
                TemplateIssue(
                    "unused_name",
                    where,
                    "名称不对应变量目录中的变量，生成报告时不会填写",
                    name,
                    "warning",
                )
            )
            continue
        if variable.kind == "image":
            issues.append(TemplateIssue("bad_name", where, "图表只能插入 Word 模板", name))
            continue
        if len(destinations) > 1:
            issues.append(
                TemplateIssue(
                    "multi_area",
                    where,
                    "名称包含多个区域，只填写第一个",
                    defined.attr_text or "",
                    "warning",
                )
            )
        bounds = range_boundaries(ref.replace("$", ""))
        targets.append(NamedTarget(name, variable, field, sheet, bounds))  # type: ignore[arg-type]
    return targets, issues


def _scan_markers(wb: Workbook) -> tuple[list[MarkerCell], list[TemplateIssue]]:
    markers, issues = [], []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if not isinstance(value, str) or not ("{{" in value or "{%" in value):
                    continue
                marker = MarkerCell(ws.title, cell.coordinate, value)
                if "{%" in value:
                    issues.append(
                        TemplateIssue(
                            "statement_in_cell",
                            marker.location,
                            "Excel 单元格中不能使用 {% %} 语句；表格请用命名区域填写",
                            value,
                        )
                    )
                    continue
                found = check_source(value, lambda _line, loc=marker.location: loc)
                issues += found
                if not found:
                    markers.append(marker)
    return markers, issues


def scan_workbook(wb: Workbook) -> tuple[list[MarkerCell], list[NamedTarget], list[TemplateIssue]]:
    """Valid markers, valid named targets, and every problem found, in sheet order."""
    markers, marker_issues = _scan_markers(wb)
    targets, name_issues = _scan_names(wb)
    return markers, targets, marker_issues + name_issues
