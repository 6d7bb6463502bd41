"""Activity packages: every rejection rule with its row number, JSON and xlsx, via calc too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from orgcarbon.rules.calc import calc, run_calc
from orgcarbon.rules.issues import Issue
from orgcarbon.rules.package import PackageError, parse_package, read_package
from orgcarbon.rules.package_fields import HEADERS


def _package(*records: dict[str, Any], **top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": "orgcarbon-activity/1",
        "standard": "GB/T 32151.5-2015",
        "organization": {"name": "测试钢铁"},
        "period": {"year": 2023},
        "electricity_ef": 0.5703,
        "records": list(records),
    }
    data.update(top)
    return data


GOOD = {"category": "fuel_combustion", "material": "焦炭", "quantity": 100, "unit": "t"}


def _issues(data: dict[str, Any]) -> list[Issue]:
    with pytest.raises(PackageError) as info:
        parse_package(data)
    return list(info.value.issues)


def _one(data: dict[str, Any]) -> Issue:
    issues = _issues(data)
    assert len(issues) == 1, issues
    return issues[0]


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        ({**GOOD, "material": "月球岩石"}, "material", "未知物料（因子库中没有此物料）"),
        ({**GOOD, "category": "magic"}, "category", "未知类别"),
        ({**GOOD, "unit": "桶"}, "unit", "未知单位“桶”"),
        ({**GOOD, "unit": "GJ"}, "unit", "单位“GJ”（能量）不能换算为“t”（质量）"),
        ({**GOOD, "quantity": "很多"}, "quantity", "数量不是数字"),
        ({**GOOD, "quantity": True}, "quantity", "数量不是数字"),
        ({**GOOD, "of": 93}, "of", "碳氧化率应为 0–1 之间的小数"),
        ({**GOOD, "ncv": -1}, "ncv", "低位发热量不能为负数"),
        ({**GOOD, "cc": "abc"}, "cc", "单位热值含碳量不是数字"),
        (
            {
                "category": "process_flux",
                "material": "石灰石",
                "quantity": 1,
                "unit": "t",
                "purity": 1.2,
            },
            "purity",
            "纯度应为 0–1 之间的小数",
        ),
        ({**GOOD, "purity": 0.9}, "purity", "纯度只适用于熔剂"),
        (
            {**GOOD, "material": "石灰石"},
            "material",
            "燃料缺少低位发热量(ncv)、单位热值含碳量(cc)、碳氧化率(of)",
        ),
        (
            {"category": "process_flux", "material": "焦炭", "quantity": 1, "unit": "t"},
            "material",
            "缺少过程排放因子(ef)",
        ),
        (
            {"category": "process_flux", "material": "石灰石", "quantity": -5, "unit": "t"},
            "quantity",
            "只有燃料燃烧的净消耗量可以为负数",
        ),
        (
            {"category": "purchased_electricity", "material": "焦炭", "quantity": 1, "unit": "t"},
            "material",
            "的物料应为“电力”",
        ),
        ({**GOOD, "month": "2023/13"}, "month", "月份格式应为 YYYY-MM"),
        ({**GOOD, "month": "2022-12"}, "month", "月份不在核算期"),
        ({**GOOD, "quantiy": 5}, "quantiy", "未知字段"),
        (
            {"category": "fuel_combustion", "material": "焦炭", "unit": "t"},
            "quantity",
            "缺少必填字段",
        ),
    ],
)
def test_each_rejection_rule_names_row_field_value_and_reason(
    record: dict[str, Any], field: str, reason: str
) -> None:
    issue = _one(_package(GOOD, GOOD, record))
    assert issue.row == 3
    assert issue.field == field
    assert reason in issue.reason
    assert str(issue).startswith(f"第 3 行 {field}")


def test_a_fuel_with_its_own_parameters_is_accepted_even_without_library_values() -> None:
    record = {
        "category": "fuel_combustion",
        "material": "石灰石",
        "quantity": 1,
        "unit": "t",
        "ncv": 10,
        "cc": 0.02,
        "of": 0.9,
    }
    assert parse_package(_package(record)).rows[0].ncv == 10


def test_all_errors_are_collected_not_just_the_first() -> None:
    issues = _issues(
        _package(
            {**GOOD, "quantity": "x"},
            GOOD,
            {**GOOD, "material": "?", "of": 2},
            {**GOOD, "unit": "桶"},
        )
    )
    assert [(i.row, i.field) for i in issues] == [
        (1, "quantity"),
        (3, "material"),
        (3, "of"),
        (4, "unit"),
    ]


@pytest.mark.parametrize(
    ("top", "field"),
    [
        ({"format": "orgcarbon-activity/2"}, "format"),
        ({"standard": "ISO 14064"}, "standard"),
        ({"organization": {}}, "organization.name"),
        ({"organization": {"name": "x", "grid_region": "火星"}}, "organization.grid_region"),
        ({"period": {"year": "明年"}}, "period.year"),
        ({"period": {"start": "2023-12-31", "end": "2023-01-01"}}, "period.end"),
        ({"electricity_ef": -1}, "electricity_ef"),
        ({"records": []}, "records"),
    ],
)
def test_top_level_rules(top: dict[str, Any], field: str) -> None:
    assert _one(_package(GOOD, **top)).field == field


def test_grid_factor_missing_stops_with_what_is_missing() -> None:
    data = _package(
        {"category": "purchased_electricity", "material": "电力", "quantity": 1, "unit": "MWh"},
        electricity_ef=None,
    )
    issue = _one(data)
    assert issue.field == "electricity_ef"
    assert "未指定电网区域" in issue.reason and "electricity_ef" in issue.reason


def test_grid_region_and_year_choose_the_factor_with_fallback_note(write_package: Any) -> None:
    data = _package(
        {"category": "purchased_electricity", "material": "电力", "quantity": 1000, "unit": "MWh"},
        electricity_ef=None,
        organization={"name": "测试", "grid_region": "华北"},
        period={"year": 2025},
    )
    outcome = run_calc(write_package(data), as_json=True)
    assert outcome.exit_code == 0, outcome.stderr
    document = json.loads(outcome.stdout)
    assert document["total_tco2"] == pytest.approx(636.1)
    assert any("沿用最近的 2023 年因子" in note for note in document["notes"])
    assert document["factors_used"][0]["id"] == "mee-nbs/2023/华北/electricity"


def test_chinese_keys_category_names_and_unit_aliases_are_accepted() -> None:
    record = {
        "工序": "炼铁",
        "类别": "燃料燃烧",
        "物料": "天然气",
        "数量": "1,000",
        "单位": "万Nm3",
        "月份": "2023-3",
    }
    row = parse_package(_package(record)).rows[0]
    assert (row.process, row.category, row.quantity, row.unit, row.month) == (
        "炼铁",
        "fuel_combustion",
        1000.0,
        "万Nm3",
        "2023-03",
    )


def test_period_by_start_and_end() -> None:
    package = parse_package(_package(GOOD, period={"start": "2023-04-01", "end": "2024-03-31"}))
    assert package.year == 2023 and package.end.isoformat() == "2024-03-31"


def test_rejected_package_exits_non_zero_names_rows_and_prints_no_total(write_package: Any) -> None:
    path = write_package(_package(GOOD, {**GOOD, "quantity": "abc"}, {**GOOD, "material": "无"}))
    outcome = CliRunner().invoke(calc, [str(path)])
    assert outcome.exit_code != 0
    assert '第 2 行 quantity="abc"：数量不是数字' in outcome.stderr
    assert '第 3 行 material="无"：未知物料' in outcome.stderr
    assert outcome.stdout == ""
    assert "排放总量：" not in outcome.output and "tCO2" not in outcome.output


def test_rejected_package_with_json_flag_lists_issues_without_total(write_package: Any) -> None:
    path = write_package(_package({**GOOD, "unit": "桶"}))
    outcome = CliRunner().invoke(calc, [str(path), "--json"])
    assert outcome.exit_code != 0
    document = json.loads(outcome.stdout)
    assert document["rejected"] is True and "total_tco2" not in document
    assert document["issues"][0]["row"] == 1 and document["issues"][0]["field"] == "unit"


def test_missing_file_and_bad_json_are_reported_in_chinese(tmp_path: Path) -> None:
    assert "文件不存在" in run_calc(tmp_path / "none.json").stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": ', encoding="utf-8")
    assert "JSON 格式错误：第 1 行" in run_calc(broken).stderr
    other = tmp_path / "data.csv"
    other.write_text("x", encoding="utf-8")
    assert "不支持的文件类型" in run_calc(other).stderr


def _workbook(path: Path, headers: list[str], rows: list[list[Any]], top: dict[str, Any]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "records"
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    package = book.create_sheet("package")
    for key, value in top.items():
        package.append([key, value])
    book.save(path)
    return path


TOP = {
    "format": "orgcarbon-activity/1",
    "standard": "GB/T 32151.5-2015",
    "organization.name": "表格钢铁",
    "period.year": 2023,
    "electricity_ef": 0.5703,
}


def test_workbook_with_chinese_headers_gives_the_same_result_as_json(
    tmp_path: Path, golden_package: dict[str, Any]
) -> None:
    keys = list(HEADERS)[:12]
    rows = [[r.get(k) for k in keys] for r in golden_package["records"]]
    path = _workbook(
        tmp_path / "golden.xlsx", [HEADERS[k] for k in keys], rows, {**TOP, "period.year": 2022}
    )
    package = read_package(path)
    assert package.rows[0].row == 2  # the sheet's own row number, after the header
    outcome = run_calc(path, as_json=True)
    assert outcome.exit_code == 0, outcome.stderr
    assert json.loads(outcome.stdout)["total_tco2"] == pytest.approx(5163239.0, abs=0.05)


def test_workbook_rejections_use_sheet_row_numbers(tmp_path: Path) -> None:
    rows = [
        ["fuel_combustion", "焦炭", 10, "t"],
        [None, None, None, None],
        ["fuel_combustion", "焦炭", "十", "t"],
    ]
    path = _workbook(tmp_path / "bad.xlsx", ["类别", "物料", "数量", "单位", "颜色"], rows, TOP)
    with pytest.raises(PackageError) as info:
        read_package(path)
    found = {(i.row, i.field) for i in info.value.issues}
    assert (4, "quantity") in found  # row 3 of the sheet is blank but still counted
    assert (1, "颜色") in found  # unknown column header


def test_workbook_without_records_sheet_is_rejected(tmp_path: Path) -> None:
    book = Workbook()
    book.active.title = "其他"  # type: ignore[union-attr]
    book.save(tmp_path / "empty.xlsx")
    with pytest.raises(PackageError, match="缺少名为 records 的工作表"):
        read_package(tmp_path / "empty.xlsx")
