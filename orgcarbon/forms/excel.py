"""Excel templates of a form: a pure function from the form's plain values to a workbook.

``build_template`` turns a form definition (``FormSpec``, plain values) into a workbook: a data
sheet 填报数据 in long form (one row per period × field; only 数值 and 备注 can be typed in), an
instructions sheet 填写说明, and a hidden sheet that names the form, its revision, the organisation
and the template format, so that the check of a filled template (``excel_check``) refuses a
template of another form or an older revision. The layout constants below are shared by both
sides: a change of layout bumps ``TEMPLATE_VERSION``. Nothing here reads a database or imports Flask.

The sheets are protected without a password: protection keeps a user from overwriting the
pre-filled columns by accident; it is not a security boundary (Excel lets anyone lift it), which is
why the import checks every column again.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill, Protection
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.cell_range import MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation

__all__ = [
    "TEMPLATE_FORMAT", "TEMPLATE_VERSION", "DATA_SHEET", "HELP_SHEET", "META_SHEET", "ERRORS_SHEET", "HEADERS",
    "HEADER_ROWS", "FieldSpec", "PeriodSpec", "FormSpec", "build_template",
]

TEMPLATE_FORMAT = "orgcarbon-form-template"
TEMPLATE_VERSION = 1  # bumped when the layout below changes; older templates are refused
DATA_SHEET, HELP_SHEET, META_SHEET, LISTS_SHEET, ERRORS_SHEET = "填报数据", "填写说明", "_meta", "_lists", "错误汇总"
HEADERS = ("期间", "表单字段代码", "字段名称", "工序/子工序", "物料", "参数", "单位", "数值", "备注")
PERIOD_COL, CODE_COL, LABEL_COL, UNIT_COL, VALUE_COL, NOTE_COL = 1, 2, 3, 7, 8, 9
HEADER_ROWS = 2  # a title row, then the column headers; data from row 3
_WIDTHS = (12, 18, 30, 22, 12, 16, 10, 16, 28)
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=13)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
_LOCKED_FILL = PatternFill("solid", fgColor="E7E6E6")
_UNLOCKED = Protection(locked=False)


@dataclass(frozen=True)
class FieldSpec:
    """A form field as plain values; attribute names match ``FormField`` so its rules apply as they are."""

    id: int
    code: str
    label: str
    unit: str | None = None
    data_type: str = "number"
    choices: tuple[str, ...] = ()
    required: bool = True
    min_value: float | None = None
    max_value: float | None = None
    allow_negative: bool = False
    rule: str | None = None
    rule_message: str | None = None
    help_text: str | None = None
    section: str = ""
    place: str = ""  # 工序/子工序 of the field's binding
    material: str = ""
    parameter_label: str = ""
    type_label: str = ""

    def choice_list(self) -> list[str]:
        """The allowed values of a choice field (as ``FormField.choice_list``)."""
        return list(self.choices)


@dataclass(frozen=True)
class PeriodSpec:
    """A period the template covers: its number, label, due date and why it cannot be imported, if so."""

    period: int
    label: str
    due: dt.date | None = None
    locked: str | None = None


@dataclass(frozen=True)
class FormSpec:
    """What a template and its check need of a form definition."""

    id: int
    code: str
    name: str
    revision: int
    organization_id: int
    organization_name: str
    granularity: str
    fields: tuple[FieldSpec, ...]


# --- template ----------------------------------------------------------------------------------

def _cell(ws: Any, value: Any, *, font: Font | None = None, fill: PatternFill | None = None,
          unlocked: bool = False, number_format: str | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value)
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if unlocked:
        cell.protection = _UNLOCKED
    if number_format:
        cell.number_format = number_format
    return cell


def _range_text(spec: FieldSpec) -> str:
    if spec.data_type != "number":
        return ""
    low = spec.min_value if spec.min_value is not None else (None if spec.allow_negative else 0)
    parts = []
    if low is not None:
        parts.append(f"≥ {low:g}")
    if spec.max_value is not None:
        parts.append(f"≤ {spec.max_value:g}")
    return "，".join(parts) or "不限"


def _protect(ws: Any) -> None:
    # No password: this guards against accidents; the import checks every column anyway.
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.autoFilter = False


Rule = tuple[Any, ...]  # ("list", choices) or ("decimal", operator, low, high)


def _field_rule(spec: FieldSpec) -> Rule | None:
    """The drop-down or number range Excel itself checks while the user types (the import checks again)."""
    if spec.data_type == "choice" and spec.choices:
        return ("list", spec.choices)
    if spec.data_type != "number":
        return None
    low = spec.min_value if spec.min_value is not None else (None if spec.allow_negative else 0.0)
    high = spec.max_value
    if low is None and high is None:
        return None
    operator = "between" if low is not None and high is not None else \
        "greaterThanOrEqual" if low is not None else "lessThanOrEqual"
    return ("decimal", operator, low, high)


class _Lists:
    """Columns of the hidden list sheet that drop-downs point to (a list may exceed Excel's 255 characters)."""

    def __init__(self) -> None:
        self.columns: list[tuple[str, ...]] = []

    def ref(self, items: Sequence[str]) -> str:
        key = tuple(items)
        if key not in self.columns:
            self.columns.append(key)
        letter = get_column_letter(self.columns.index(key) + 1)
        return f"{quote_sheetname(LISTS_SHEET)}!${letter}$1:${letter}${max(len(key), 1)}"

    def write(self, ws: Any) -> None:
        for i in range(max((len(c) for c in self.columns), default=0)):
            ws.append([c[i] if i < len(c) else None for c in self.columns])


def build_template(form: FormSpec, year: int, periods: Sequence[PeriodSpec],
                   values: Mapping[tuple[int, int], Any] | None = None,
                   generated_at: dt.datetime | None = None) -> bytes:
    """The workbook to fill ``form`` for ``periods`` of ``year``; ``values`` ((period, field id) →
    value) pre-fills cells, e.g. from the current drafts."""
    values = values or {}
    wb = openpyxl.Workbook(write_only=True)
    data = wb.create_sheet(DATA_SHEET)
    help_sheet = wb.create_sheet(HELP_SHEET)
    lists_sheet = wb.create_sheet(LISTS_SHEET)
    meta = wb.create_sheet(META_SHEET)
    lists = _Lists()
    _data_sheet(data, form, year, periods, values, lists)
    _help_sheet(help_sheet, form, year, periods)
    lists.write(lists_sheet)
    lists_sheet.sheet_state = "veryHidden"
    _meta_sheet(meta, form, year, periods, generated_at or dt.datetime.now(dt.UTC))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _data_sheet(ws: Any, form: FormSpec, year: int, periods: Sequence[PeriodSpec],
                values: Mapping[tuple[int, int], Any], lists: _Lists) -> None:
    for i, width in enumerate(_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = f"A{HEADER_ROWS + 1}"
    ws.append([_cell(ws, f"{form.name}（{form.organization_name}）{year} 年填报数据 · 只填写黄色的“数值”“备注”列",
                     font=_TITLE)])
    ws.append([_cell(ws, h, font=_BOLD, fill=_HEAD_FILL) for h in HEADERS])
    by_rule: dict[Rule, list[int]] = {}
    row = HEADER_ROWS
    for period in periods:
        for spec in form.fields:
            row += 1
            open_ = period.locked is None
            text = spec.data_type != "number"
            ws.append([
                period.label, spec.code, spec.label, spec.place, spec.material, spec.parameter_label, spec.unit or "",
                _cell(ws, values.get((period.period, spec.id)), unlocked=open_,
                      fill=_INPUT_FILL if open_ else _LOCKED_FILL, number_format="@" if text else None),
                _cell(ws, period.locked, unlocked=open_, fill=_INPUT_FILL if open_ else _LOCKED_FILL),
            ])
            if not open_:
                continue
            if (rule := _field_rule(spec)) is not None:
                by_rule.setdefault(rule, []).append(row)
    last = max(row, HEADER_ROWS + 1)
    ws.auto_filter.ref = f"A{HEADER_ROWS}:I{last}"
    period_list = DataValidation(type="list", formula1=lists.ref([p.label for p in periods]), allow_blank=True,
                                 showErrorMessage=True, errorTitle="期间", error="请从下拉列表中选择期间")
    period_list.add(f"A{HEADER_ROWS + 1}:A{last}")
    ws.data_validations.append(period_list)
    for rule, cells in by_rule.items():
        ws.data_validations.append(_validation(rule, cells, lists))
    _protect(ws)


def _runs(rows: Iterable[int], column: str = "H") -> str:
    """``H3:H9 H12``: ascending rows as ranges of consecutive cells (keeps the sheet's XML short)."""
    parts: list[str] = []
    start = prev = None
    for row in rows:
        if prev is not None and row == prev + 1:
            prev = row
            continue
        if start is not None:
            parts.append(f"{column}{start}" if start == prev else f"{column}{start}:{column}{prev}")
        start = prev = row
    if start is not None:
        parts.append(f"{column}{start}" if start == prev else f"{column}{start}:{column}{prev}")
    return " ".join(parts)


def _validation(rule: Rule, rows: Iterable[int], lists: _Lists) -> DataValidation:
    if rule[0] == "list":
        dv = DataValidation(type="list", formula1=lists.ref(rule[1]), allow_blank=True, showErrorMessage=True,
                            errorTitle="可选值", error="请从下拉列表中选择")
    else:
        _, operator, low, high = rule
        formulas: tuple[str, str | None]
        if operator == "between":
            formulas, text = (f"{low:g}", f"{high:g}"), f"应为 {low:g} 到 {high:g} 之间的数字"
        elif operator == "greaterThanOrEqual":
            formulas, text = (f"{low:g}", None), f"应为不小于 {low:g} 的数字"
        else:
            formulas, text = (f"{high:g}", None), f"应为不大于 {high:g} 的数字"
        dv = DataValidation(type="decimal", operator=operator, formula1=formulas[0], formula2=formulas[1],
                            allow_blank=True, showErrorMessage=True, errorTitle="数值", error=text)
    dv.sqref = MultiCellRange(_runs(rows))
    return dv


def _help_sheet(ws: Any, form: FormSpec, year: int, periods: Sequence[PeriodSpec]) -> None:
    for i, width in enumerate((16, 30, 14, 22, 12, 14, 10, 8, 6, 16, 24, 40), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    lines = [
        f"{form.name}（{form.organization_name}）{year} 年 · 表单修订版 {form.revision}",
        "",
        "填写方法",
        f"1. 在“{DATA_SHEET}”工作表中，每行是一个期间的一个字段；只在黄色的“数值”列填写数值，可在“备注”列说明来源。",
        "2. 数值按“单位”列的单位填写，不要改动单位；不要增删行、不要改动期间和字段代码。",
        "3. 某个期间只要填写了任一数值，该期间的全部必填字段都必须填写；完全不填的期间不会导入。",
        "4. 保存为 .xlsx 后在平台“数据填报 → Excel 导入”上传。整份文件全部通过校验才会写入，"
        "有错误时不写入任何数据，并返回标注了错误的工作簿。",
        "5. 导入会以文件内容替换对应期间草稿中的数值；已提交审核、已批准或已关闭的期间不能通过导入修改。",
        "6. 表单定义修改后旧模板不能再导入，请重新下载模板。",
        "",
    ]
    for line in lines:
        ws.append([_cell(ws, line, font=_TITLE if line.startswith(form.name) or line == "填写方法" else None)])
    ws.append([_cell(ws, "字段", font=_TITLE)])
    ws.append([_cell(ws, h, font=_BOLD, fill=_HEAD_FILL) for h in (
        "字段代码", "字段名称", "分组", "工序/子工序", "物料", "参数", "单位", "类型", "必填", "取值范围", "可选值", "说明")])
    for spec in form.fields:
        ws.append([spec.code, spec.label, spec.section, spec.place, spec.material, spec.parameter_label,
                   spec.unit or "", spec.type_label or spec.data_type, "是" if spec.required else "否",
                   _range_text(spec), "、".join(spec.choices), _cell(ws, spec.help_text or "")])
    ws.append([])
    ws.append([_cell(ws, "期间", font=_TITLE)])
    ws.append([_cell(ws, h, font=_BOLD, fill=_HEAD_FILL) for h in ("期间", "截止日期", "说明")])
    for period in periods:
        ws.append([period.label, period.due.isoformat() if period.due else "", period.locked or ""])
    _protect(ws)


def _meta_sheet(ws: Any, form: FormSpec, year: int, periods: Sequence[PeriodSpec], at: dt.datetime) -> None:
    for key, value in (("format", TEMPLATE_FORMAT), ("template_version", TEMPLATE_VERSION), ("form_id", form.id),
                       ("form_code", form.code), ("form_revision", form.revision),
                       ("organization_id", form.organization_id), ("granularity", form.granularity),
                       ("year", year), ("periods", ",".join(str(p.period) for p in periods)),
                       ("generated_at", at.isoformat(timespec="seconds"))):
        ws.append([key, value])
    ws.sheet_state = "veryHidden"
    _protect(ws)
