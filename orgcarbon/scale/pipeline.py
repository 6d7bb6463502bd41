"""The end-to-end pipeline of a synthetic group, stage by stage, with timings.

ingest (``stage_batch``, per plant × block of days) → cleaning (published record rules,
per plant × month) → monthly aggregation into ``mm_activity`` (per plant) → validation (the
aggregate rules over the group's activity, ``DryRun``) → accounting (``AccountOrganisation``) →
the annual report and tables (docx, xlsx). The parallel stages are Celery tasks: with
``ORGCARBON_REDIS_URL`` they go to the workers listening on ``queue``; without it they run
in-process (eager), which is what the tests use.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from orgcarbon.scale.generator import GroupSpec, month_of
from orgcarbon.scale.metamodel import GroupLayout
from orgcarbon.scale.tasks import clean_task, ingest_task, promote_task, spec_dict

Log = Callable[[str], None]


@dataclass
class PipelineReport:
    """Seconds per stage and what each stage counted."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    clean_rules_s: float = 0.0  # wall of the rule evaluation summed over the cleaning tasks
    clean_task_s: float = 0.0  # wall of the cleaning tasks summed (fetch, rules, writes)
    clean_parts: dict[str, float] = field(default_factory=dict)  # fetch_s, rules_s, write_s summed
    cpu: dict[str, float] = field(default_factory=dict)  # worker CPU seconds per parallel stage, summed
    workers_used: dict[str, int] = field(default_factory=dict)  # distinct worker pids per stage

    @property
    def total_s(self) -> float:
        """All stages."""
        return sum(self.seconds.values())


def dispatch(task: Any, calls: Sequence[tuple[Any, ...]], queue: str | None) -> list[dict[str, Any]]:
    """Send one task per argument tuple and wait for all (in-process when Celery is eager)."""
    pending = [task.apply_async(args=args, queue=queue) for args in calls]
    return [r.get(timeout=6 * 3600, disable_sync_subtasks=False) for r in pending]


def months_of(spec: GroupSpec) -> list[int]:
    """Calendar months (China time) the spec's hours fall in."""
    return sorted({int(m) for m in np.unique(month_of(spec, np.arange(spec.hours, dtype=np.int64)))})


def _timed(report: PipelineReport, name: str, log: Log, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = step()
    report.seconds[name] = time.perf_counter() - started
    log(f"  {name}: {report.seconds[name]:.2f} s")
    return value


def _account_tasks(report: PipelineReport, stage: str, results: list[dict[str, Any]]) -> None:
    """Worker CPU seconds and distinct worker processes of one parallel stage."""
    report.cpu[stage] = sum(float(r.get("task_cpu_s", 0.0)) for r in results)
    report.workers_used[stage] = len({r.get("pid") for r in results})


def _sum(results: list[dict[str, Any]], key: str) -> int:
    return sum(int(r.get(key, 0)) for r in results)


def run_pipeline(session: Session, spec: GroupSpec, layout: GroupLayout, queue: str | None = None,
                 days_per_task: int = 7, log: Log = lambda _: None) -> PipelineReport:
    """Run every stage for the group of ``layout``; returns timings and counts."""
    report = PipelineReport()
    days = -(-spec.hours // 24)
    plants = range(spec.plants)
    ingest_calls = [(spec_dict(spec), p, d, min(days_per_task, days - d)) for p in plants
                    for d in range(0, days, days_per_task)]
    ingested = _timed(report, "ingest", log, lambda: dispatch(ingest_task, ingest_calls, queue))
    _account_tasks(report, "ingest", ingested)
    report.counts["staged"] = _sum(ingested, "staged")
    report.counts["ingest_duplicates"] = _sum(ingested, "duplicates")
    report.counts["ingest_rejected"] = _sum(ingested, "rejected")
    clean_calls = [(org, spec.year, m) for org in layout.plant_ids for m in months_of(spec)]
    cleaned = _timed(report, "clean", log, lambda: dispatch(clean_task, clean_calls, queue))
    report.counts["cleaned"] = _sum(cleaned, "cleaned")
    report.counts["rejected"] = _sum(cleaned, "rejected")
    by_rule: dict[str, int] = {}
    for r in cleaned:
        for rule, n in r["by_rule"].items():
            by_rule[rule] = by_rule.get(rule, 0) + int(n)
    report.counts["by_rule"] = {k: v for k, v in sorted(by_rule.items()) if v}
    _account_tasks(report, "clean", cleaned)
    report.clean_rules_s = sum(float(r["rules_s"]) for r in cleaned)
    report.clean_task_s = sum(float(r["total_s"]) for r in cleaned)
    report.clean_parts = {k: sum(float(r.get(k, 0.0)) for r in cleaned) for k in ("fetch_s", "rules_s", "write_s")}
    report.counts["clean_path"] = sorted({str(r.get("path")) for r in cleaned})
    report.counts["clean_read_from"] = sorted({str(r.get("read_from")) for r in cleaned if r.get("read_from")})
    promoted = _timed(report, "aggregate", log, lambda: dispatch(
        promote_task, [(org, spec.year) for org in layout.plant_ids], queue))
    _account_tasks(report, "aggregate", promoted)
    report.counts["activity_records"] = _sum(promoted, "activity_records")
    report.counts["validation_findings"] = _timed(report, "validation", log,
                                                  lambda: validate(session, layout.group_id, spec.year))
    computed = _timed(report, "accounting", log, lambda: account(session, layout.group_id, spec.year))
    report.counts["total_tco2"] = computed["total_tco2"]
    report.counts["run_id"] = computed["run_id"]
    report.counts["report_bytes"] = _timed(report, "reports", log,
                                           lambda: render_reports(session, layout.group_id, spec))
    return report


def validate(session: Session, group_id: int, year: int) -> int:
    """The active aggregate and record rules over the group's activity data (a dry run); findings."""
    from orgcarbon.quality.models import QualityRun
    from orgcarbon.quality.rules_store import utcnow
    from orgcarbon.quality.runs import DryRun

    run = QualityRun(kind="dry_run", dataset="activity", organization_id=group_id, year=year, status="pending",
                     started_at=utcnow(), user_name="task:scale")
    session.add(run)
    session.flush()
    DryRun(session, group_id, year, None, "activity").run(run)
    session.commit()
    return int((run.counts or {}).get("findings", 0))


def account(session: Session, group_id: int, year: int) -> dict[str, Any]:
    """Account the group's year and store the run (``AccountOrganisation``)."""
    from orgcarbon.accounting.command import AccountOrganisation

    run = AccountOrganisation(session, group_id, year).run()
    return {"run_id": run.id, "total_tco2": run.total_tco2}


def render_reports(session: Session, group_id: int, spec: GroupSpec) -> int:
    """The GB/T 32151.5 annual report (docx) and tables (xlsx) of the year; bytes rendered."""
    from orgcarbon.accounting.command import AccountOrganisation
    from orgcarbon.report_templates.context import ReportInfo, build_context
    from orgcarbon.report_templates.generate import render_builtin

    *_, result = AccountOrganisation(session, group_id, spec.year).compute()
    info = ReportInfo(org_name=spec.name, period_start=date(spec.year, 1, 1), period_end=date(spec.year, 12, 31))
    context = build_context(result, info)
    files = [render_builtin(name, context) for name in ("gbt32151.5-report", "gbt32151.5-tables")]
    return sum(len(getattr(f, "content", b"") or b"") for f in files)
