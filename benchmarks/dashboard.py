"""Benchmark: the panorama's JSON endpoints under 20 concurrent clients, on 10 years × 20 plants of results.

A throw-away PostgreSQL database (created and dropped on 127.0.0.1:5432, user ``postgres``) is
migrated by ``orgcarbon init``; then 10 years × 20 plants × 12 months of result lines are bulk
inserted with Core inserts, as ``orgcarbon.accounting.command.store_lines`` stores them: one run per
plant and year, 60 lines per plant-month (the 20 golden-case lines, each split over three
sub-processes and varied by plant, year and month). The application is then served on loopback in
a subprocess by gunicorn (a project dependency; ``--workers`` processes of ``--threads`` threads,
as production runs it) or, with ``--server werkzeug``, by ``orgcarbon run`` (Werkzeug's threaded
development server, one process), and 20 client threads (``urllib``) send a fixed list of requests to
``/api/v1/analysis/panorama`` and ``/api/v1/analysis/intensity`` across years, organisations and
month ranges, each with a JWT. The headline figures are of that first pass, where most requests
are cache misses by construction (742 distinct selections among the 1,000 requests); the same
requests are then sent again (a dashboard reloaded: cached) and reported beside them. The cache
is the in-process one of each server process unless ``--redis URL`` is given.

Prints a readable summary and, as the last line, one JSON object:
``{"benchmark": "dashboard", "p50_ms": …, "p95_ms": …, "errors": 0, …}``. Target: p95 < 150 ms.
Not a test: it never decides a test run's outcome.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Connection, Engine, make_url

from orgcarbon.accounting.models import AccountingRun, ResultLine
from orgcarbon.metamodel.models import Organization, Process, SubProcess
from orgcarbon.metamodel.versioned import AccountingModel
from orgcarbon.rules.calc import calculate_package
from orgcarbon.rules.model import default_model

SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GOLDEN = Path(__file__).parents[1] / "tests/fixtures/domain/golden-bfbof-annual.package.json"
PLANTS, YEARS, FIRST_YEAR, SPLIT = 20, 10, 2015, 3
CLIENTS, REQUESTS_PER_CLIENT = 20, 50
MONTH_RANGES = ((1, 12), (1, 6), (7, 12), (1, 3))
INTENSITY_SHARE = 0.25  # the rest of the requests ask for the panorama itself
TARGET_P95_MS = 150.0
ADMIN_PASSWORD = "Bench-admin-1"
SECRETS = {"ORGCARBON_SECRET_KEY": "benchmark-secret-key-not-for-production",
           "ORGCARBON_DATA_KEY": "00112233445566778899aabbccddeeff"}


def create_database() -> str:
    """A new empty database on the local server; its SQLAlchemy URL."""
    name = f"oc_bench_dashboard_{uuid.uuid4().hex[:10]}"
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the benchmark's database (connections forced closed)."""
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def environment(url: str, instance: Path, redis: str | None) -> dict[str, str]:
    """The ``ORGCARBON_*`` settings of the server and of ``orgcarbon init``."""
    env = {**os.environ, **SECRETS, "ORGCARBON_DATABASE_URL": url, "ORGCARBON_INSTANCE_PATH": str(instance),
           "ORGCARBON_ADMIN_PASSWORD": ADMIN_PASSWORD}
    env.pop("ORGCARBON_REDIS_URL", None)
    if redis:
        env["ORGCARBON_REDIS_URL"] = redis
    return env


def cli(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``orgcarbon <args>`` in a subprocess."""
    return subprocess.Popen([sys.executable, "-m", "orgcarbon.platform.cli", *args], env=env, **kwargs)


def template_lines() -> list[dict[str, Any]]:
    """The golden case's 20 annual result lines with the sign and scope of their category."""
    _package, result = calculate_package(GOLDEN)
    rules = {r.category: r for r in default_model().rules}
    return [{"process": line.process, "subprocess": line.subprocess or line.process, "material": line.material,
             "category": line.category, "term": line.term, "sign": rules[line.category].sign,
             "scope": rules[line.category].scope, "activity": line.activity, "activity_unit": line.activity_unit,
             "ef": line.ef, "ef_unit": line.ef_unit, "formula_name": line.formula.name,
             "formula_version": str(line.formula.version), "formula_expression": line.formula.expression}
            for line in result.lines]


def _ids(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    return [int(r[0]) for r in conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)]


def load(engine: Engine) -> dict[str, Any]:
    """Organisations, processes and 10 × 20 runs with their lines; returns ids and counts."""
    template = template_lines()
    started = time.perf_counter()
    with engine.begin() as conn:
        group = _ids(conn, Organization.__table__, [{"name": "基准测试集团（虚构）", "level": "集团"}])[0]
        plants = _ids(conn, Organization.__table__, [
            {"name": f"{p + 1:02d} 号基地", "level": "厂区", "parent_id": group, "grid_region": "华北"}
            for p in range(PLANTS)])
        model = _ids(conn, AccountingModel.__table__, [{"name": "基准测试模型", "version": 1, "status": "published",
                                                         "organization_id": group}])[0]
        names = sorted({t["process"] for t in template})
        process_rows = [{"organization_id": plant, "name": n, "status": "active"} for plant in plants for n in names]
        process_ids = dict(zip([(r["organization_id"], r["name"]) for r in process_rows],
                               _ids(conn, Process.__table__, process_rows), strict=True))
        subs = sorted({(t["process"], t["subprocess"]) for t in template})
        sub_rows = [{"process_id": process_ids[(plant, proc)], "organization_id": plant,
                     "name": f"{sub} {k + 1}#", "status": "active"}
                    for plant in plants for proc, sub in subs for k in range(SPLIT)]
        sub_keys = [(plant, proc, sub, k) for plant in plants for proc, sub in subs for k in range(SPLIT)]
        sub_ids = dict(zip(sub_keys, _ids(conn, SubProcess.__table__, sub_rows), strict=True))
        lines = 0
        for year in range(FIRST_YEAR, FIRST_YEAR + YEARS):
            for p, plant in enumerate(plants):
                values = _plant_year(template, plant, p, year, process_ids, sub_ids)
                total = sum(v["net_tco2"] for v in values)
                direct = sum(v["net_tco2"] for v in values if v["scope"] == "direct")
                run = _ids(conn, AccountingRun.__table__, [{
                    "organization_id": plant, "year": year, "model_id": model, "model_version": 1, "status": "done",
                    "total_tco2": total, "direct_tco2": direct, "indirect_tco2": total - direct,
                    "line_count": len(values), "created_by_name": "benchmark"}])[0]
                conn.execute(insert(ResultLine), [{**v, "run_id": run} for v in values])
                lines += len(values)
        conn.execute(text("ANALYZE"))
    return {"group": group, "plants": plants, "lines": lines, "load_s": time.perf_counter() - started}


def _plant_year(template: list[dict[str, Any]], plant: int, index: int, year: int,
                process_ids: dict[tuple[int, str], int], sub_ids: dict[tuple[int, str, str, int], int]
                ) -> list[dict[str, Any]]:
    """A plant's 12 months of lines: the golden lines scaled by plant size, a yearly decline and the season."""
    size = 0.6 + 0.04 * index
    decline = 1.0 - 0.015 * (year - FIRST_YEAR)
    out = []
    for month in range(1, 13):
        season = 1.0 + 0.08 * ((month % 6) - 2.5) / 2.5
        for t in template:
            for k in range(SPLIT):
                activity = t["activity"] / 12 / SPLIT * size * season * (decline if t["category"] != "fixed_carbon_product"
                                                                         else 1.0)
                tco2 = activity * t["ef"]
                out.append({
                    "organization_id": plant, "process_id": process_ids[(plant, t["process"])],
                    "subprocess_id": sub_ids[(plant, t["process"], t["subprocess"], k)], "material": t["material"],
                    "month": f"{year}-{month:02d}", "category": t["category"], "term": t["term"], "sign": t["sign"],
                    "scope": t["scope"], "activity": activity, "activity_unit": t["activity_unit"], "ef": t["ef"],
                    "ef_unit": t["ef_unit"], "tco2": tco2, "net_tco2": tco2 * t["sign"],
                    "formula_name": t["formula_name"], "formula_version": t["formula_version"],
                    "formula_expression": t["formula_expression"], "factors": [], "measured": [],
                    "inputs": {"quantity": activity}, "record_ids": [],
                })
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.3)


def start_server(args: argparse.Namespace, port: int, env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    """gunicorn (``--workers`` × ``--threads``) or ``orgcarbon run`` on ``127.0.0.1:port``."""
    if args.server == "werkzeug":
        return cli("run", "--host", "127.0.0.1", "--port", str(port), env=env, stdout=log, stderr=subprocess.STDOUT)
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "--threads", str(args.threads),
         "-b", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning",
         "orgcarbon.platform.app:create_app()"],
        env=env, cwd=Path(__file__).parents[1], stdout=log, stderr=subprocess.STDOUT)


def server_name(args: argparse.Namespace) -> str:
    if args.server == "werkzeug":
        return "orgcarbon run (Werkzeug, threaded, 1 process)"
    return f"gunicorn {args.workers} workers × {args.threads} threads"


def token(base: str) -> str:
    """A JWT for the administrator (sees every organisation)."""
    body = json.dumps({"username": "admin", "password": ADMIN_PASSWORD, "provider": "db", "refresh": False}).encode()
    request = urllib.request.Request(base + "/api/v1/security/login", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["access_token"])


def request_plan(group: int, plants: list[int]) -> list[str]:
    """CLIENTS × REQUESTS_PER_CLIENT paths over years, organisations and month ranges (fixed seed)."""
    rng = random.Random(9)
    orgs: list[int | None] = [None, group, *plants]
    paths = []
    for _ in range(CLIENTS * REQUESTS_PER_CLIENT):
        endpoint = "intensity" if rng.random() < INTENSITY_SHARE else "panorama"
        year = rng.randrange(FIRST_YEAR, FIRST_YEAR + YEARS)
        month_from, month_to = rng.choice(MONTH_RANGES)
        org = rng.choice(orgs)
        query = f"year={year}&month_from={month_from}&month_to={month_to}" + (f"&org_id={org}" if org else "")
        paths.append(f"/api/v1/analysis/{endpoint}?{query}")
    return paths


def sequential_plan(group: int, plants: list[int]) -> list[str]:
    """Panorama paths of a month range the main plan never asks for (so each is computed once)."""
    orgs: list[int | None] = [None, group, *plants[:3]]
    return [f"/api/v1/analysis/panorama?year={year}&month_from=2&month_to=11" + (f"&org_id={org}" if org else "")
            for year in range(FIRST_YEAR, FIRST_YEAR + YEARS) for org in orgs]


def drive(base: str, jwt: str, paths: list[str], clients: int = CLIENTS) -> list[tuple[str, float, bool]]:
    """Send ``paths`` from ``clients`` threads; (path, milliseconds, ok) per request."""
    results: list[tuple[str, float, bool]] = []
    lock = threading.Lock()

    def client(mine: list[str]) -> None:
        for path in mine:
            request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {jwt}"})
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    ok = response.status == 200 and bool(json.load(response)["result"]["run_ids"])
            except Exception:  # noqa: BLE001 - every failure is counted as an error
                ok = False
            with lock:
                results.append((path, (time.perf_counter() - start) * 1000.0, ok))

    threads = [threading.Thread(target=client, args=(paths[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100.0 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="serve the aggregate cache from this Redis URL (default: in process)")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default: 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default: 4)")
    args = parser.parse_args()
    url = create_database()
    workdir = Path(tempfile.mkdtemp(prefix="oc-bench-dashboard-"))
    env = environment(url, workdir / "instance", args.redis)
    server = None
    try:
        init = cli("init", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _out, err = init.communicate()
        if init.returncode != 0:
            raise RuntimeError("orgcarbon init failed: " + err.decode(errors="replace"))
        engine = create_engine(url)
        data = load(engine)
        engine.dispose()
        print(f"loaded {data['lines']:,} result lines ({YEARS} years × {PLANTS} plants × 12 months, "
              f"{YEARS * PLANTS} runs) in {data['load_s']:.1f} s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (workdir / "server.log").open("w")
        server = start_server(args, port, env, log)
        wait_for(base, server)
        jwt = token(base)
        paths = request_plan(data["group"], data["plants"])
        drive(base, jwt, [f"/api/v1/analysis/panorama?year={FIRST_YEAR}&month_from=2&month_to=2"])  # warm-up
        # One client alone first: what a request costs when nothing waits (computed, then cached).
        single = sequential_plan(data["group"], data["plants"])
        alone = [ms for _p, ms, _ok in drive(base, jwt, single, clients=1)]
        again = [ms for _p, ms, _ok in drive(base, jwt, single, clients=1)]
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        first = drive(base, jwt, paths)  # most selections asked for the first time: computed
        wall = time.perf_counter() - started
        second = drive(base, jwt, paths)  # the same requests again: what a reload of the dashboard costs
        load_after = os.getloadavg()[0]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        drop_database(url)
    times = [ms for _path, ms, _ok in first]
    errors = sum(1 for _path, _ms, ok in first + second if not ok)
    repeat = [ms for _path, ms, _ok in second]
    by_endpoint = {name: [ms for path, ms, _ok in first if f"/analysis/{name}?" in path]
                   for name in ("panorama", "intensity")}
    for name, values in by_endpoint.items():
        print(f"{name}: {len(values)} requests, p50 {statistics.median(values):.1f} ms, "
              f"p95 {percentile(values, 95):.1f} ms, max {max(values):.1f} ms")
    print(f"the same {len(second)} requests again (cached): p50 {statistics.median(repeat):.1f} ms, "
          f"p95 {percentile(repeat, 95):.1f} ms")
    print(f"one client alone: computed p50 {statistics.median(alone):.1f} ms, "
          f"cached p50 {statistics.median(again):.1f} ms ({len(alone)} panoramas each)")
    print(f"load average (1 min) {load_before:.2f} before and {load_after:.2f} after the run, "
          f"{os.cpu_count()} CPUs")
    print(f"{len(first)} requests from {CLIENTS} clients in {wall:.1f} s ({len(first) / wall:.0f}/s); "
          f"distinct selections {len(set(paths))}; cache {'Redis' if args.redis else 'in process'}; "
          f"server: {server_name(args)}")
    p95 = percentile(times, 95)
    summary = {
        "benchmark": "dashboard", "p50_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1),
        "errors": errors, "requests": len(first), "clients": CLIENTS, "lines": data["lines"],
        "panorama_p95_ms": round(percentile(by_endpoint["panorama"], 95), 1),
        "intensity_p95_ms": round(percentile(by_endpoint["intensity"], 95), 1),
        "cached_p50_ms": round(statistics.median(repeat), 1), "cached_p95_ms": round(percentile(repeat, 95), 1),
        "alone_computed_p50_ms": round(statistics.median(alone), 1),
        "alone_cached_p50_ms": round(statistics.median(again), 1),
        "throughput_per_s": round(len(first) / wall, 1), "loadavg_1m": round(load_after, 2), "cpus": os.cpu_count(),
        "cache": "redis" if args.redis else "memory", "server": server_name(args),
        "target_met": p95 < TARGET_P95_MS and errors == 0,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
