"""The shipped steel pack: its own test cases pass, and its bounds fire where they should."""

from __future__ import annotations

import pytest

from orgcarbon.rules.package import read_package
from orgcarbon.rules.quality.pack import default_pack
from orgcarbon.rules.quality.pipeline import validate_package
from orgcarbon.rules.quality.testcases import run_pack_tests, run_rule_tests
from tests.unit.quality.conftest import GOLDEN_PACKAGE, PLANTED_PACKAGE, make_rule


@pytest.mark.parametrize("rule", default_pack().rules, ids=lambda r: r.id)
def test_each_default_rule_passes_its_own_test_cases(rule) -> None:  # type: ignore[no-untyped-def]
    results = run_rule_tests(rule)
    assert results and all(r.passed for r in results), [r.explanation for r in results]


def test_a_failing_case_is_explained_in_chinese() -> None:
    rule = default_pack().rule("ncv-solid-range")
    wrong = make_rule(
        **{
            **rule.__dict__,
            "params": {"ncv_low": 1, "ncv_high": 50},
            "scope": {"materials": list(rule.scope.materials)},
            "tests": [
                {
                    "name": "故意写错的期望",
                    "rows": [
                        {
                            "row_id": 1,
                            "material": "焦炭",
                            "category": "fuel_combustion",
                            "quantity": 1,
                            "ncv": 2.8,
                        }
                    ],
                    "expect_findings": [1],
                }
            ],
        }
    )
    [result] = run_rule_tests(wrong)
    assert not result.passed
    assert result.explanation == "未通过：期望命中行 [1]，实际命中行 []"
    assert run_rule_tests(make_rule())[0].explanation == "规则没有测试用例，不能发布"


def test_whole_pack_has_26_passing_cases() -> None:
    results = run_pack_tests(default_pack().rules)
    assert len(results) == 26 and all(r.passed for r in results)


def test_golden_package_is_clean_but_tighter_bounds_fire() -> None:
    package = read_package(GOLDEN_PACKAGE)
    assert validate_package(package, default_pack().rules).findings == []
    coke = default_pack().rule("coke-rate")
    tight = make_rule(
        **{
            **coke.__dict__,
            "scope": {},
            "tests": [],
            "params": {"coke_rate_low": 0.3, "coke_rate_high": 0.6},
        }
    )
    [finding] = validate_package(package, [tight]).findings
    assert finding.message == " 吨钢焦炭消耗 200000 t / 3000000 t 超出 [0.3, 0.6] t/t"
    assert finding.row_ids == tuple(range(1, 21))


def test_planted_errors_are_all_found() -> None:
    report = validate_package(read_package(PLANTED_PACKAGE), default_pack().rules)
    assert [(f.rule_id, f.severity, f.row_ids) for f in report.findings] == [
        ("ncv-solid-range", "error", (2,)),
        ("month-over-month", "warning", (3,)),
        ("dedupe-exact", "warning", (4,)),
        ("cc-range", "error", (5,)),
        ("completeness-binding-month", "error", (5, 6)),
    ]
    assert report.has_errors and len(report.evaluation.frame) == 8
