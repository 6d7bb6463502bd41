"""``validate PACKAGE [--json] [--rules FILE]`` through click, on the golden and a planted package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from orgcarbon.rules.quality.pack import default_pack
from orgcarbon.rules.quality.validate_cli import validate
from tests.unit.quality.conftest import GOLDEN_PACKAGE, PLANTED_PACKAGE


def test_golden_package_passes_with_exit_code_0() -> None:
    result = CliRunner().invoke(validate, [str(GOLDEN_PACKAGE)])
    assert result.exit_code == 0
    assert result.output == "规则包“钢铁行业默认数据质量规则包”（13 条规则）：未发现问题。\n"


def test_planted_errors_print_a_chinese_table_and_exit_1() -> None:
    result = CliRunner().invoke(validate, [str(PLANTED_PACKAGE)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].split() == ["规则", "级别", "行", "说明"]
    assert lines[1].split()[:3] == ["ncv-solid-range", "错误", "2"]
    assert "焦炭的低位发热量 2.84 GJ/t 超出合理范围 [5, 50]" in lines[1]
    assert lines[-1] == "共 5 条：错误 3，警告 2，提示 0"


def test_json_output_lists_findings_and_cleaning_actions() -> None:
    result = CliRunner().invoke(validate, [str(PLANTED_PACKAGE), "--json"])
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document["errors"] == 3 and document["warnings"] == 2
    assert document["findings"][0] == {
        "rule": "ncv-solid-range",
        "version": 1,
        "severity": "error",
        "rows": [2],
        "message": "焦炭的低位发热量 2.84 GJ/t 超出合理范围 [5, 50]",
        "dimension": "accuracy",
        "key": "",
    }
    assert document["actions"] == [
        {
            "rule": "dedupe-exact",
            "version": 1,
            "row_id": 4,
            "field": "*",
            "before": 70000.0,
            "after": None,
        }
    ]


def test_rules_option_uses_another_pack_and_warnings_exit_0(tmp_path: Path) -> None:
    pack = default_pack().as_dict()
    pack["rules"] = [r for r in pack["rules"] if r["id"] in ("month-over-month", "dedupe-exact")]
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(pack, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(validate, [str(PLANTED_PACKAGE), "--rules", str(path)])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "共 2 条：错误 0，警告 2，提示 0"


def test_bad_rules_file_is_refused_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "id": "x",
                        "kind": "validation",
                        "action": "flag",
                        "condition": "nvc > 1",
                        "message": "m",
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(validate, [str(GOLDEN_PACKAGE), "--rules", str(path)])
    assert result.exit_code == 2
    assert '规则 x 的 condition：第 1 行第 1 列：未知变量 "nvc"' in result.output


def test_rejected_package_exits_1_with_the_parser_issues(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format": "orgcarbon-activity/1"}), encoding="utf-8")
    result = CliRunner().invoke(validate, [str(path), "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["rejected"] is True


def test_runs_standalone_as_a_module() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "orgcarbon.rules.quality.validate_cli",
            str(PLANTED_PACKAGE),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and json.loads(done.stdout)["errors"] == 3
