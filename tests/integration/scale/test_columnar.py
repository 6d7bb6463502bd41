"""The columnar cleaning path gives exactly what ``evaluate_records`` gives on the same rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask import Flask

from orgcarbon.rules.quality import default_pack, evaluate_records, rule_from_dict
from orgcarbon.rules.quality.columnar import NotColumnar, columns_from_frame, compile_columnar
from orgcarbon.rules.quality.definitions import RuleDefinition
from orgcarbon.scale.generator import MATERIALS, GroupSpec, chunks, local_time, plant_tags
from orgcarbon.scale.metamodel import reading_pack

SPEC = GroupSpec(plants=1, tags=60, hours=24 * 6, gap_rate=0.02, spike_rate=0.01, duplicate_rate=0.02)
EXTRA = [
    {"id": "near-per-tag", "kind": "cleaning", "action": "deduplicate", "order": 30,
     "scope": {"sources": ["api"]},
     "params": {"mode": "near", "keys": ["subprocess", "material", "tags"], "tolerance": 0.3,
                "window_seconds": 7200}},
    {"id": "halve-band", "kind": "cleaning", "action": "correct", "order": 40,
     "condition": "quantity > 120 and quantity < 125", "params": {"field": "quantity", "value": "quantity / 2"}},
    {"id": "clamp-coke", "kind": "cleaning", "action": "clamp", "order": 50, "scope": {"materials": ["焦炭"]},
     "params": {"field": "quantity", "high": 50}},
    {"id": "fill-ncv", "kind": "cleaning", "action": "correct", "order": 60, "scope": {"tags": ["P01-T0003"]},
     "condition": "quantity > 0", "params": {"field": "ncv", "value": "quantity * 0.01"}},
    {"id": "low-first-tag", "kind": "validation", "action": "reject", "order": 600,
     "scope": {"tags": ["P01-T0001", "P01-T0002"]}, "condition": "quantity < 27.5"},
    {"id": "flag-ncv", "kind": "validation", "action": "flag", "order": 610, "condition": "ncv > 0.5"},
]


def sample_frame(spec: GroupSpec = SPEC) -> pd.DataFrame:
    """A record frame shaped like ``partition_frame``'s, from the generator, with some NaN values."""
    tags = plant_tags(spec, 0)
    parts = []
    for chunk in chunks(spec, 0):
        material = [MATERIALS[tags[t].material] for t in chunk.tag]
        parts.append(pd.DataFrame({
            "organization": spec.plant_name(0), "process": [m[0] for m in material],
            "subprocess": [m[1] for m in material], "category": [m[3] for m in material],
            "material": [m[2] for m in material], "unit": [m[5] for m in material], "month": "2023-01",
            "source": "api", "dataset": "staging", "batch": f"b{chunk.hour[0]}",
            "tags": [tags[t].name for t in chunk.tag], "note": "",
            "timestamp": [local_time(spec, h).replace(tzinfo=None) for h in chunk.hour],
            "quantity": chunk.quantity, "ncv": np.nan, "cc": np.nan, "of": np.nan, "purity": np.nan, "ef": np.nan,
            "received_at": pd.NaT, "due_at": pd.NaT}))
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "row_id", np.arange(1, len(frame) + 1, dtype=np.int64) * 3)
    frame.loc[frame.index % 97 == 5, "quantity"] = np.nan
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    for column in ("organization", "process", "subprocess", "category", "material", "unit", "month", "source",
                   "dataset", "batch", "tags", "note"):
        frame[column] = frame[column].astype("category")
    return frame


def frame_outcome(frame: pd.DataFrame, rules: list[RuleDefinition]) -> tuple[set[int], dict[str, int],
                                                                                dict[tuple[int, str], Any]]:
    """Removed ids, hits per rule and the last value written per (row, field) by ``evaluate_records``."""
    evaluation = evaluate_records(frame, rules)
    removed = set(frame["row_id"].tolist()) - set(evaluation.frame["row_id"].tolist())
    changes: dict[tuple[int, str], Any] = {}
    for entry in evaluation.actions:
        if entry.field != "*":
            changes[(entry.row_id, entry.field)] = entry.after
    return removed, evaluation.counts(), changes


def columnar_outcome(columns: Any, rules: list[RuleDefinition]) -> tuple[set[int], dict[str, int],
                                                                         dict[tuple[int, str], Any]]:
    """The same three from the columnar path."""
    result = compile_columnar(rules).evaluate(columns)
    changes = {(int(i), name): (None if v != v else float(v))
               for name, (ids, values) in result.changes.items() for i, v in zip(ids, values, strict=True)}
    return set(result.removed.tolist()), result.counts, changes


def published_rules() -> list[RuleDefinition]:
    """The steel default pack and the scale reading pack, as the cleaning stage sees them."""
    return [*default_pack().rules, *reading_pack().rules]


def test_columnar_equals_evaluate_records_on_generated_readings() -> None:
    """Same removed rows, same hits per rule and same changed values, with every supported action."""
    frame = sample_frame()
    rules = published_rules() + [rule_from_dict(r) for r in EXTRA]
    expected = frame_outcome(frame, rules)
    got = columnar_outcome(columns_from_frame(frame), rules)
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    assert got[2].keys() == expected[2].keys()
    for key, value in expected[2].items():
        assert got[2][key] == pytest.approx(value, rel=0, abs=0, nan_ok=True), key
    # Every kind of rule really fired, so the comparison is not empty.
    for rule in ("dedupe-exact", "near-per-tag", "halve-band", "clamp-coke", "fill-ncv", "low-first-tag",
                 "flag-ncv", "reading-max-1"):
        assert expected[1][rule] > 0, rule


def test_unsupported_action_asks_for_the_frame_evaluator() -> None:
    """A rule the columnar path does not implement is refused, not silently skipped."""
    smooth = rule_from_dict({"id": "s", "kind": "cleaning", "action": "smooth",
                             "params": {"field": "quantity", "window": 3}})
    with pytest.raises(NotColumnar):
        compile_columnar([smooth])


def test_database_partition_equals_partition_frame(app: Flask) -> None:
    """Fetched by ``fetch_columns`` (COPY on PostgreSQL) vs ``partition_frame``: identical results."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.rules_store import active_rules, definition_of
    from orgcarbon.scale.cleaning import Window, fetch_columns, partition_names
    from orgcarbon.scale.metamodel import build_group
    from orgcarbon.scale.stages import clean_partition, ingest_days, partition_frame

    spec = GroupSpec(plants=1, tags=30, hours=24 * 3, gap_rate=0.02, spike_rate=0.01, duplicate_rate=0.03)
    with app.app_context():
        session = db.session
        layout = build_group(session, spec)
        session.commit()
        ingest_days(session, spec, 0, 0, 3)
        org = layout.plant_ids[0]
        rules = [definition_of(r) for r in active_rules(session, org) if (r.level or "record") == "record"]
        window = Window(org, "2023-01", 0, 2**31 - 1)
        frame = partition_frame(session, window).sort_values("row_id").reset_index(drop=True)
        expected = frame_outcome(frame, rules)
        columns = fetch_columns(session, window, partition_names(session, org))
        assert columns.row_id.tolist() == frame["row_id"].tolist()
        assert columnar_outcome(columns, rules) == expected
        assert expected[1]["dedupe-exact"] > 0 and sum(v for k, v in expected[1].items() if "max" in k) > 0
        done = clean_partition(session, org, 2023, 1)
        assert done["path"] == "columnar" and done["rejected"] == len(expected[0])
        from sqlalchemy import select

        from orgcarbon.quality.models import StagingRow
        from orgcarbon.quality.partitions import effective_statuses

        rejected = set(session.scalars(select(StagingRow.id).where(StagingRow.status == "rejected")))
        assert rejected == expected[0]
        statuses = effective_statuses(session, session.scalars(select(StagingRow.id)))
        assert {i for i, s in statuses.items() if s == "rejected"} == rejected
        assert set(statuses.values()) == {"cleaned", "rejected"}
