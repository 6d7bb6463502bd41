"""Helpers for the data-quality tests: build rules and frames from short literals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from orgcarbon.rules.quality.definitions import RuleDefinition, rule_from_dict
from orgcarbon.rules.quality.frame import ensure_columns

HERE = Path(__file__).resolve().parent
GOLDEN_PACKAGE = HERE.parents[1] / "fixtures" / "domain" / "golden-bfbof-annual.package.json"
PLANTED_PACKAGE = HERE / "planted-errors.package.json"


def make_rule(**fields: Any) -> RuleDefinition:
    """A rule with a message, defaults filled in."""
    data: dict[str, Any] = {"id": "r", "kind": "validation", "action": "flag", "message": "命中"}
    data.update(fields)
    return rule_from_dict(data)


def make_frame(*rows: dict[str, Any]) -> pd.DataFrame:
    """Record frame from row dicts; organisation 测试 unless given."""
    frame = pd.DataFrame([dict(r) for r in rows])
    if "organization" not in frame:
        frame["organization"] = "测试"
    return ensure_columns(frame)
