"""Scorecard numbers on a small hand-checked data set, with the rows behind each score."""

from __future__ import annotations

import pandas as pd

from orgcarbon.rules.quality.pipeline import run_rules
from orgcarbon.rules.quality.scorecard import scorecards
from tests.unit.quality.conftest import make_frame, make_rule

T = pd.Timestamp


def _frame() -> pd.DataFrame:
    common = {
        "organization": "甲",
        "dataset": "月报",
        "process": "炼铁",
        "category": "fuel_combustion",
        "unit": "t",
    }
    return make_frame(
        {
            **common,
            "row_id": 1,
            "material": "焦炭",
            "month": "2023-01",
            "quantity": 100,
            "ncv": 2.8,
            "source": "MES",
            "batch": "b1",
            "received_at": T("2023-02-05"),
            "due_at": T("2023-02-10"),
        },
        {
            **common,
            "row_id": 2,
            "material": "烟煤",
            "month": "2023-01",
            "quantity": 50,
            "source": "MES",
            "batch": "",
            "received_at": T("2023-02-12"),
            "due_at": T("2023-02-10"),
        },
        {
            **common,
            "row_id": 3,
            "material": "焦炭",
            "month": "2023-02",
            "quantity": 200,
            "source": "ERP",
            "batch": "b2",
            "due_at": T("2023-03-10"),
        },
    )


RULES = [
    make_rule(id="ncv", condition="ncv < 5", message="NCV {ncv}"),
    make_rule(
        id="mom",
        level="binding_month",
        condition="quantity > 1.3 * prev_quantity",
        message="{month}",
    ),
]


def test_six_dimensions_per_organisation_month_and_dataset() -> None:
    frame = _frame()
    report = run_rules(frame, RULES)
    jan, feb = scorecards(frame, report.findings, unreachable_sources=["ERP"])
    assert (jan.organization, jan.period, jan.dataset) == ("甲", "2023-01", "月报")
    score = {name: (d.score, d.failing_rows) for name, d in jan.dimensions.items()}
    assert score == {
        "completeness": (1.0, ()),
        "accuracy": (0.5, (1,)),
        "consistency": (1.0, ()),
        "timeliness": (0.5, (2,)),
        "accessibility": (1.0, ()),
        "traceability": (0.5, (2,)),
    }
    score = {name: (d.score, d.failing_rows) for name, d in feb.dimensions.items()}
    assert score == {
        "completeness": (0.5, ()),
        "accuracy": (1.0, ()),
        "consistency": (0.0, (3,)),
        "timeliness": (0.0, (3,)),  # due, never received
        "accessibility": (0.0, (3,)),
        "traceability": (1.0, ()),
    }
    assert feb.dimensions["completeness"].missing == ("甲/炼铁//fuel_combustion/烟煤/2023-02",)
    assert feb.as_dict()["dimensions"]["completeness"]["checked"] == 2


def test_timeliness_is_unknown_without_due_dates() -> None:
    frame = make_frame({"row_id": 1, "quantity": 1, "source": "MES", "batch": "x"})
    [card] = scorecards(frame, [])
    assert card.dimensions["timeliness"].score is None
    assert card.dimensions["traceability"].score == 1.0
