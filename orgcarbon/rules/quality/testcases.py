"""Rule test cases (run before publishing and in CI), dry runs and cleaning verification reports."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from orgcarbon.rules.quality.definitions import RuleDefinition, RuleTestCase, sort_rules
from orgcarbon.rules.quality.frame import ensure_columns
from orgcarbon.rules.quality.pipeline import run_rules
from orgcarbon.rules.quality.vectorised import evaluate_records

__all__ = ["CaseResult", "dry_run", "run_pack_tests", "run_rule_tests", "verification_report"]


@dataclass(frozen=True)
class CaseResult:
    """One test case's outcome, explained in Chinese."""

    rule_id: str
    case: str
    passed: bool
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule_id,
            "case": self.case,
            "passed": self.passed,
            "explanation": self.explanation,
        }


def case_frame(rows: Sequence[Any]) -> pd.DataFrame:
    """A record frame from a test case's rows; organisation defaults to 测试组织."""
    frame = pd.DataFrame([dict(r) for r in rows])
    if "organization" not in frame:
        frame["organization"] = "测试组织"
    return ensure_columns(frame)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _run_case(rule: RuleDefinition, case: RuleTestCase) -> CaseResult:
    report = run_rules(case_frame(case.rows), [rule])
    problems: list[str] = []
    hit = sorted({r for f in report.findings if f.rule_id == rule.id for r in f.row_ids})
    if case.expect_findings is not None and hit != sorted(case.expect_findings):
        problems.append(f"期望命中行 {sorted(case.expect_findings)}，实际命中行 {hit}")
    cleaned = report.evaluation.frame
    if case.expect_row_count is not None and len(cleaned) != case.expect_row_count:
        problems.append(f"期望清洗后剩 {case.expect_row_count} 行，实际 {len(cleaned)} 行")
    by_id = cleaned.set_index("row_id")
    for expected in case.expect_values:
        row_id, name, value = (
            expected.get("row_id"),
            str(expected.get("field")),
            expected.get("value"),
        )
        if row_id not in by_id.index:
            problems.append(f"第 {row_id} 行在清洗后不存在")
            continue
        actual = by_id.at[row_id, name]
        actual = actual.item() if hasattr(actual, "item") else actual
        if not _same(actual, value):
            problems.append(f"第 {row_id} 行 {name} 期望 {value}，实际 {actual}")
    if problems:
        return CaseResult(rule.id, case.name, False, "未通过：" + "；".join(problems))
    return CaseResult(rule.id, case.name, True, f"通过：命中行 {hit}，剩余 {len(cleaned)} 行")


def run_rule_tests(rule: RuleDefinition) -> list[CaseResult]:
    """Run every test case of one rule; a rule without cases gets one failing "no cases" result."""
    if not rule.tests:
        return [CaseResult(rule.id, "", False, "规则没有测试用例，不能发布")]
    return [_run_case(rule, case) for case in rule.tests]


def run_pack_tests(rules: Sequence[RuleDefinition]) -> list[CaseResult]:
    """Every case of every rule, in rule order."""
    return [result for rule in rules for result in run_rule_tests(rule)]


def dry_run(frame: pd.DataFrame, rules: Sequence[RuleDefinition]) -> dict[str, Any]:
    """Which rule fired on which record, with before/after values; nothing is stored."""
    report = run_rules(frame, rules)
    return {
        "rows_in": len(frame),
        "rows_out": len(report.evaluation.frame),
        "findings": [f.as_dict() for f in report.findings],
        "actions": [a.as_dict() for a in report.evaluation.actions],
    }


def verification_report(frame: pd.DataFrame, rules: Sequence[RuleDefinition]) -> dict[str, Any]:
    """Spec 6.2.4 d): per cleaning rule what changed; per validation rule what cleaning resolved."""
    active = sort_rules(rules)
    validation = [r for r in active if r.kind == "validation" and r.level == "record"]
    before = evaluate_records(frame, validation).counts()
    cleaned = evaluate_records(frame, active)
    after = Counter(
        {h.rule.id: len(h.positions) for h in cleaned.hits if h.rule.kind == "validation"}
    )
    cleaning = []
    for rule in (r for r in active if r.kind == "cleaning" and r.level == "record"):
        entries = [a for a in cleaned.actions if a.rule_id == rule.id]
        removed = sum(a.field == "*" and a.after is None for a in entries)
        added = sum(a.field == "*" and a.after is not None for a in entries)
        cleaning.append(
            {
                "rule": rule.id,
                "version": rule.version,
                "rows_touched": len({a.row_id for a in entries}),
                "values_changed": len(entries) - removed - added,
                "rows_removed": removed,
                "rows_added": added,
                "fields": dict(Counter(a.field for a in entries if a.field != "*")),
            }
        )
    checks = [
        {
            "rule": r.id,
            "version": r.version,
            "before_cleaning": before.get(r.id, 0),
            "after_cleaning": after.get(r.id, 0),
            "resolved": before.get(r.id, 0) - after.get(r.id, 0),
        }
        for r in validation
    ]
    return {
        "rows_in": len(frame),
        "rows_out": len(cleaned.frame),
        "cleaning": cleaning,
        "validation": checks,
        "remaining": sum(c["after_cleaning"] for c in checks),
        "changes": [a.as_dict() for a in cleaned.actions],
    }
