"""Built-in templates rendered from the golden case, read back, equal the accounting result."""

from __future__ import annotations

import io
from typing import Any

import docx
import openpyxl
import pytest

from orgcarbon.report_templates.builtin import REPORT_DOCX
from orgcarbon.report_templates.chart import cjk_font
from orgcarbon.report_templates.generate import render_builtin, report_from_package
from orgcarbon.report_templates.render_docx import render_docx
from orgcarbon.report_templates.tables import supplementary_workbook
from tests.unit.report_templates.conftest import GOLDEN


@pytest.fixture(scope="module")
def report(context: dict[str, Any]) -> docx.document.Document:
    return docx.Document(io.BytesIO(render_builtin("gbt32151.5-report", context).content))


def _table_rows(doc: docx.document.Document, header: str) -> list[list[str]]:
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == header)
    return [[c.text for c in row.cells] for row in table.rows[1:]]


def test_docx_states_golden_totals_formatted_for_chinese_reports(report: Any) -> None:
    text = "\n".join(p.text for p in report.paragraphs)
    assert "温室气体排放总量为 5,163,239.00 吨二氧化碳（516.32万吨）" in text
    assert "直接排放 4,568,909.00 吨" in text and "间接排放 594,330.00 吨" in text
    assert "单位粗钢排放量 1.7211 tCO2/t" in text
    assert "报告主体（盖章）：示例联合钢铁有限公司（虚构）" in text
    assert "编制日期：2023年3月31日" in text
    assert "{{" not in text and "{%" not in text


def test_docx_emissions_by_source_shows_deductions_negative(report: Any) -> None:
    rows = {r[0]: r[1:] for r in _table_rows(report, "排放源")}
    assert rows["化石燃料燃烧 E燃烧"] == ["4,257,061.86", "4,257,061.86"]
    assert rows["工业生产过程 E过程"] == ["366,647.14", "366,647.14"]
    assert rows["输出电力 E输出电（扣减）"] == ["57,030.00", "-57,030.00"]
    assert rows["固碳产品 R固碳（扣减）"] == ["54,800.00", "-54,800.00"]
    assert rows["排放总量"][-1] == "5,163,239.00"


def test_docx_by_process_and_factor_origin(report: Any) -> None:
    rows = {r[0]: r[1] for r in _table_rows(report, "工序")}
    assert rows == {
        "焦化": "2,794,793.73",
        "炼铁": "1,087,851.67",
        "烧结": "551,687.15",
        "轧钢": "64,865.66",
        "全厂": "696,743.64",
        "炼钢": "57,327.14",
        "自备电厂": "-90,030.00",
    }
    factors = _table_rows(report, "物料")
    assert ["石灰石", "纯度", "0.92", "1", "实测值"] in [r[:5] for r in factors]
    assert [
        "洗精煤",
        "低位发热量",
        "26.344",
        "GJ/t",
        "缺省值",
        "GB/T 32151.5-2015 表B.1",
    ] in factors
    assert ["电力", "排放因子", "0.5703", "tCO2/MWh", "指定值"] in [r[:5] for r in factors]


def test_docx_contains_the_process_chart(report: Any) -> None:
    assert len(report.inline_shapes) == 1
    blobs = [r.target_part.blob for r in report.part.rels.values() if "image" in r.reltype]
    assert blobs and blobs[0][:8] == b"\x89PNG\r\n\x1a\n"
    assert cjk_font() is not None  # fonts-wqy-zenhei is installed here


def test_draft_report_carries_the_draft_header(context: dict[str, Any]) -> None:
    doc = docx.Document(
        io.BytesIO(render_docx(REPORT_DOCX.read_bytes(), {**context, "draft": True}).content)
    )
    assert doc.sections[0].header.paragraphs[0].text.startswith("草稿")
    final = docx.Document(io.BytesIO(render_docx(REPORT_DOCX.read_bytes(), context).content))
    assert final.sections[0].header.paragraphs[0].text == ""


def test_xlsx_template_fills_named_cells_markers_and_growing_tables(
    context: dict[str, Any],
) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render_builtin("gbt32151.5-tables", context).content))
    ws = wb["汇总表"]
    assert ws["B3"].value == "示例联合钢铁有限公司（虚构）"
    assert ws["B9"].value == pytest.approx(4257061.86, abs=0.005)
    assert ws["B13"].value == 57030.0
    assert ws["B16"].value == "=B9+B10+B11+B12-B13-B14-B15"  # the form's own total formula
    assert round(ws["B17"].value, 2) == 5163239.00
    assert ws["B17"].number_format == "#,##0.00"
    processes = [r for r in wb["分工序"].iter_rows(min_row=3, values_only=True)]
    assert [r[0] for r in processes] == ["焦化", "炼铁", "烧结", "轧钢", "全厂", "炼钢", "自备电厂"]
    assert round(processes[-1][1], 2) == -90030.00
    assert wb["分工序"]["C3"].number_format == "0.00%"
    assert wb["活动数据"].max_row == 2 + len(context["activity_data"])
    assert wb["活动数据"]["A22"].border.left.style == "thin"  # anchor style copied down


def test_supplementary_workbook_sheets_and_total(context: dict[str, Any]) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(supplementary_workbook(context)))
    assert wb.sheetnames == ["按排放源汇总", "活动数据", "排放因子", "分工序", "分子工序", "分月"]
    last = list(wb["按排放源汇总"].iter_rows(values_only=True))[-1]
    assert last[0] == "合计" and round(last[4], 2) == 5163239.00
    assert wb["活动数据"].max_row == 2 + 20


def test_report_from_package_writes_the_builtin_report(tmp_path: Any) -> None:
    out = tmp_path / "report.xlsx"
    report_from_package(GOLDEN, out, draft=False)
    wb = openpyxl.load_workbook(out)
    assert round(wb["汇总表"]["B17"].value, 2) == 5163239.00
