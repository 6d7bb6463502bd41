"""Celery tasks of the scale pipeline: one partition each (ids and plain values in, counts out)."""

from __future__ import annotations

import dataclasses
from typing import Any

from orgcarbon.platform.tasks import celery_app
from orgcarbon.scale.generator import GroupSpec


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
        return ingest_days(db.session, _spec(spec), plant, first_day, days)
    finally:
        db.session.remove()


@celery_app.task(name="orgcarbon.scale.clean")
def clean_task(org_id: int, year: int, month: int) -> dict[str, Any]:
    """Clean one plant × month of staged readings with the published record rules."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.scale.stages import clean_partition

    try:
        return clean_partition(db.session, org_id, year, month)
    finally:
        db.session.remove()


@celery_app.task(name="orgcarbon.scale.promote")
def promote_task(org_id: int, year: int) -> dict[str, Any]:
    """Aggregate one plant's cleaned readings of ``year`` into monthly activity records."""
    from orgcarbon.platform.extensions import db
    from orgcarbon.scale.stages import promote_plant

    try:
        return promote_plant(db.session, org_id, year)
    finally:
        db.session.remove()
