"""The check of a filled Excel template, and the annotated copy of a refused one (pure functions).

``check_workbook`` reads a workbook made by ``excel.build_template`` and filled by a user, checks
that it is a template of this form, organisation and revision, then validates every cell with the
form's field rules (the ``parse`` function it is given: ``service.parse_value`` in the platform);
it returns the rows to write and every problem with its sheet, row, column and Chinese reason.
``annotate`` marks those problems in the user's own workbook (red fill, a comment, and a first sheet
错误汇总). Nothing here reads a database or imports Flask.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from orgcarbon.forms.excel import (
    CODE_COL,
    DATA_SHEET,
    ERRORS_SHEET,
    HEADER_ROWS,
    HEADERS,
    META_SHEET,
    NOTE_COL,
    PERIOD_COL,
    TEMPLATE_FORMAT,
    TEMPLATE_VERSION,
    UNIT_COL,
    VALUE_COL,
    FieldSpec,
    FormSpec,
)
from orgcarbon.forms.xlsx_reader import NotAWorkbook, XlsxBook

__all__ = ["NOT_A_WORKBOOK", "CellIssue", "ImportRow", "WorkbookCheck", "WorkbookRefused", "Parser",
           "check_workbook", "parse_period", "annotate", "open_workbook", "count_rows"]

NOT_A_WORKBOOK = "文件不是有效的 Excel 工作簿（.xlsx）"
_INFO_COLUMNS = frozenset({3, 4, 5, 6})  # 字段名称, 工序/子工序, 物料, 参数: shown to the user, not read back
_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")

Parser = Callable[[FieldSpec, Any], tuple[Any, "str | None"]]


@dataclass(frozen=True)
class CellIssue:
    """One problem of an uploaded file: where it is, what was there and why it is refused."""

    sheet: str
    row: int | None
    column: str
    field: str
    value: Any
    reason: str
    code: str = ""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (stored in ``ImportBatch.errors``)."""
        value = self.value
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        elif value is not None and not isinstance(value, str | int | float | bool):
            value = str(value)
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "field": self.field,
                "code": self.code, "value": value, "reason": self.reason}


class ImportRow(NamedTuple):
    """One filled cell ready to store: the period, the field, the parsed value and the sheet row.

    A named tuple, not a dataclass: a large import makes 100,000 of them and this is cheaper to build.
    """

    row: int
    period: int
    field_id: int
    value: float | str | None
    note: str | None = None


@dataclass
class WorkbookCheck:
    """The outcome of ``check_workbook``: rows to write (only if ``issues`` is empty) and problems."""

    year: int | None = None
    rows: list[ImportRow] = field(default_factory=list)
    issues: list[CellIssue] = field(default_factory=list)
    data_rows: int = 0
    first_row: dict[int, int] = field(default_factory=dict)  # period → first sheet row holding a value

    @property
    def ok(self) -> bool:
        """True when the whole file may be written."""
        return not self.issues


class WorkbookRefused(ValueError):
    """The file as a whole cannot be imported (not a workbook, another form's template...)."""


# --- reading a filled workbook -------------------------------------------------------------------

def open_workbook(content: bytes) -> XlsxBook:
    """The workbook, or ``WorkbookRefused`` with ``文件不是有效的 Excel 工作簿（.xlsx）``."""
    try:
        return XlsxBook(content)
    except NotAWorkbook:
        raise WorkbookRefused(NOT_A_WORKBOOK) from None


def count_rows(content: bytes) -> int:
    """Data rows of a template's data sheet (0 when there is none): decides task or in-process."""
    try:
        book = XlsxBook(content)
        return max(book.row_count(DATA_SHEET) - HEADER_ROWS, 0) if DATA_SHEET in book.sheet_names else 0
    except (NotAWorkbook, KeyError):
        return 0


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _meta(book: XlsxBook) -> dict[str, str]:
    if META_SHEET not in book.sheet_names:
        raise WorkbookRefused("该文件不是本平台生成的填报模板（缺少模板信息），请先下载模板再填写")
    return {_text(k): _text(v) for _, (k, v) in book.rows(META_SHEET, max_col=2) if k}


def _int(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None


def _check_meta(meta: Mapping[str, str], form: FormSpec) -> tuple[int, list[int]]:
    """The template's year and periods; ``WorkbookRefused`` when it belongs elsewhere or is outdated."""
    if meta.get("format") != TEMPLATE_FORMAT:
        raise WorkbookRefused("该文件不是本平台生成的填报模板（模板信息无效），请先下载模板再填写")
    version = _int(meta.get("template_version"))
    if version != TEMPLATE_VERSION:
        raise WorkbookRefused(f"模板格式版本 {meta.get('template_version')} 不受支持（当前为 {TEMPLATE_VERSION}），"
                              "请重新下载模板")
    if meta.get("form_code") != form.code:
        raise WorkbookRefused(f"该模板属于表单“{meta.get('form_code')}”，不是“{form.name}”（{form.code}）的模板")
    if _int(meta.get("organization_id")) != form.organization_id:
        raise WorkbookRefused(f"该模板属于其他组织（编号 {meta.get('organization_id')}），"
                              f"不能导入到“{form.organization_name}”")
    revision = _int(meta.get("form_revision"))
    if revision != form.revision:
        raise WorkbookRefused(f"模板已过期：模板按表单第 {meta.get('form_revision')} 版生成，表单现为第 {form.revision} 版，"
                              "请重新下载模板后填写")
    year = _int(meta.get("year"))
    if year is None:
        raise WorkbookRefused("模板信息缺少年份，请重新下载模板")
    periods = [int(p) for p in (meta.get("periods") or "").split(",") if p.strip().isdigit()]
    return year, periods


_MONTH = re.compile(r"^(\d{4})\s*(?:-|/|\.|年)\s*(\d{1,2})\s*月?$")
_QUARTER = re.compile(r"^(\d{4})\s*(?:年\s*第?\s*(\d)\s*季度?|-?\s*[Qq](\d))$")
_YEAR = re.compile(r"^(\d{4})\s*年?(?:度)?$")


def parse_period(granularity: str, raw: Any) -> tuple[int, int] | None:
    """``(year, period)`` of a 期间 cell (``2024-03``, ``2024年第1季度``, ``2024年``, a date), or None."""
    if isinstance(raw, dt.datetime | dt.date):
        return (raw.year, raw.month) if granularity == "month" else None
    text = _text(raw)
    if granularity == "month":
        if m := _MONTH.match(text):
            month = int(m.group(2))
            return (int(m.group(1)), month) if 1 <= month <= 12 else None
    elif granularity == "quarter":
        if m := _QUARTER.match(text):
            quarter = int(m.group(2) or m.group(3))
            return (int(m.group(1)), quarter) if 1 <= quarter <= 4 else None
    elif m := _YEAR.match(text):
        return int(m.group(1)), 0
    return None


@dataclass
class _Seen:
    """State of one pass over the data rows."""

    rows_by_key: dict[tuple[int, int], int] = field(default_factory=dict)  # (period, field) → sheet row
    filled: dict[int, set[int]] = field(default_factory=dict)  # period → fields with a value
    bad: set[tuple[int, int]] = field(default_factory=set)  # (period, field) with an issue already


def check_workbook(form: FormSpec, content: bytes, parse: Parser, *,
                   progress: Callable[[int], None] | None = None, every: int = 5000) -> WorkbookCheck:
    """Validate a filled template of ``form``; ``WorkbookRefused`` for a file that is not one.

    Checks: template identity and revision, headers, period (valid, of the template's year and
    periods), field code, duplicates, unit unchanged, value by the field's rules (``parse``),
    required fields of each period that has any value.
    """
    book = open_workbook(content)
    year, template_periods = _check_meta(_meta(book), form)
    if DATA_SHEET not in book.sheet_names:
        raise WorkbookRefused(f"工作簿缺少工作表“{DATA_SHEET}”")
    result = WorkbookCheck(year=year)
    by_code = {f.code: f for f in form.fields}
    periods_cache: dict[Any, tuple[int, int] | None] = {}
    seen = _Seen()
    allowed = set(template_periods)
    labels = "、".join(_period_text(form.granularity, year, p) for p in template_periods)
    rows = book.rows(DATA_SHEET, min_row=HEADER_ROWS, max_col=len(HEADERS), skip=_INFO_COLUMNS)
    for number, cells in rows:
        if number == HEADER_ROWS:
            _check_headers(cells)
            continue
        if cells[CODE_COL - 1] is None and all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue  # a blank row (the code cell is tested first: it is filled on every template row)
        result.data_rows += 1
        if progress is not None and result.data_rows % every == 0:
            progress(result.data_rows)
        raw_period = cells[PERIOD_COL - 1]
        if raw_period not in periods_cache:
            periods_cache[raw_period] = parse_period(form.granularity, raw_period)
        _check_row(form, number, cells, periods_cache[raw_period], year, allowed, labels, by_code, parse, result,
                   seen)
    _check_required(form, result, seen)
    if progress is not None:
        progress(result.data_rows)
    result.issues.sort(key=lambda i: (i.row or 0, i.column))
    return result


def _period_text(granularity: str, year: int, period: int) -> str:
    if granularity == "month":
        return f"{year}-{period:02d}"
    if granularity == "quarter":
        return f"{year}年第{period}季度"
    return f"{year}年"


def _check_headers(cells: Sequence[Any]) -> None:
    for column, (wanted, found) in enumerate(zip(HEADERS, cells, strict=False), start=1):
        if _text(found) != wanted and column not in _INFO_COLUMNS:
            raise WorkbookRefused(f"“{DATA_SHEET}”的表头与模板不一致：第 {get_column_letter(column)} 列应为“{wanted}”，"
                                  f"实际为“{_text(found)}”，请使用下载的模板")


def _issue(number: int, column: int, spec: FieldSpec | None, value: Any, reason: str, code: str = "") -> CellIssue:
    return CellIssue(DATA_SHEET, number, get_column_letter(column), spec.label if spec else "", value, reason,
                     spec.code if spec else code)


def _check_row(form: FormSpec, number: int, cells: list[Any], when: tuple[int, int] | None, year: int,
               allowed: set[int], labels: str, by_code: Mapping[str, FieldSpec], parse: Parser,
               result: WorkbookCheck, seen: _Seen) -> None:
    issues = result.issues
    raw_period, code = cells[PERIOD_COL - 1], _text(cells[CODE_COL - 1])
    spec = by_code.get(code)
    if not code:
        issues.append(_issue(number, CODE_COL, None, None, "缺少表单字段代码"))
    elif spec is None:
        issues.append(_issue(number, CODE_COL, None, code, f"表单中没有字段代码“{code}”", code))
    period: int | None = None
    if when is None:
        example = _period_text(form.granularity, year, 1 if form.granularity != "year" else 0)
        issues.append(_issue(number, PERIOD_COL, spec, raw_period,
                             f"期间“{_text(raw_period)}”无效，应为“{example}”这样的期间"))
    elif when[0] != year:
        issues.append(_issue(number, PERIOD_COL, spec, raw_period, f"期间“{_text(raw_period)}”不在模板的年份（{year} 年）内"))
    elif allowed and when[1] not in allowed:
        issues.append(_issue(number, PERIOD_COL, spec, raw_period,
                             f"期间“{_text(raw_period)}”不在模板的期间内（{labels}）"))
    else:
        period = when[1]
    if spec is None or period is None:
        return
    key = (period, spec.id)
    if key in seen.rows_by_key:
        issues.append(_issue(number, CODE_COL, spec, code,
                             f"与第 {seen.rows_by_key[key]} 行重复（同一期间、同一字段出现两次）"))
        seen.bad.add(key)
        return
    seen.rows_by_key[key] = number
    unit = _text(cells[UNIT_COL - 1])
    if unit != (spec.unit or ""):
        issues.append(_issue(number, UNIT_COL, spec, unit or None,
                             f"单位与模板不一致：模板为“{spec.unit or '（无）'}”，填写为“{unit or '（空）'}”；"
                             f"请按模板单位换算后填写"))
        seen.bad.add(key)
    raw_value = cells[VALUE_COL - 1]
    value, reason = parse(spec, raw_value)
    if reason:
        issues.append(_issue(number, VALUE_COL, spec, raw_value, reason))
        seen.bad.add(key)
        seen.filled.setdefault(period, set())  # a wrong value is still "something filled"
        return
    note = _text(cells[NOTE_COL - 1]) or None
    if value is None:
        return
    seen.filled.setdefault(period, set()).add(spec.id)
    result.first_row.setdefault(period, number)
    if key not in seen.bad:
        result.rows.append(ImportRow(number, period, spec.id, value, note))


def _check_required(form: FormSpec, result: WorkbookCheck, seen: _Seen) -> None:
    """A period with any value must have every required field filled."""
    for period, filled in sorted(seen.filled.items()):
        for spec in form.fields:
            key = (period, spec.id)
            if not spec.required or spec.id in filled or key in seen.bad:
                continue
            number = seen.rows_by_key.get(key)
            label = _period_text(form.granularity, result.year or 0, period)
            if number is not None:
                result.issues.append(_issue(number, VALUE_COL, spec, None,
                                            f"必填项未填写（{label} 已填写其他数值，该期间的必填字段都须填写）"))
            else:
                result.issues.append(CellIssue(DATA_SHEET, None, "", spec.label, None,
                                               f"必填项未填写：模板中缺少 {label} 的这一行", spec.code))


# --- the annotated workbook ----------------------------------------------------------------------

def annotate(content: bytes, issues: Sequence[CellIssue]) -> bytes | None:
    """The user's workbook with each bad cell filled red and commented, and a 错误汇总 sheet first.

    None when the file cannot be opened as a workbook (there is nothing to annotate).
    """
    try:
        wb = openpyxl.load_workbook(io.BytesIO(content))
    except Exception:  # openpyxl raises many unrelated types for a file that is not a workbook
        return None
    reasons: dict[tuple[str, str], list[str]] = {}
    for issue in issues:
        if issue.row is not None and issue.sheet in wb.sheetnames:
            reasons.setdefault((issue.sheet, f"{issue.column or 'A'}{issue.row}"), []).append(issue.reason)
    for (sheet, ref), texts in reasons.items():
        cell = wb[sheet][ref]
        cell.fill = _ERROR_FILL
        text = "\n".join(texts)
        cell.comment = Comment(text, "组织碳平台", width=320, height=max(60, 20 * len(texts) + 40))
    if ERRORS_SHEET in wb.sheetnames:
        del wb[ERRORS_SHEET]
    summary = wb.create_sheet(ERRORS_SHEET, 0)
    summary.append(["工作表", "行", "列", "字段", "值", "原因"])
    for cell in summary[1]:
        cell.font, cell.fill = _BOLD, _HEAD_FILL
    for issue in issues:
        shown = issue.as_dict()["value"]
        summary.append([issue.sheet, issue.row, issue.column, issue.field, shown, issue.reason])
    for letter, width in zip("ABCDEF", (12, 8, 6, 30, 20, 70), strict=True):
        summary.column_dimensions[letter].width = width
    for sheet in wb.worksheets:
        sheet.sheet_view.tabSelected = False
    wb.active = 0
    summary.sheet_view.tabSelected = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
