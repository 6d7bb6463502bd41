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
from dataclasses import astuple
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session

from orgcarbon.collection.staging import stage_batch
from orgcarbon.metamodel.models import ActivityRecord, Material, Organization, Process, SubProcess
from orgcarbon.metamodel.versioned import Binding
from orgcarbon.quality.models import QualityRun, StagingRow
from orgcarbon.quality.partitions import (
    JOINED,
    cleaning_limit,
    effective_status,
    lock_marks,
    mark_cleaned,
    mark_promoted,
    marks,
    pending,
)
from orgcarbon.quality.rules_store import active_rules, definition_of, utcnow
from orgcarbon.rules.quality import evaluate_records
from orgcarbon.rules.quality.columnar import NotColumnar, compile_columnar
from orgcarbon.scale.cleaning import (
    WRITABLE,
    Window,
    fetch_partition,
    partition_names,
    timed,
    write_back,
)
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


def partition_frame(session: Session, window: Window) -> pd.DataFrame:
    """The record frame of one plant × month's new staging rows, text columns as categoricals."""
    org_id, month = window.org_id, window.month
    org_name, subs, materials, bindings = _names(session, org_id)
    t = StagingRow.__table__
    result = session.connection().execute(select(
        t.c.id, t.c.subprocess_id, t.c.material_id, t.c.category, t.c.timestamp, t.c.quantity, t.c.unit,
        t.c.ncv, t.c.carbon_content, t.c.oxidation_factor, t.c.purity, t.c.ef, t.c.source, t.c.batch_id,
        t.c.tags, t.c.reference, t.c.request_id).where(pending(*astuple(window))))
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
        "category": raw["category"].where(raw["category"].notna() & (raw["category"] != ""),
                                          pd.Series([category.get(p, "") for p in pairs])),
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
    window = Window(org_id, key, marks(session, org_id, key)[0], cleaning_limit(session))
    stored = [r for r in active_rules(session, org_id) if (r.level or "record") == "record"]
    definitions = [definition_of(r) for r in stored]
    try:
        compiled = compile_columnar(definitions)
    except NotColumnar:
        counts = _clean_with_frames(session, window, definitions)
    else:
        (columns, read_from), fetch_s, _ = timed(fetch_partition, session, window,
                                                 partition_names(session, org_id), compiled.named_keys)
        result, rules_s, _ = timed(compiled.evaluate, columns)
        written, write_s, _ = timed(write_back, session, window, result)
        counts = {"rows": len(columns), "rejected": len(result.removed), "cleaned": len(columns) - len(result.removed),
                  "by_rule": result.counts, "values_changed": written, "path": "columnar", "read_from": read_from,
                  "fetch_s": fetch_s, "rules_s": rules_s, "write_s": write_s}
    session.add(QualityRun(kind="cleaning", dataset="staging", organization_id=org_id, year=year, month=month,
                           status="done", started_at=utcnow(), finished_at=utcnow(), user_name="task:scale",
                           rule_versions={r.code: r.version for r in stored},
                           counts={k: v for k, v in counts.items() if not k.endswith("_s")}))
    session.commit()
    return {**counts, "total_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}


def _clean_with_frames(session: Session, window: Window, definitions: list[Any]) -> dict[str, Any]:
    """The general path: ``evaluate_records`` on the partition's frame, rejections in a few UPDATEs."""
    started = time.perf_counter()
    frame = partition_frame(session, window)
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
    mark_cleaned(session, window.org_id, window.month, window.limit)
    return {"rows": len(frame), "rejected": len(rejected), "cleaned": len(frame) - len(rejected),
            "by_rule": evaluation.counts(), "values_changed": sum(len(v) for v in by_field.values()),
            "path": "frame", "fetch_s": fetched - started, "rules_s": rules_s,
            "write_s": time.perf_counter() - fetched - rules_s}


def _plant_sums(session: Session, org_id: int, year: int) -> dict[tuple[int, int, str], list[Any]]:
    """Per sub-process, material and month: [(unit, sum), …], fresh rows, rows stored ``cleaned``.

    One pass over the plant's year; a group with no effectively cleaned row is already promoted.
    """
    t = StagingRow.__table__
    status = effective_status()
    rows = session.connection().execute(select(
        t.c.subprocess_id, t.c.material_id, t.c.month, t.c.unit, func.sum(t.c.quantity), func.count(),
        func.sum(case((status == "cleaned", 1), else_=0)), func.sum(case((t.c.status == "cleaned", 1), else_=0)))
        .select_from(JOINED).where(t.c.organization_id == org_id, t.c.month.like(f"{year:04d}-%"),
                                   status.in_(("cleaned", "promoted")))
        .group_by(t.c.subprocess_id, t.c.material_id, t.c.month, t.c.unit)).all()
    groups: dict[tuple[int, int, str], list[Any]] = {}
    for sub, material, month, unit, total, count, fresh, stored in rows:
        group = groups.setdefault((sub, material, month), [[], 0, 0, 0])
        group[0].append((unit, float(total or 0.0)))
        group[1], group[2], group[3] = group[1] + int(count), group[2] + int(fresh), group[3] + int(stored)
    return groups


def _replace_record(session: Session, org_id: int, binding: Binding, month: str, total: float, unit: str,
                    stored_cleaned: int) -> None:
    """The pair's new ``staging`` activity record in place of the old ones; per-row links follow it."""
    t = StagingRow.__table__
    olds = session.scalars(select(ActivityRecord).where(
        ActivityRecord.subprocess_id == binding.subprocess_id, ActivityRecord.material_id == binding.material_id,
        ActivityRecord.category == binding.category, ActivityRecord.month == month,
        ActivityRecord.source == "staging")).all()
    record = ActivityRecord(organization_id=org_id, subprocess_id=binding.subprocess_id,
                            material_id=binding.material_id, category=binding.category, month=month,
                            quantity=total, unit=unit, source="staging", binding_id=binding.id)
    session.add(record)
    session.flush()
    conn = session.connection()
    if olds:  # rows the per-row path linked to an old record
        conn.execute(update(t).where(t.c.activity_id.in_([o.id for o in olds])).values(activity_id=record.id))
    if stored_cleaned:  # rows whose stored status is cleaned do not follow the partition's mark
        conn.execute(update(t).where(
            t.c.organization_id == org_id, t.c.month == month, t.c.subprocess_id == binding.subprocess_id,
            t.c.material_id == binding.material_id, t.c.status == "cleaned").values(
            activity_id=record.id, status="promoted"))
    for old in olds:
        session.delete(old)


def _keep_cleaned(session: Session, org_id: int, month: str, sub: int, material: int, mark: int) -> None:
    """Rows of a pair left unpromoted stay cleaned once the partition's promoted mark passes them."""
    t = StagingRow.__table__
    session.connection().execute(update(t).where(
        t.c.organization_id == org_id, t.c.month == month, t.c.subprocess_id == sub, t.c.material_id == material,
        t.c.status == "new", t.c.id <= mark).values(status="cleaned"))


def promote_plant(session: Session, org_id: int, year: int) -> dict[str, Any]:
    """Sum the plant's cleaned rows of ``year`` into monthly activity records; marks them promoted; commits.

    A month with fresh (cleaned, not yet promoted) rows gets each changed pair's record rebuilt
    from all its cleaned and promoted rows, then the partition's promoted mark: no reading is
    rewritten (lineage: ``quality/partitions.readings_of``).
    """
    from orgcarbon.forms.periods import period_locked
    from orgcarbon.metamodel.rules_inputs import unit_table

    _, _, _, bindings = _names(session, org_id)
    units = unit_table(session)
    material_units = dict(session.execute(select(Material.id, Material.unit)).all())
    cleaned_marks = lock_marks(session, org_id, year)  # before the sums: a cleaning commits after us
    groups = _plant_sums(session, org_id, year)
    created, skipped, promoted_months, locked = 0, [], set(), set()
    for (sub, material, month), (sums, _, fresh, stored) in sorted(groups.items()):
        if not fresh:
            continue
        binding = bindings.get((sub, material))
        if month in locked or period_locked(session, org_id, year, int(month[5:])):
            locked.add(month)
            skipped.append(f"{month} 子工序 {sub} 物料 {material}：期间已关闭")
            continue
        promoted_months.add(month)
        if binding is None:
            skipped.append(f"{month} 子工序 {sub} 物料 {material}：无绑定")
            _keep_cleaned(session, org_id, month, sub, material, cleaned_marks.get(month, 0))
            continue
        total = sum(units.convert(value, unit, material_units[material]) for unit, value in sums)
        _replace_record(session, org_id, binding, month, total, material_units[material], stored)
        created += 1
    for month in sorted(promoted_months - locked):
        mark_promoted(session, org_id, month, cleaned_marks.get(month, 0))
    session.commit()
    return {"activity_records": created, "rows": sum(g[1] for g in groups.values() if g[2]), "skipped": skipped}
