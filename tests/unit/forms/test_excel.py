"""Excel templates of a form and the check of a filled one (pure: plain values in, bytes and issues out)."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import time
from typing import Any

import openpyxl
import pytest

from orgcarbon.forms import excel, excel_check
from orgcarbon.forms.excel import FieldSpec, FormSpec, PeriodSpec
from orgcarbon.forms.excel_check import WorkbookRefused, check_workbook, parse_period
from orgcarbon.forms.service import parse_value

FIELDS = (
    FieldSpec(1, "coke", "1#高炉焦炭消耗量", unit="t", place="炼铁/1#高炉", material="焦炭",
              parameter_label="消耗量/产量", help_text="按月度盘点"),
    FieldSpec(2, "ncv", "焦炭低位发热量", unit="GJ/t", required=False, min_value=1, max_value=60),
    FieldSpec(3, "gas", "煤气净消耗量", unit="10^4Nm3", allow_negative=True),
    FieldSpec(4, "grade", "焦炭等级", unit=None, data_type="choice", choices=("一级", "二级"), required=False),
)
FORM = FormSpec(7, "west-monthly", "西区月报", 3, 11, "西区", "month", FIELDS)
PERIODS = [PeriodSpec(1, "2025-01", dt.date(2025, 2, 10)), PeriodSpec(2, "2025-02", dt.date(2025, 3, 10)),
           PeriodSpec(3, "2025-03", dt.date(2025, 4, 10), locked="期间 2025-03 已关闭，不能导入")]


def _parse(spec: FieldSpec, raw: Any) -> tuple[Any, str | None]:
    return parse_value(spec, raw)  # type: ignore[arg-type]


def _template(form: FormSpec = FORM, **kwargs: Any) -> bytes:
    return excel.build_template(form, 2025, PERIODS, **kwargs)


def _fill(content: bytes, values: dict[tuple[str, str], Any], edits: dict[str, Any] | None = None,
          sheet: str = excel.DATA_SHEET) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(content))
    ws = wb[excel.DATA_SHEET]
    for row in ws.iter_rows(min_row=3):
        if (row[0].value, row[1].value) in values:
            row[7].value = values[(row[0].value, row[1].value)]
    for ref, value in (edits or {}).items():
        wb[sheet][ref] = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _january(**changes: Any) -> dict[tuple[str, str], Any]:
    values: dict[tuple[str, str], Any] = {("2025-01", "coke"): 1200, ("2025-01", "ncv"): 28.4,
                                          ("2025-01", "gas"): -35.5, ("2025-01", "grade"): "一级"}
    values.update({("2025-01", k): v for k, v in changes.items()})
    return values


def _reasons(check: excel_check.WorkbookCheck) -> list[tuple[int | None, str, str]]:
    return [(i.row, i.column, i.reason) for i in check.issues]


def test_template_has_long_data_sheet_instructions_and_hidden_identity() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(_template(values={(1, 1): 999.0})))
    assert wb.sheetnames == ["填报数据", "填写说明", "_lists", "_meta"]
    assert [wb[n].sheet_state for n in wb.sheetnames] == ["visible", "visible", "veryHidden", "veryHidden"]
    ws = wb["填报数据"]
    assert [c.value for c in ws[2]] == list(excel.HEADERS)
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert len(rows) == len(PERIODS) * len(FIELDS)
    assert rows[0] == ("2025-01", "coke", "1#高炉焦炭消耗量", "炼铁/1#高炉", "焦炭", "消耗量/产量", "t", 999.0, None)
    assert rows[8][0] == "2025-03" and rows[8][8] == "期间 2025-03 已关闭，不能导入"
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert (meta["format"], meta["template_version"], meta["form_code"], meta["form_revision"],
            meta["organization_id"], meta["year"], meta["periods"]) == (
        "orgcarbon-form-template", 1, "west-monthly", 3, 11, 2025, "1,2,3")
    guide = [c for row in wb["填写说明"].iter_rows(values_only=True) for c in row if c]
    assert "按月度盘点" in guide and "2025-02-10" in guide and "≥ 1，≤ 60" in guide and "一级、二级" in guide


def test_only_value_and_note_cells_of_open_periods_are_unlocked_and_sheets_have_no_password() -> None:
    ws = openpyxl.load_workbook(io.BytesIO(_template()))["填报数据"]
    assert ws.protection.sheet and not ws.protection.password
    locked = {c.column_letter for c in ws[3] if c.protection.locked}
    assert locked == set("ABCDEFG")
    assert ws["A1"].protection.locked and ws["H2"].protection.locked
    closed = 3 + 2 * len(FIELDS)  # first row of 2025-03
    assert ws[f"H{closed}"].protection.locked and ws[f"I{closed}"].protection.locked


def test_drop_downs_for_periods_and_choices_and_ranges_for_numbers() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(_template()))
    validations = wb["填报数据"].data_validations.dataValidation
    by_cells = {str(v.sqref): v for v in validations}
    period = by_cells["A3:A14"]
    assert period.type == "list" and period.formula1 == "'_lists'!$A$1:$A$3"
    assert [r[0] for r in wb["_lists"].iter_rows(values_only=True)] == ["2025-01", "2025-02", "2025-03"]
    grade = next(v for v in validations if v.type == "list" and v is not period)
    assert str(grade.sqref) == "H6 H10"  # the choice field of the two open months
    assert [r[1] for r in wb["_lists"].iter_rows(values_only=True)][:2] == ["一级", "二级"]
    ncv = next(v for v in validations if v.type == "decimal" and v.operator == "between")
    assert (ncv.formula1, ncv.formula2, str(ncv.sqref)) == ("1", "60", "H4 H8")
    coke = next(v for v in validations if v.type == "decimal" and v.operator == "greaterThanOrEqual")
    assert coke.formula1 == "0" and str(coke.sqref) == "H3 H7"  # gas may be negative: no rule


def test_500_field_template_is_generated_in_under_two_seconds() -> None:
    fields = tuple(FieldSpec(i, f"f{i}", f"字段{i}", unit="t", data_type="choice" if i % 25 == 0 else "number",
                             choices=("是", "否") if i % 25 == 0 else ()) for i in range(1, 501))
    form = FormSpec(1, "big", "大表", 1, 1, "集团", "month", fields)
    periods = [PeriodSpec(m, f"2025-{m:02d}") for m in range(1, 13)]
    best = min(_timed(lambda: excel.build_template(form, 2025, periods)) for _ in range(2))
    assert best < 2.0
    assert excel_check.count_rows(excel.build_template(form, 2025, periods)) == 500 * 12


def _timed(step: Any) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def test_good_workbook_gives_rows_with_their_sheet_row_numbers() -> None:
    check = check_workbook(FORM, _fill(_template(), _january(coke="1,250.5")), _parse)
    assert check.ok and check.year == 2025 and check.data_rows == 12
    assert [(r.row, r.period, r.field_id, r.value) for r in check.rows] == [
        (3, 1, 1, 1250.5), (4, 1, 2, 28.4), (5, 1, 3, -35.5), (6, 1, 4, "一级")]
    assert check.first_row == {1: 3}


@pytest.mark.parametrize(("changes", "edits", "expected"), [
    ({"coke": "abc"}, {}, [(3, "H", "应为数字，实际为“abc”")]),
    ({"coke": -3}, {}, [(3, "H", "不能为负数（-3）")]),
    ({"ncv": 75}, {}, [(4, "H", "不能大于 60（填写了 75）")]),
    ({"grade": "特级"}, {}, [(6, "H", "“特级”不在可选值中（一级、二级）")]),
    ({}, {"G3": "kg"}, [(3, "G", "单位与模板不一致：模板为“t”，填写为“kg”；请按模板单位换算后填写")]),
    ({}, {"B4": "nope"}, [(4, "B", "表单中没有字段代码“nope”")]),
    ({}, {"A4": "2024-01"}, [(4, "A", "期间“2024-01”不在模板的年份（2025 年）内")]),
    ({}, {"A4": "2025-07"}, [(4, "A", "期间“2025-07”不在模板的期间内（2025-01、2025-02、2025-03）")]),
    ({}, {"A4": "上个月"}, [(4, "A", "期间“上个月”无效，应为“2025-01”这样的期间")]),
    ({}, {"A7": "2025-01"}, [(7, "B", "与第 3 行重复（同一期间、同一字段出现两次）")]),
])
def test_each_bad_cell_is_reported_with_row_column_and_reason(changes: dict[str, Any], edits: dict[str, Any],
                                                              expected: list[tuple[int, str, str]]) -> None:
    check = check_workbook(FORM, _fill(_template(), _january(**changes), edits), _parse)
    assert _reasons(check) == expected
    assert not check.ok


def test_required_fields_of_a_period_with_any_value_must_be_filled() -> None:
    check = check_workbook(FORM, _fill(_template(), {("2025-02", "ncv"): 30}), _parse)
    assert _reasons(check) == [
        (7, "H", "必填项未填写（2025-02 已填写其他数值，该期间的必填字段都须填写）"),
        (9, "H", "必填项未填写（2025-02 已填写其他数值，该期间的必填字段都须填写）")]
    assert [i.field for i in check.issues] == ["1#高炉焦炭消耗量", "煤气净消耗量"]
    empty = check_workbook(FORM, _template(), _parse)
    assert empty.ok and empty.rows == []  # nothing filled: nothing required


def test_a_required_row_deleted_from_the_sheet_is_reported() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(_fill(_template(), _january())))
    wb[excel.DATA_SHEET].delete_rows(5)  # gas of 2025-01
    out = io.BytesIO()
    wb.save(out)
    check = check_workbook(FORM, out.getvalue(), _parse)
    assert _reasons(check) == [(None, "", "必填项未填写：模板中缺少 2025-01 的这一行")]


def test_excel_dates_and_other_period_spellings_are_understood() -> None:
    assert parse_period("month", dt.datetime(2025, 3, 1)) == (2025, 3)
    assert parse_period("month", "2025年3月") == (2025, 3) and parse_period("month", "2025-13") is None
    assert parse_period("quarter", "2025年第2季度") == (2025, 2) and parse_period("quarter", "2025Q4") == (2025, 4)
    assert parse_period("year", "2025年") == (2025, 0) and parse_period("year", 2025) == (2025, 0)
    check = check_workbook(FORM, _fill(_template(), _january(), {"A3": dt.datetime(2025, 1, 1)}), _parse)
    assert check.ok and check.rows[0].period == 1


@pytest.mark.parametrize(("edit", "reason"), [
    ({"B5": 4}, "模板已过期：模板按表单第 4 版生成，表单现为第 3 版，请重新下载模板后填写"),
    ({"B4": "east-monthly"}, "该模板属于表单“east-monthly”，不是“西区月报”（west-monthly）的模板"),
    ({"B6": 99}, "该模板属于其他组织（编号 99），不能导入到“西区”"),
    ({"B2": 2}, "模板格式版本 2 不受支持（当前为 1），请重新下载模板"),
])
def test_template_of_another_form_organisation_revision_or_format_is_refused(edit: dict[str, Any],
                                                                             reason: str) -> None:
    content = _fill(_template(), _january(), edit, sheet=excel.META_SHEET)
    with pytest.raises(WorkbookRefused, match="^" + reason.replace("（", r"\（").replace("）", r"\）") + "$"):
        check_workbook(FORM, content, _parse)


def test_a_workbook_that_is_no_template_and_a_file_that_is_no_workbook_are_refused() -> None:
    plain = openpyxl.Workbook()
    out = io.BytesIO()
    plain.save(out)
    with pytest.raises(WorkbookRefused, match="不是本平台生成的填报模板"):
        check_workbook(FORM, out.getvalue(), _parse)
    for content in (b"", b"PK\x03\x04 broken", "期间,数值".encode()):
        with pytest.raises(WorkbookRefused, match=r"^文件不是有效的 Excel 工作簿（\.xlsx）$"):
            check_workbook(FORM, content, _parse)
    header = _fill(_template(), {}, {"H2": "值"})
    with pytest.raises(WorkbookRefused, match="第 H 列应为“数值”，实际为“值”"):
        check_workbook(FORM, header, _parse)


def test_progress_is_reported_every_n_rows_and_at_the_end() -> None:
    seen: list[int] = []
    check_workbook(FORM, _template(), _parse, progress=seen.append, every=5)
    assert seen == [5, 10, 12]


def test_annotate_fills_bad_cells_red_with_a_comment_and_lists_them_first() -> None:
    content = _fill(_template(), _january(coke="abc"), {"G4": "kg"})
    check = check_workbook(FORM, content, _parse)
    wb = openpyxl.load_workbook(io.BytesIO(excel_check.annotate(content, check.issues) or b""))
    ws = wb[excel.DATA_SHEET]
    assert ws["H3"].comment.text == "应为数字，实际为“abc”" and ws["H3"].fill.fgColor.rgb == "00FFC7CE"
    assert ws["G4"].comment.text.startswith("单位与模板不一致") and ws["H4"].comment is None
    assert wb.sheetnames[0] == "错误汇总" and wb.active.title == "错误汇总"
    assert list(wb["错误汇总"].iter_rows(values_only=True))[1] == (
        "填报数据", 3, "H", "1#高炉焦炭消耗量", "abc", "应为数字，实际为“abc”")
    assert excel_check.annotate(b"not a workbook", check.issues) is None


def test_excel_modules_need_neither_flask_nor_sqlalchemy() -> None:
    code = ("import sys, orgcarbon.forms.excel, orgcarbon.forms.excel_check; "
            "assert 'flask' not in sys.modules and 'sqlalchemy' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
