"""``orgcarbon report render`` and ``report check`` on files."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from docx import Document

from orgcarbon.report_templates.builtin import BUILTIN
from orgcarbon.report_templates.report_cli import report

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "domain" / "golden-bfbof-annual.package.json"


def test_render_writes_the_report_with_the_golden_total(tmp_path: Path) -> None:
    out = tmp_path / "报告.docx"
    result = CliRunner().invoke(report, ["render", str(GOLDEN), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "已生成" in result.output
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    text += "\n".join(c.text for t in Document(str(out)).tables for r in t.rows for c in r.cells)
    assert "5,163,239.00" in text


def test_render_refuses_a_bad_package_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(GOLDEN.read_text(encoding="utf-8").replace('"焦炭"', '"不存在的燃料"', 1), encoding="utf-8")
    out = tmp_path / "报告.docx"
    result = CliRunner().invoke(report, ["render", str(bad), "-o", str(out)])
    assert result.exit_code != 0
    assert "不存在的燃料" in result.output and "未生成报告" in result.output
    assert not out.exists()


def test_check_passes_the_builtin_and_fails_a_broken_template(tmp_path: Path) -> None:
    for path, _version, _title in BUILTIN.values():
        ok = CliRunner().invoke(report, ["check", str(path)])
        assert ok.exit_code == 0, ok.output
    broken = tmp_path / "坏模板.xlsx"
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "{{ no_such_variable }}"
    wb.save(broken)
    bad = CliRunner().invoke(report, ["check", str(broken)])
    assert bad.exit_code == 1
    assert "no_such_variable" in bad.output and "[错误]" in bad.output
