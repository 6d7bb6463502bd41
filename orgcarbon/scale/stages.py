"""The pipeline's stages on one partition each, as plain functions of a session (tasks wrap them).

``ingest_days`` stages one plant's readings for a few days through ``stage_batch`` (the writer
behind the ingest API); ``clean_partition`` applies the published record rules to one plant ×
month, vectorised over columns fetched in one query, and writes statuses in a few statements;
``promote_plant`` sums a plant's cleaned rows per sub-process, material, category and month in
SQL into ``mm_activity`` (``source="staging"``), linking the rows. Each commits its own work.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from orgcarbon.collection.staging import stage_batch
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization, Process, SubProcess
from orgcarbon.metamodel.versioned import Binding
from orgcarbon.quality.models import QualityRun, StagingRow
from orgcarbon.quality.rules_store import active_rules, definition_of, utcnow
from orgcarbon.rules.quality import evaluate_records
from orgcarbon.rules.quality.columnar import NotColumnar, compile_columnar
from orgcarbon.scale.cleaning import WRITABLE, fetch_columns, partition_names, timed, write_back
from orgcarbon.scale.generator import MATERIALS, GroupSpec, chunks, local_time, plant_tags

BATCH = 10_000  # the ingest API's largest batch
TEXT = ("organization", "process", "subprocess", "category", "material", "unit", "month", "source", "dataset",
        "batch", "tags", "note")


def ingest_days(session: Session, spec: GroupSpec, plant: int, first_day: int, days: int) -> dict[str, Any]:
    """Stage ``days`` days of one plant from ``first_day``, in batches of at most 10,000; commits each."""
    tags = plant_tags(spec, plant)
    plant_name = spec.plant_name(plant)
    staged = duplicates = rejected = 0
    for chunk in chunks(spec, plant, first_day, days):
        seen: dict[tuple[int, int], int] = {}
        rows = []
        for t, h, q in zip(chunk.tag.tolist(), chunk.hour.tolist(), chunk.quantity.tolist(), strict=True):
            tag = tags[t]
            copy = seen.get((t, h), 0)
            seen[(t, h)] = copy + 1
            _, sub, material, _, _, unit, _, _ = MATERIALS[tag.material]
            rows.append({"record_key": f"{spec.name}/{tag.name}/{h}" + (f"/r{copy}" if copy else ""),
                         "organization": plant_name, "sub_process": sub, "material": material, "quantity": q,
                         "unit": unit, "time": local_time(spec, h).isoformat(), "tags": tag.name})
        for start in range(0, len(rows), BATCH):
            result = stage_batch(session, rows[start:start + BATCH], source="api",
                                 batch_id=f"scale-{plant}-{first_day}-{start}")
            session.commit()
            staged += result.staged
            duplicates += result.duplicates
            rejected += len(result.rejected)
    return {"staged": staged, "duplicates": duplicates, "rejected": rejected}


def _names(session: Session, org_id: int) -> tuple[str, dict[int, tuple[str, str]], dict[int, str],
                                                  dict[tuple[int, int], Binding]]:
    org = session.get(Organization, org_id)
    subs = {s.id: (s.name, p) for s, p in session.execute(
        select(SubProcess, Process.name).join(Process, SubProcess.process_id == Process.id)
        .where(SubProcess.organization_id == org_id))}
    materials = dict(session.execute(select(Material.id, Material.name)).all())
    bindings = {(b.subprocess_id, b.material_id): b for b in session.scalars(select(Binding).where(
        Binding.organization_id == org_id, Binding.status == "published"))}
    return (org.name if org else ""), subs, materials, bindings


def partition_frame(session: Session, org_id: int, month: str) -> pd.DataFrame:
    """The record frame of one plant × month's new staging rows, text columns as categoricals."""
    org_name, subs, materials, bindings = _names(session, org_id)
    t = StagingRow.__table__
    result = session.connection().execute(select(
        t.c.id, t.c.subprocess_id, t.c.material_id, t.c.category, t.c.timestamp, t.c.quantity, t.c.unit,
        t.c.ncv, t.c.carbon_content, t.c.oxidation_factor, t.c.purity, t.c.ef, t.c.source, t.c.batch_id,
        t.c.tags, t.c.reference, t.c.request_id).where(
        t.c.organization_id == org_id, t.c.month == month, t.c.status == "new"))
    raw = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    sub_ids = raw["subprocess_id"].fillna(0).astype(np.int64)
    material_ids = raw["material_id"].fillna(0).astype(np.int64)
    category = {k: b.category for k, b in bindings.items()}
    pairs = list(zip(sub_ids.tolist(), material_ids.tolist(), strict=True))
    frame = pd.DataFrame({
        "row_id": raw["id"].astype(np.int64),
        "organization": org_name,
        "process": sub_ids.map(lambda s: subs.get(s, ("", ""))[1]),
        "subprocess": sub_ids.map(lambda s: subs.get(s, ("", ""))[0]),
        "category": raw["category"].where(raw["category"].notna(), pd.Series([category.get(p, "") for p in pairs])),
        "material": material_ids.map(lambda m: materials.get(m, "")),
        "unit": raw["unit"].fillna(""), "month": month, "source": raw["source"].fillna(""), "dataset": "staging",
        "batch": raw["batch_id"].fillna(""), "tags": raw["tags"].fillna(""),
        "note": raw["reference"].fillna(raw["request_id"]).fillna(""),
        "timestamp": pd.to_datetime(raw["timestamp"], utc=True).dt.tz_localize(None),
        "quantity": raw["quantity"].astype(np.float64), "ncv": raw["ncv"].astype(np.float64),
        "cc": raw["carbon_content"].astype(np.float64), "of": raw["oxidation_factor"].astype(np.float64),
        "purity": raw["purity"].astype(np.float64), "ef": raw["ef"].astype(np.float64),
        "received_at": pd.NaT, "due_at": pd.NaT,
    })
    for column in TEXT:
        frame[column] = frame[column].astype("category")
    return frame


def clean_partition(session: Session, org_id: int, year: int, month: int) -> dict[str, Any]:
    """Apply the active record rules to one plant × month of new rows; writes statuses; commits.

    The rules run compiled over columns (``rules/quality/columnar``); a rule that only the frame
    evaluator implements (fill, split, smooth …) sends the partition through ``evaluate_records``.
    """
    started, cpu = time.perf_counter(), time.process_time()
    key = f"{year:04d}-{month:02d}"
    stored = [r for r in active_rules(session, org_id) if (r.level or "record") == "record"]
    definitions = [definition_of(r) for r in stored]
    try:
        compiled = compile_columnar(definitions)
    except NotColumnar:
        counts = _clean_with_frames(session, org_id, key, definitions)
    else:
        columns, fetch_s, _ = timed(fetch_columns, session, org_id, key, partition_names(session, org_id))
        result, rules_s, _ = timed(compiled.evaluate, columns)
        written, write_s, _ = timed(write_back, session, org_id, key, result)
        counts = {"rows": len(columns), "rejected": len(result.removed), "cleaned": len(columns) - len(result.removed),
                  "by_rule": result.counts, "values_changed": written, "path": "columnar",
                  "fetch_s": fetch_s, "rules_s": rules_s, "write_s": write_s}
    session.add(QualityRun(kind="cleaning", dataset="staging", organization_id=org_id, year=year, month=month,
                           status="done", started_at=utcnow(), finished_at=utcnow(), user_name="task:scale",
                           rule_versions={r.code: r.version for r in stored},
                           counts={k: v for k, v in counts.items() if not k.endswith("_s")}))
    session.commit()
    return {**counts, "total_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}


def _clean_with_frames(session: Session, org_id: int, key: str, definitions: list[Any]) -> dict[str, Any]:
    """The general path: ``evaluate_records`` on the partition's frame, statuses in a few UPDATEs."""
    started = time.perf_counter()
    frame = partition_frame(session, org_id, key)
    frame = frame.sort_values("row_id", kind="stable").reset_index(drop=True)
    fetched = time.perf_counter()
    evaluation = evaluate_records(frame, definitions)
    rules_s = time.perf_counter() - fetched
    kept = evaluation.frame["row_id"].to_numpy()
    rejected = np.setdiff1d(frame["row_id"].to_numpy(), kept).tolist()
    t = StagingRow.__table__
    conn = session.connection()
    by_field: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in evaluation.actions:
        if entry.field in WRITABLE:
            by_field[WRITABLE[entry.field]].append({"_id": entry.row_id, "value": entry.after})
    for column, values in by_field.items():
        conn.execute(update(t).where(t.c.id == bindparam("_id")).values({column: bindparam("value")}), values)
    for start in range(0, len(rejected), 5000):
        conn.execute(update(t).where(t.c.id.in_(rejected[start:start + 5000])).values(status="rejected"))
    conn.execute(update(t).where(t.c.organization_id == org_id, t.c.month == key, t.c.status == "new")
                 .values(status="cleaned"))
    return {"rows": len(frame), "rejected": len(rejected), "cleaned": len(frame) - len(rejected),
            "by_rule": evaluation.counts(), "values_changed": sum(len(v) for v in by_field.values()),
            "path": "frame", "fetch_s": fetched - started, "rules_s": rules_s,
            "write_s": time.perf_counter() - fetched - rules_s}


def promote_plant(session: Session, org_id: int, year: int) -> dict[str, Any]:
    """Sum the plant's cleaned rows of ``year`` into monthly activity records; links them; commits."""
    from orgcarbon.forms.periods import period_locked
    from orgcarbon.metamodel.rules_inputs import unit_table

    _, _, _, bindings = _names(session, org_id)
    units = unit_table(session)
    material_units = dict(session.execute(select(Material.id, Material.unit)).all())
    t = StagingRow.__table__
    sums = session.connection().execute(select(
        t.c.subprocess_id, t.c.material_id, t.c.month, t.c.unit, func.sum(t.c.quantity), func.count()).where(
        t.c.organization_id == org_id, t.c.status == "cleaned", t.c.month.like(f"{year:04d}-%"))
        .group_by(t.c.subprocess_id, t.c.material_id, t.c.month, t.c.unit)).all()
    totals: dict[tuple[int, int, str], float] = defaultdict(float)
    for sub, material, month, unit, total, _ in sums:
        totals[(sub, material, month)] += units.convert(float(total), unit, material_units[material])
    created, skipped = 0, []
    for (sub, material, month), total in sorted(totals.items()):
        binding = bindings.get((sub, material))
        if binding is None or period_locked(session, org_id, year, int(month[5:])):
            skipped.append(f"{month} 子工序 {sub} 物料 {material}：无绑定或期间已关闭")
            continue
        for old in session.scalars(select(ActivityRecord).where(
                ActivityRecord.subprocess_id == sub, ActivityRecord.material_id == material,
                ActivityRecord.category == binding.category, ActivityRecord.month == month,
                ActivityRecord.source == "staging")):
            session.delete(old)
        record = ActivityRecord(organization_id=org_id, subprocess_id=sub, material_id=material,
                                category=binding.category, month=month, quantity=total,
                                unit=material_units[material], source="staging", binding_id=binding.id)
        session.add(record)
        session.flush()
        session.connection().execute(update(t).where(
            t.c.organization_id == org_id, t.c.subprocess_id == sub, t.c.material_id == material,
            t.c.month == month, t.c.status == "cleaned").values(activity_id=record.id, status="promoted"))
        created += 1
    session.commit()
    return {"activity_records": created, "rows": sum(int(r[5]) for r in sums), "skipped": skipped}
