"""``orgcarbon calc PACKAGE --report FILE.docx|FILE.xlsx``: the built-in report straight from a package."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from docx import Document

from orgcarbon.rules.calc import calc

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "domain" / "golden-bfbof-annual.package.json"
GOLDEN_TOTAL = 5_163_239.00


def _text(path: Path) -> str:
    document = Document(str(path))
    parts = [p.text for p in document.paragraphs]
    parts += [c.text for t in document.tables for r in t.rows for c in r.cells]
    parts += [p.text for s in document.sections for p in s.header.paragraphs]
    return "\n".join(parts)


def test_docx_report_of_the_golden_package_is_a_draft_with_the_golden_total(tmp_path: Path) -> None:
    out = tmp_path / "报告.docx"
    result = CliRunner().invoke(calc, [str(GOLDEN), "--report", str(out)])
    assert result.exit_code == 0, result.output
    assert "排放总量：5,163,239.00 tCO2" in result.output  # the usual table is still printed
    assert f"已生成报告（草稿）：{out}" in result.output
    text = _text(out)
    assert "5,163,239.00" in text and "草稿" in text


def test_xlsx_tables_keep_stdout_pure_json(tmp_path: Path) -> None:
    out = tmp_path / "补充数据表.xlsx"
    result = CliRunner().invoke(calc, [str(GOLDEN), "--json", "--report", str(out)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total_tco2"] == pytest.approx(GOLDEN_TOTAL, abs=0.01)
    assert "已生成报告（草稿）" in result.stderr
    summary = openpyxl.load_workbook(out)["汇总表"]
    assert summary["B17"].value == pytest.approx(GOLDEN_TOTAL, abs=0.01)


def test_other_suffix_is_refused_before_anything_is_computed(tmp_path: Path) -> None:
    out = tmp_path / "报告.pdf"
    result = CliRunner().invoke(calc, [str(GOLDEN), "--report", str(out)])
    assert result.exit_code == 2 and "报告文件名应以 .docx（报告）或 .xlsx（补充数据表）结尾" in result.output
    assert not out.exists()


def test_rejected_package_writes_no_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(GOLDEN.read_text(encoding="utf-8").replace('"焦炭"', '"不存在的燃料"', 1), encoding="utf-8")
    out = tmp_path / "报告.docx"
    result = CliRunner().invoke(calc, [str(bad), "--report", str(out)])
    assert result.exit_code == 1 and "不存在的燃料" in result.output
    assert not out.exists()
