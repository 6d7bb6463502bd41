"""Each planted template problem is reported with its location and a Chinese message."""

from __future__ import annotations

import io

import openpyxl
import pytest
from openpyxl.workbook.defined_name import DefinedName

from orgcarbon.report_templates.builtin import REPORT_DOCX, TABLES_XLSX
from orgcarbon.report_templates.checks import CheckReport, check_template
from orgcarbon.report_templates.environment import RenderError
from orgcarbon.report_templates.render_xlsx import fill_workbook
from tests.unit.report_templates.conftest import rewrite_zip

DOC = "word/document.xml"


def _docx(old: str, new: str) -> CheckReport:
    return check_template(rewrite_zip(REPORT_DOCX.read_bytes(), DOC, old, new), "t.docx")


def _only(report: CheckReport, code: str) -> tuple[str, str, str]:
    found = [i for i in report.errors if i.code == code]
    assert len(found) == 1, report.issues
    return found[0].location, found[0].message, found[0].text


def test_builtin_templates_pass_their_own_checks() -> None:
    assert check_template(REPORT_DOCX.read_bytes(), "r.docx").issues == ()
    assert check_template(TABLES_XLSX.read_bytes(), "t.xlsx").issues == ()


def test_tag_split_across_word_runs_is_located_with_its_pieces() -> None:
    # What Word does when a consultant re-formats half of a tag: one w:r becomes two.
    report = _docx("<w:t>{{ org_code }}</w:t>", "<w:t>{{ org_</w:t></w:r><w:r><w:t>code }}</w:t>")
    location, message, text = _only(report, "split_tag")
    assert location.startswith("正文 表格 1 第 3 行第 2 列")
    assert "拆分成 2 段" in message and "「{{ org_」「code }}」" in message
    assert text == "{{ org_code }}"
    assert not report.ok


def test_unknown_variable_is_named_and_located() -> None:
    location, message, text = _only(
        _docx("{{ contact_phone }}", "{{ contact_fone }}"), "unknown_variable"
    )
    assert location.startswith("正文 表格 1 第 9 行第 2 列")
    assert "未知变量“contact_fone”" in message and text == "contact_fone"


def test_loop_over_a_scalar_is_reported() -> None:
    report = _docx("{%tr for r in by_process %}", "{%tr for r in total_tco2 %}")
    location, message, _ = _only(report, "loop_not_list")
    assert "表格 3" in location and "不能对单个值“total_tco2”循环" in message


def test_broken_jinja_tag_gives_the_paragraph() -> None:
    location, message, text = _only(_docx("{{ org_nature }}", "{{ org_nature }"), "syntax")
    assert location.startswith("正文 表格 1 第 4 行第 2 列")
    assert message.startswith("多余或不配对的 }") and text == "{{ org_nature }"


def test_unknown_filter_and_unknown_row_field() -> None:
    report = _docx("{{ r.share|pct }}", "{{ r.shares|pcent }}")
    codes = {i.code: i for i in report.errors}
    assert set(codes) == {"unknown_filter", "unknown_field"}
    assert "不存在的过滤器“pcent”" in codes["unknown_filter"].message
    assert "没有字段“shares”" in codes["unknown_field"].message


def test_header_tags_are_checked_too() -> None:
    data = rewrite_zip(REPORT_DOCX.read_bytes(), "word/header1.xml", "if draft", "if drafted")
    location, _, text = _only(check_template(data, "r.docx"), "unknown_variable")
    assert location.startswith("页眉（header1.xml）") and text == "drafted"


def _workbook_bytes(wb: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_excel_marker_to_a_missing_variable_and_names_pointing_nowhere() -> None:
    wb = openpyxl.load_workbook(TABLES_XLSX)
    wb["汇总表"]["B20"] = "{{ intensity_totl }}"
    wb.defined_names["by_process.tco3"] = DefinedName("by_process.tco3", attr_text="分工序!$B$3")
    wb.defined_names["e_process"] = DefinedName("e_process", attr_text="#REF!")
    wb.defined_names["total_tco2"] = DefinedName("total_tco2", attr_text="已删除!$B$2")
    report = check_template(_workbook_bytes(wb), "t.xlsx")
    found = {(i.code, i.location) for i in report.errors}
    assert found == {
        ("unknown_variable", "汇总表!B20"),
        ("unknown_field", "名称 by_process.tco3"),
        ("bad_name", "名称 e_process"),
        ("bad_name", "名称 total_tco2"),
    }
    with pytest.raises(RenderError, match="汇总表!B20"):
        fill_workbook(_workbook_bytes(wb), {})
