"""One call for the platform and the CLI: clean and validate records, aggregate, infer, report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from orgcarbon.rules.package import Package
from orgcarbon.rules.quality.aggregate import completeness_findings, evaluate_facts
from orgcarbon.rules.quality.definitions import RuleDefinition, sort_rules
from orgcarbon.rules.quality.facts import FactSet, build_facts
from orgcarbon.rules.quality.findings import Finding, severity_rank
from orgcarbon.rules.quality.frame import package_frame
from orgcarbon.rules.quality.inference import run_inference
from orgcarbon.rules.quality.vectorised import Evaluation, evaluate_records

__all__ = ["QualityReport", "period_months", "run_rules", "validate_package"]


@dataclass
class QualityReport:
    """Cleaned frame and action log (``evaluation``), the facts, and every finding."""

    evaluation: Evaluation
    facts: FactSet
    findings: list[Finding] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        """True when any finding has severity error (the CLI then exits 1)."""
        return any(f.severity == "error" for f in self.findings)

    def worst(self) -> str | None:
        """The highest severity found, or None."""
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=severity_rank)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary: findings and the cleaning log."""
        return {
            "findings": [f.as_dict() for f in self.findings],
            "actions": [a.as_dict() for a in self.evaluation.actions],
            "errors": sum(f.severity == "error" for f in self.findings),
            "warnings": sum(f.severity == "warning" for f in self.findings),
        }


def period_months(start: date, end: date) -> list[str]:
    """``YYYY-MM`` of every month from ``start`` to ``end``."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def run_rules(
    frame: pd.DataFrame,
    rules: Sequence[RuleDefinition],
    months: Sequence[str] | None = None,
    inference: str = "experta",
) -> QualityReport:
    """Record rules vectorised, then aggregate rules on experta (or ``"vectorised"``)."""
    active = sort_rules(rules)
    evaluation = evaluate_records(frame, active)
    facts = build_facts(evaluation.frame)
    findings = evaluation.findings()
    if inference == "experta":
        findings += run_inference(facts, active)
        for rule in active:
            if rule.action == "completeness":
                findings += completeness_findings(rule, facts, months)
    else:
        findings += evaluate_facts(facts, active, months)
    return QualityReport(evaluation, facts, sorted(findings, key=Finding.sort_key))


def validate_package(package: Package, rules: Sequence[RuleDefinition]) -> QualityReport:
    """Run a rule pack over an activity package; completeness expects every month of its period."""
    frame = package_frame(package)
    dated = any(r.month for r in package.rows)
    months = period_months(package.start, package.end) if dated else None
    return run_rules(frame, rules, months)
