"""Benchmark the quality rules: vectorised vs experta vs hand-written pandas; inference on experta.

* 1,000,000 readings × 20 single-record validation rules through ``evaluate_records``.
* The same 20 rules through experta fact by fact on a 20,000-reading sample, scaled linearly to
  1,000,000 (experta is too slow to run the full set: that is the point of the vectorised path).
* The same checks hand-written in pandas (boolean masks, row ids of the hits).
* 10,000 process-month facts (125 organisations × 8 processes × 10 months) through 30 inference
  rules on experta, 6 of them joins, one engine per organisation and month.

Run: ``.venv/bin/python benchmarks/rules.py``; the last line is JSON.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd

from orgcarbon.rules.quality.definitions import RuleDefinition, rule_from_dict
from orgcarbon.rules.quality.facts import build_facts
from orgcarbon.rules.quality.frame import ensure_columns
from orgcarbon.rules.quality.inference import run_inference, run_record_rules_on_experta
from orgcarbon.rules.quality.vectorised import evaluate_records

READINGS = 1_000_000
SAMPLE = 20_000
PROCESSES = ["焦化", "烧结", "炼铁", "炼钢", "轧钢", "自备电厂", "石灰", "全厂"]
MATERIALS = [
    "焦炭",
    "烟煤",
    "无烟煤",
    "洗精煤",
    "天然气",
    "高炉煤气",
    "焦炉煤气",
    "柴油",
    "石灰石",
    "电力",
]


def readings(n: int, seed: int = 5) -> pd.DataFrame:
    """Synthetic readings with ~5 % missing parameters and ~2 % out-of-range values."""
    rng = np.random.default_rng(seed)

    def noisy(center: float, spread: float) -> np.ndarray[Any, Any]:
        values = rng.normal(center, spread, n)
        values[rng.random(n) < 0.02] *= 10
        values[rng.random(n) < 0.05] = np.nan
        return values

    frame = pd.DataFrame(
        {
            "row_id": np.arange(1, n + 1, dtype=np.int64),
            "organization": pd.Categorical(rng.integers(0, 50, n).astype(str)),
            "process": pd.Categorical.from_codes(rng.integers(0, 8, n), PROCESSES),
            "material": pd.Categorical.from_codes(rng.integers(0, 10, n), MATERIALS),
            "category": "fuel_combustion",
            "source": pd.Categorical.from_codes(rng.integers(0, 2, n), ["MES", "ERP"]),
            "month": pd.Categorical.from_codes(
                rng.integers(0, 12, n), [f"2023-{m:02d}" for m in range(1, 13)]
            ),
            "quantity": noisy(1000, 200),
            "unit": "t",
            "ncv": noisy(28, 3),
            "cc": noisy(0.03, 0.003),
            "of": noisy(0.93, 0.02),
            "purity": noisy(0.9, 0.03),
            "ef": noisy(0.44, 0.05),
        }
    )
    return ensure_columns(frame)


RANGES = [
    ("ncv", 5, 50, ()),
    ("ncv", 20, 35, ("焦炭",)),
    ("ncv", 18, 32, ("烟煤", "无烟煤")),
    ("cc", 0.01, 0.08, ()),
    ("cc", 0.025, 0.035, ("焦炭",)),
    ("of", 0.8, 1.0, ()),
    ("of", 0.9, 1.0, ("天然气", "柴油")),
    ("purity", 0.5, 1.0, ("石灰石",)),
    ("ef", 0.1, 1.0, ()),
    ("quantity", 0, 5000, ()),
    ("quantity", 100, 3000, ("焦炭", "烟煤")),
    ("ef", 0.3, 0.6, ("石灰石",)),
]


def single_record_rules() -> list[RuleDefinition]:
    """20 single-record rules: ranges (some scoped), null checks and derived-value checks."""
    rules = []
    for name, low, high, materials in RANGES:
        rules.append(
            {
                "condition": f"{name} < lo or {name} > hi",
                "params": {"lo": low, "hi": high},
                "scope": {"materials": list(materials)},
            }
        )
    rules += [
        {"condition": "is_null(ncv)", "scope": {"materials": ["焦炭"]}},
        {"condition": "is_null(cc) and is_null(ef)"},
        {"condition": "quantity * ncv * cc * of * 44 / 12 > 10000"},
        {"condition": "quantity < 0", "scope": {"processes": ["炼铁", "炼钢"]}},
        {"condition": "abs(ncv * cc - 0.84) > 0.5", "scope": {"sources": ["MES"]}},
        {"condition": "if_null(of, 1) * if_null(purity, 1) < 0.5"},
        {"condition": "max(ncv, 0) / if_null(quantity, 1) > 1", "scope": {"processes": ["焦化"]}},
        {"condition": "round(of, 2) == 0.93 and ncv > 40"},
    ]
    return [
        rule_from_dict(
            {"id": f"r{i:02d}", "kind": "validation", "action": "flag", "message": "{row_id}", **r}
        )
        for i, r in enumerate(rules)
    ]


def hand_written(frame: pd.DataFrame) -> list[np.ndarray[Any, Any]]:
    """The same 20 checks written directly in pandas/NumPy."""
    ids = frame["row_id"].to_numpy()
    col = {c: frame[c].to_numpy() for c in ("quantity", "ncv", "cc", "of", "purity", "ef")}
    out = []
    for name, low, high, materials in RANGES:
        mask = (col[name] < low) | (col[name] > high)
        if materials:
            mask &= frame["material"].isin(materials).to_numpy()
        out.append(ids[mask])
    q, ncv, cc, of, purity, ef = (col[c] for c in ("quantity", "ncv", "cc", "of", "purity", "ef"))
    out.append(ids[np.isnan(ncv) & frame["material"].isin(["焦炭"]).to_numpy()])
    out.append(ids[np.isnan(cc) & np.isnan(ef)])
    out.append(ids[q * ncv * cc * of * 44 / 12 > 10000])
    out.append(ids[(q < 0) & frame["process"].isin(["炼铁", "炼钢"]).to_numpy()])
    out.append(ids[(np.abs(ncv * cc - 0.84) > 0.5) & frame["source"].isin(["MES"]).to_numpy()])
    out.append(ids[np.where(np.isnan(of), 1, of) * np.where(np.isnan(purity), 1, purity) < 0.5])
    out.append(
        ids[
            (np.maximum(ncv, 0) / np.where(np.isnan(q), 1, q) > 1)
            & frame["process"].isin(["焦化"]).to_numpy()
        ]
    )
    out.append(ids[(np.round(of, 2) == 0.93) & (ncv > 40)])
    return out


def process_month_records(seed: int = 7) -> pd.DataFrame:
    """Two bindings per process × organisation × month: 125 × 8 × 10 = 10,000 process-months."""
    rng = np.random.default_rng(seed)
    rows = []
    fuels = ["焦炭", "烟煤", "天然气", "高炉煤气"]
    for org in range(125):
        for p, process in enumerate(PROCESSES):
            for month in range(1, 11):
                m = f"2023-{month:02d}"
                base = {
                    "organization": f"企业{org:03d}",
                    "process": process,
                    "month": m,
                    "source": "MES",
                }
                rows.append(
                    {
                        **base,
                        "category": "fuel_combustion",
                        "material": fuels[p % 4],
                        "unit": "t",
                        "quantity": rng.normal(1000, 150) * (3 if rng.random() < 0.03 else 1),
                    }
                )
                rows.append(
                    {
                        **base,
                        "category": "fixed_carbon_product"
                        if process == "炼钢"
                        else "purchased_electricity",
                        "material": "粗钢" if process == "炼钢" else "电力",
                        "unit": "t" if process == "炼钢" else "MWh",
                        "quantity": rng.normal(4000, 300),
                    }
                )
    frame = pd.DataFrame(rows)
    frame["row_id"] = np.arange(1, len(frame) + 1)
    return ensure_columns(frame)


def inference_rules() -> list[RuleDefinition]:
    """30 rules: 14 process-month, 6 organisation-month, 4 binding-month, 6 joins."""
    defs: list[dict[str, Any]] = []
    limits = {
        "焦炭": 1450,
        "烟煤": 1450,
        "天然气": 1450,
        "高炉煤气": 1450,
        "电力": 5000,
        "粗钢": 5000,
        "购入电力": 5000,
    }
    for material, hi in limits.items():
        defs.append(
            {"level": "process_month", "condition": f"{material} > hi", "params": {"hi": hi}}
        )
        defs.append(
            {
                "level": "process_month",
                "condition": f"prev_{material} > 0 and abs({material} / prev_{material} - 1) > 0.3",
            }
        )
    for i in range(6):
        defs.append(
            {
                "level": "organization_month",
                "condition": f"if_null(焦炭, 0) / 粗钢 > {0.6 + i / 10}",
            }
        )
    defs += [
        {
            "level": "binding_month",
            "condition": "prev_quantity > 0 and abs(quantity / prev_quantity - 1) > 0.3",
        },
        {"level": "binding_month", "condition": "sources > 1 and source_spread > 0.05"},
        {"level": "binding_month", "condition": "quantity < 0"},
        {"level": "binding_month", "condition": "count > 3"},
    ]
    for i in range(3):
        defs.append(
            {
                "level": "binding_month",
                "join": "process_month",
                "condition": f"quantity / proc_count > {5000 + i}",
            }
        )
        defs.append(
            {
                "level": "process_month",
                "join": "organization_month",
                "condition": f"if_null(焦炭, 0) > {0.9 + i / 100} * org_焦炭",
            }
        )
    return [
        rule_from_dict(
            {"id": f"i{i:02d}", "kind": "validation", "action": "flag", "message": "{key}", **d}
        )
        for i, d in enumerate(defs)
    ]


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    frame = readings(READINGS)
    rules = single_record_rules()
    evaluate_records(frame.head(1000), rules)  # compile expressions once, as a running platform has
    vectorised_s, evaluation = timed(evaluate_records, frame, rules)
    pandas_s, expected = timed(hand_written, frame)
    for hit, ids in zip(evaluation.hits, expected, strict=True):
        assert np.array_equal(hit.row_ids, ids), hit.rule.id
    sample = frame.head(SAMPLE)
    experta_sample_s, experta_hits = timed(run_record_rules_on_experta, sample, rules)
    vectorised_sample = evaluate_records(sample, rules)
    for a, b in zip(vectorised_sample.hits, experta_hits, strict=True):
        assert np.array_equal(a.positions, b.positions), a.rule.id
    experta_est_s = experta_sample_s * READINGS / SAMPLE
    print(f"vectorised: {READINGS:,} readings × {len(rules)} rules in {vectorised_s:.3f} s")
    print(f"pandas by hand: {pandas_s:.3f} s (same hits)")
    print(
        f"experta: {SAMPLE:,}-reading sample in {experta_sample_s:.2f} s, scaled linearly to "
        f"{READINGS:,}: {experta_est_s:.0f} s (estimate, not run in full)"
    )

    records = process_month_records()
    facts_s, facts = timed(build_facts, records)
    assert len(facts["process_month"]) == 10_000
    irules = inference_rules()
    run_s, findings = timed(run_inference, facts, irules)
    inference_s = facts_s + run_s
    print(
        f"inference: 10,000 process-month facts ({len(facts):,} facts in all) × {len(irules)} rules: "
        f"aggregation {facts_s:.2f} s + experta {run_s:.2f} s, {len(findings):,} findings"
    )
    print(
        json.dumps(
            {
                "benchmark": "rules",
                "readings": READINGS,
                "vectorised_s": round(vectorised_s, 4),
                "experta_est_s": round(experta_est_s, 2),
                "pandas_s": round(pandas_s, 4),
                "speedup_vs_experta": round(experta_est_s / vectorised_s, 1),
                "ratio_to_pandas": round(vectorised_s / pandas_s, 2),
                "inference_facts": 10_000,
                "inference_s": round(inference_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
