"""Dry run and cleaning verification report (spec 6.2.4 d) as plain data."""

from __future__ import annotations

from orgcarbon.rules.quality.testcases import dry_run, verification_report
from tests.unit.quality.conftest import make_frame, make_rule

RULES = [
    make_rule(
        id="fix-of",
        order=1,
        kind="cleaning",
        action="correct",
        condition="of > 1",
        params={"field": "of", "value": "of / 100"},
        message="{field}: {before} → {after}",
    ),
    make_rule(
        id="dedupe",
        order=2,
        kind="cleaning",
        action="deduplicate",
        params={"mode": "exact"},
        message="重复",
    ),
    make_rule(id="of-range", condition="of > 1 or of < 0.8", message="碳氧化率 {of}"),
]


def _frame():  # type: ignore[no-untyped-def]
    return make_frame(
        {"row_id": 1, "material": "焦炭", "quantity": 10, "of": 93},
        {"row_id": 2, "material": "焦炭", "quantity": 10, "of": 93},
        {"row_id": 3, "material": "烟煤", "quantity": 5, "of": 0.5},
    )


def test_dry_run_shows_which_rule_fired_with_before_and_after() -> None:
    report = dry_run(_frame(), RULES)
    assert report["rows_in"] == 3 and report["rows_out"] == 2
    assert [
        (a["rule"], a["row_id"], a["field"], a["before"], a["after"]) for a in report["actions"]
    ] == [
        ("fix-of", 1, "of", 93.0, 0.93),
        ("fix-of", 2, "of", 93.0, 0.93),
        ("dedupe", 2, "*", 10.0, None),
    ]
    assert [(f["rule"], f["rows"], f["message"]) for f in report["findings"]][:2] == [
        ("fix-of", [1], "of: 93 → 0.93"),
        ("dedupe", [2], "重复"),
    ]


def test_verification_report_counts_changes_and_what_remains() -> None:
    report = verification_report(_frame(), RULES)
    assert report["cleaning"] == [
        {
            "rule": "fix-of",
            "version": 1,
            "rows_touched": 2,
            "values_changed": 2,
            "rows_removed": 0,
            "rows_added": 0,
            "fields": {"of": 2},
        },
        {
            "rule": "dedupe",
            "version": 1,
            "rows_touched": 1,
            "values_changed": 0,
            "rows_removed": 1,
            "rows_added": 0,
            "fields": {},
        },
    ]
    assert report["validation"] == [
        {"rule": "of-range", "version": 1, "before_cleaning": 3, "after_cleaning": 1, "resolved": 2}
    ]
    assert report["remaining"] == 1
