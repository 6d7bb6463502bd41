"""Data quality (spec 6.2.3/6.2.4): cleaning and validation rules as data, two evaluators, scorecard.

Pure Python like the rest of ``rules/``: no Flask, no SQLAlchemy. The ``validate`` click command
lives in ``orgcarbon.rules.quality.validate_cli`` and is not imported here.
"""

from __future__ import annotations

from orgcarbon.rules.quality.aggregate import evaluate_facts
from orgcarbon.rules.quality.definition_check import (
    DefinitionProblem,
    RuleDefinitionError,
    load_rule,
    validate_rule_definition,
)
from orgcarbon.rules.quality.definitions import (
    RuleDefinition,
    RuleTestCase,
    Scope,
    rule_from_dict,
    rule_to_dict,
)
from orgcarbon.rules.quality.facts import FactSet, build_facts
from orgcarbon.rules.quality.findings import ActionEntry, Finding
from orgcarbon.rules.quality.frame import ensure_columns, package_frame
from orgcarbon.rules.quality.inference import (
    build_engine_class,
    run_inference,
    run_record_rules_on_experta,
)
from orgcarbon.rules.quality.pack import RulePack, default_pack, load_pack, pack_from_dict
from orgcarbon.rules.quality.pipeline import QualityReport, run_rules, validate_package
from orgcarbon.rules.quality.scorecard import DimensionScore, Scorecard, scorecards
from orgcarbon.rules.quality.testcases import (
    CaseResult,
    dry_run,
    run_pack_tests,
    run_rule_tests,
    verification_report,
)
from orgcarbon.rules.quality.vectorised import Evaluation, evaluate_records

__all__ = [
    "ActionEntry",
    "CaseResult",
    "DefinitionProblem",
    "DimensionScore",
    "Evaluation",
    "FactSet",
    "Finding",
    "QualityReport",
    "RuleDefinition",
    "RuleDefinitionError",
    "RulePack",
    "RuleTestCase",
    "Scope",
    "Scorecard",
    "build_engine_class",
    "build_facts",
    "default_pack",
    "dry_run",
    "ensure_columns",
    "evaluate_facts",
    "evaluate_records",
    "load_pack",
    "load_rule",
    "pack_from_dict",
    "package_frame",
    "rule_from_dict",
    "rule_to_dict",
    "run_inference",
    "run_pack_tests",
    "run_record_rules_on_experta",
    "run_rule_tests",
    "run_rules",
    "scorecards",
    "validate_package",
    "validate_rule_definition",
    "verification_report",
]
