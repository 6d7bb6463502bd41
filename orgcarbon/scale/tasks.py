"""Celery tasks of the scale pipeline: one partition each (ids and plain values in, counts out)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

from orgcarbon.platform.tasks import celery_app
from orgcarbon.scale.generator import GroupSpec


def _measured(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``step()``'s counts with the task's wall and CPU seconds and the worker's pid."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = step()
    return {**out, "task_wall_s": time.perf_counter() - wall, "task_cpu_s": time.process_time() - cpu,
            "pid": os.getpid()}


def _spec(values: dict[str, Any]) -> GroupSpec:
    return GroupSpec(**values)


def spec_dict(spec: GroupSpec) -> dict[str, Any]:
    """A spec as the JSON a task takes."""
    return dataclasses.asdict(spec)


@celery_app.task(name="orgcarbon.scale.ingest")
def ingest_task(spec: dict[str, Any], plant: int, first_day: int, days: int) -> dict[str, Any]:
    """Stage ``days`` days of readings of one plant."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.scale.stages import ingest_days

    try:
        return _measured(lambda: ingest_days(db.session, _spec(spec), plant, first_day, days))
    finally:
        db.session.remove()


@celery_app.task(name="orgcarbon.scale.clean")
def clean_task(org_id: int, year: int, month: int) -> dict[str, Any]:
    """Clean one plant × month of staged readings with the published record rules."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.scale.stages import clean_partition

    try:
        return _measured(lambda: clean_partition(db.session, org_id, year, month))
    finally:
        db.session.remove()


@celery_app.task(name="orgcarbon.scale.promote")
def promote_task(org_id: int, year: int) -> dict[str, Any]:
    """Aggregate one plant's cleaned readings of ``year`` into monthly activity records."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.scale.stages import promote_plant

    try:
        return _measured(lambda: promote_plant(db.session, org_id, year))
    finally:
        db.session.remove()
