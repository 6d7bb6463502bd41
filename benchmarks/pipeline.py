"""Benchmark: the whole pipeline of a synthetic steel group with 1, 2 and 4 Celery workers.

For each worker count: a fresh PostgreSQL database (``init``), the synthetic group
(``orgcarbon.scale``), N worker processes (``python -m orgcarbon.scale.worker -c 1``) on a
private queue of Redis, then ingest → cleaning → monthly aggregation → validation → accounting →
reports, each stage timed. Defaults are the issue's full size (20 plants, 5,000 tags, a year of
hours: 43.8 million readings). Last line: one JSON object. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def environment(database_url: str, instance: Path, redis_url: str) -> dict[str, str]:
    """Settings of the app and of the workers."""
    instance.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "ORGCARBON_DATABASE_URL": database_url, "ORGCARBON_INSTANCE_PATH": str(instance),
            "ORGCARBON_SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
            "ORGCARBON_DATA_KEY": "00112233445566778899aabbccddeeff", "ORGCARBON_ADMIN_PASSWORD": "Bench-admin-1",
            "ORGCARBON_REDIS_URL": redis_url, "ORGCARBON_LOG_LEVEL": "WARNING"}


def start_workers(env: dict[str, str], count: int, queue: str, workdir: Path) -> list[subprocess.Popen[bytes]]:
    """``count`` worker processes of one child each, each announcing readiness in a file of ``workdir``."""
    pool = []
    for i in range(count):
        log = open(workdir / f"worker-{i}.log", "wb")  # noqa: SIM115  (closed with the process)
        pool.append(subprocess.Popen(
            [sys.executable, "-m", "orgcarbon.scale.worker", "-c", "1", "-Q", queue,
             "--ready-file", str(workdir / f"worker-{i}.ready")], env=env, cwd=ROOT, stdout=log, stderr=log))
    return pool


def wait_for_workers(pool: list[subprocess.Popen[bytes]], workdir: Path, timeout: float = 900) -> float:
    """Until every worker wrote its ready file; fails at once if one exits. Seconds waited."""
    started = time.monotonic()
    while True:
        ready = [workdir / f"worker-{i}.ready" for i in range(len(pool))]
        if all(f.exists() for f in ready):
            return time.monotonic() - started
        for i, worker in enumerate(pool):
            if worker.poll() is not None:
                log = (workdir / f"worker-{i}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"worker {i} exited with {worker.returncode}:\n{log}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{sum(f.exists() for f in ready)}/{len(pool)} workers ready after {timeout:.0f} s")
        time.sleep(0.5)


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def one_run(args: argparse.Namespace, spec: Any, workers: int) -> dict[str, Any]:
    """A fresh database, the group, ``workers`` workers, the pipeline; the report as a dict."""
    from ingest import create_database  # benchmarks/ingest.py

    workdir = Path(tempfile.mkdtemp(prefix="oc-pipeline-"))
    url, drop = (args.database_url, lambda: None) if args.database_url else create_database(False, workdir)
    env = environment(url, workdir / "instance", args.redis_url)
    subprocess.run([sys.executable, "-m", "orgcarbon.platform.cli", "init"], env=env, check=True,
                   stdout=subprocess.DEVNULL, cwd=ROOT)
    os.environ.update(env)
    from orgcarbon.platform.app import create_app
    from orgcarbon.platform.extensions import db
    from orgcarbon.quality.demo import load_demo_rules
    from orgcarbon.scale.metamodel import build_group
    from orgcarbon.scale.pipeline import run_pipeline

    app = create_app()
    queue = f"scale-{uuid.uuid4().hex[:8]}"
    pool = start_workers(env, workers, queue, workdir)
    try:
        with app.app_context():
            load_demo_rules(db.session)
            layout = build_group(db.session, spec)
            db.session.commit()
            waited = wait_for_workers(pool, workdir)
            print(f"{workers} worker(s) ready after {waited:.1f} s, database {url.rsplit('/', 1)[-1]}, "
                  f"load {os.getloadavg()[0]:.1f}:", flush=True)
            report = run_pipeline(db.session, spec, layout, queue=queue, days_per_task=args.days_per_task,
                                  log=lambda line: print(line, flush=True))
            db.session.remove()
            db.engine.dispose()
    finally:
        stop(pool)
        drop()
    return {"workers": workers, "seconds": report.seconds, "total_s": report.total_s, "counts": report.counts,
            "clean_rules_s": report.clean_rules_s, "clean_task_s": report.clean_task_s,
            "clean_parts": report.clean_parts, "cpu": report.cpu, "workers_used": report.workers_used,
            "load": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plants", type=int, default=20)
    parser.add_argument("--tags", type=int, default=5000)
    parser.add_argument("--hours", type=int)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--days-per-task", type=int, default=7)
    parser.add_argument("--database-url", help="an existing, empty database (default: a new PostgreSQL one per run)")
    # A Redis database of its own: workers of other installations on the same server must not answer.
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    from orgcarbon.scale.generator import GroupSpec

    spec = GroupSpec(plants=args.plants, tags=args.tags, hours=args.hours or args.days * 24)
    from ingest import reference_loop_ms  # benchmarks/ingest.py: how fast this machine is today

    reference = reference_loop_ms()
    print(f"reference loop (10^6 additions): {reference:.0f} ms of CPU", flush=True)
    runs = [one_run(args, spec, int(n)) for n in args.workers.split(",")]
    n = runs[0]["counts"]["staged"]
    for run in runs:
        s, cpu, parts = run["seconds"], run["cpu"], run["clean_parts"]
        print(f"{run['workers']} worker(s), load {run['load']:.1f}: " + ", ".join(f"{k} {v:.2f} s" for k, v in s.items())
              + f"; total {run['total_s']:.1f} s; ingest {n / s['ingest']:,.0f} readings/s")
        print(f"  cleaning per worker: stage {n / run['clean_task_s']:,.0f}/s (fetch {parts['fetch_s']:.2f} s, "
              f"rules {parts['rules_s']:.2f} s, write {parts['write_s']:.2f} s), rules {n / parts['rules_s']:,.0f}/s; "
              f"worker CPU s per stage {json.dumps({k: round(v, 2) for k, v in cpu.items()})}, "
              f"workers used {run['workers_used']}")
        print(f"  counts {json.dumps(run['counts'], ensure_ascii=False)}")
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: driver {peak_self:.0f} MiB, largest worker process {peak_children:.0f} MiB")
    one = next((r for r in runs if r["workers"] == 1), runs[0])
    two = next((r for r in runs if r["workers"] == 2), None)
    best = min(runs, key=lambda r: r["total_s"])
    parallel = ("ingest", "clean", "aggregate")
    by_workers = {str(r["workers"]): {"total_s": round(r["total_s"], 1), "ingest_per_s": round(n / r["seconds"]["ingest"]),
                                      "clean_per_s_per_worker": round(n / r["clean_task_s"]),
                                      "clean_stage_s": round(r["seconds"]["clean"], 1),
                                      "validation_s": round(r["seconds"]["validation"], 1), "load": round(r["load"], 1)}
                  for r in runs}
    print(json.dumps({
        "benchmark": "pipeline", "readings": n, "load": round(one["load"], 1), "reference_loop_ms": round(reference),
        # Ingest and the whole run: the best worker count; cleaning per worker: one worker's own rate.
        "ingest_per_s": max(v["ingest_per_s"] for v in by_workers.values()),
        "clean_per_s_per_worker": round(n / one["clean_task_s"]),
        "clean_rules_per_s": round(n / one["clean_parts"]["rules_s"]),
        "clean_per_cpu_s": round(n / one["cpu"]["clean"]) if one["cpu"].get("clean") else None,
        "accounting_s": round(best["seconds"]["accounting"], 3),
        "reports_s": round(best["seconds"]["reports"], 3),
        "total_s": round(best["total_s"], 2), "total_workers": best["workers"],
        "speedup_2_workers": round(one["total_s"] / two["total_s"], 2) if two and one is not two else None,
        "speedup_2_workers_by_stage": {k: round(one["seconds"][k] / two["seconds"][k], 2) for k in parallel}
        if two and one is not two else None,
        "cpu_ratio_2_to_1_by_stage": {k: round(two["cpu"][k] / one["cpu"][k], 2) for k in parallel}
        if two and one is not two else None,
        "peak_rss_mib": {"driver": round(peak_self), "largest_worker": round(peak_children)},
        "by_workers": by_workers,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
