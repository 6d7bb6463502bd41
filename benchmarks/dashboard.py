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

Like a browser, each client keeps its connection open between requests (HTTP/1.1 keep-alive;
``--no-keep-alive`` opens one per request), and gunicorn loads the application once before forking
its workers (``--preload``, as production runs it; ``--no-preload`` builds it in every worker).
Every request still carries and verifies its JWT.

Load-independent figures, for comparing runs on a busy machine: the CPU time the server's
processes and the database's backends used per request during the first pass (from ``/proc``),
and, after the server stops, the same plan sent in process through Flask's test client with the
application's CPU, the database's CPU and the number of SQL statements per request.

Prints a readable summary and, as the last line, one JSON object:
``{"benchmark": "dashboard", "p50_ms": …, "p95_ms": …, "errors": 0, …}``. Target: p95 < 150 ms.
Not a test: it never decides a test run's outcome.
"""

from __future__ import annotations

import argparse
import http.client
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


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 300) -> None:
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
    # --preload: create_app opens no database connection, so nothing is shared across the fork.
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "--threads", str(args.threads),
         "-b", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning",
         *(["--preload"] if args.preload else []), "orgcarbon.platform.app:create_app()"],
        env=env, cwd=Path(__file__).parents[1], stdout=log, stderr=subprocess.STDOUT)


def server_name(args: argparse.Namespace) -> str:
    if args.server == "werkzeug":
        return "orgcarbon run (Werkzeug, threaded, 1 process)"
    return f"gunicorn {args.workers} workers × {args.threads} threads{', preload' if args.preload else ''}"


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


def drive(base: str, jwt: str, paths: list[str], clients: int = CLIENTS,
          keep_alive: bool = True) -> list[tuple[str, float, bool]]:
    """Send ``paths`` from ``clients`` threads; (path, milliseconds, ok) per request."""
    results: list[tuple[str, float, bool]] = []
    lock = threading.Lock()
    host, port = base.removeprefix("http://").split(":")

    def fetch(connection: list[http.client.HTTPConnection | None], path: str) -> bool:
        if not keep_alive:
            request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {jwt}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status == 200 and bool(json.load(response)["result"]["run_ids"])
        conn = connection[0] or http.client.HTTPConnection(host, int(port), timeout=30)
        connection[0] = conn
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {jwt}"})
            response = conn.getresponse()
            body = response.read()
        except Exception:
            conn.close()
            connection[0] = None
            raise
        if response.will_close:
            conn.close()
            connection[0] = None
        return response.status == 200 and bool(json.loads(body)["result"]["run_ids"])

    def client(mine: list[str]) -> None:
        connection: list[http.client.HTTPConnection | None] = [None]
        for path in mine:
            start = time.perf_counter()
            try:
                ok = fetch(connection, path)
            except Exception:  # noqa: BLE001 - every failure is counted as an error
                ok = False
            with lock:
                results.append((path, (time.perf_counter() - start) * 1000.0, ok))
        if connection[0] is not None:
            connection[0].close()

    threads = [threading.Thread(target=client, args=(paths[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each live process among ``pids`` (from ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def backends(url: str) -> list[int]:
    """The PostgreSQL backend processes connected to the benchmark's database."""
    engine = create_engine(SERVER_URL)
    try:
        with engine.connect() as conn:
            return [int(p) for p in conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :db"),
                                                 {"db": make_url(url).database}).scalars()]
    finally:
        engine.dispose()


class CpuMeter:
    """CPU seconds used meanwhile by the server's processes and by the database's backends."""

    def __init__(self, server: subprocess.Popen[bytes], url: str) -> None:
        self.server, self.url = server, url
        self.before = self._sample()

    def _sample(self) -> tuple[dict[int, float], dict[int, float]]:
        return (cpu_seconds([self.server.pid, *children(self.server.pid)]), cpu_seconds(backends(self.url)))

    def used(self) -> tuple[float, float]:
        """(server seconds, database seconds) since construction; processes new meanwhile count from 0."""
        after = self._sample()
        return tuple(sum(t - before.get(pid, 0.0) for pid, t in now.items())  # type: ignore[return-value]
                     for now, before in zip(after, self.before, strict=True))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100.0 * (len(ordered) - 1))))]


def in_process(url: str, instance: Path, data: dict[str, Any], count: int) -> dict[str, dict[str, float]]:
    """The plan's first ``count`` requests through Flask's test client, twice (computed, then cached):
    application CPU, database CPU and SQL statements per request, independent of other load."""
    from sqlalchemy import event

    from orgcarbon.platform.app import create_app

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "REDIS_URL": None, "LOG_LEVEL": "WARNING",
                      "SECRET_KEY": SECRETS["ORGCARBON_SECRET_KEY"], "DATA_KEY": SECRETS["ORGCARBON_DATA_KEY"]})
    statements, pids = [0], set()

    def count_statement(*_args: Any) -> None:
        statements[0] += 1

    def remember_backend(dbapi: Any, _record: Any) -> None:
        with dbapi.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.add(int(cursor.fetchone()[0]))

    event.listen(Engine, "before_cursor_execute", count_statement)
    event.listen(Engine, "connect", remember_backend)
    try:
        client = app.test_client()
        login = client.post("/api/v1/security/login", json={"username": "admin", "password": ADMIN_PASSWORD,
                                                            "provider": "db", "refresh": False})
        headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
        paths = request_plan(data["group"], data["plants"])[:count]
        client.get(f"/api/v1/analysis/panorama?year={FIRST_YEAR}&month_from=2&month_to=2", headers=headers)
        out = {}
        for label in ("computed", "cached"):
            statements[0], cpu, db_before = 0, time.process_time(), cpu_seconds(sorted(pids))
            ok = sum(client.get(path, headers=headers).status_code == 200 for path in paths)
            db_after = cpu_seconds(sorted(pids))
            out[label] = {"app_cpu_ms": (time.process_time() - cpu) * 1000 / len(paths),
                          "db_cpu_ms": sum(t - db_before.get(p, 0.0) for p, t in db_after.items()) * 1000 / len(paths),
                          "sql_per_request": statements[0] / len(paths), "errors": len(paths) - ok}
        return out
    finally:
        event.remove(Engine, "before_cursor_execute", count_statement)
        event.remove(Engine, "connect", remember_backend)
        from orgcarbon.platform.extensions import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def stop(server: subprocess.Popen[bytes] | None) -> None:
    """End the server (killed if it does not stop within 20 s)."""
    if server is None:
        return
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=20)


def report(args: argparse.Namespace, data: dict[str, Any], runs: dict[str, Any]) -> dict[str, Any]:
    """Print the readable summary; return the JSON summary."""
    first, second, paths = runs["first"], runs["second"], runs["paths"]
    times = [ms for _path, ms, _ok in first]
    errors = sum(1 for _path, _ms, ok in first + second if not ok)
    repeat = [ms for _path, ms, _ok in second]
    alone, again, wall = runs["alone"], runs["again"], runs["wall"]
    by_endpoint = {name: [ms for path, ms, _ok in first if f"/analysis/{name}?" in path]
                   for name in ("panorama", "intensity")}
    for name, values in by_endpoint.items():
        print(f"{name}: {len(values)} requests, p50 {statistics.median(values):.1f} ms, "
              f"p95 {percentile(values, 95):.1f} ms, max {max(values):.1f} ms")
    print(f"the same {len(second)} requests again (cached): p50 {statistics.median(repeat):.1f} ms, "
          f"p95 {percentile(repeat, 95):.1f} ms")
    print(f"one client alone: computed p50 {statistics.median(alone):.1f} ms, "
          f"cached p50 {statistics.median(again):.1f} ms ({len(alone)} panoramas each)")
    print(f"load average (1 min) {runs['load_before']:.2f} before and {runs['load_after']:.2f} after the run, "
          f"{os.cpu_count()} CPUs")
    print(f"{len(first)} requests from {CLIENTS} clients in {wall:.1f} s ({len(first) / wall:.0f}/s); "
          f"distinct selections {len(set(paths))}; cache {'Redis' if args.redis else 'in process'}; "
          f"server: {server_name(args)}; keep-alive {'on' if args.keep_alive else 'off'}")
    server_ms, db_ms = (seconds * 1000 / len(first) for seconds in runs["cpu"])
    print(f"CPU per request in the first pass: server processes {server_ms:.1f} ms, PostgreSQL {db_ms:.1f} ms, "
          f"this client {runs['client_cpu'] * 1000 / len(first):.1f} ms")
    for label, figures in runs["in_process"].items():
        print(f"in process ({args.in_process} requests, {label}): application CPU {figures['app_cpu_ms']:.1f} ms, "
              f"PostgreSQL CPU {figures['db_cpu_ms']:.1f} ms, {figures['sql_per_request']:.2f} SQL statements "
              f"per request, {figures['errors']} errors")
    p95 = percentile(times, 95)
    return {
        "benchmark": "dashboard", "p50_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1),
        "errors": errors, "requests": len(first), "clients": CLIENTS, "lines": data["lines"],
        "panorama_p95_ms": round(percentile(by_endpoint["panorama"], 95), 1),
        "intensity_p95_ms": round(percentile(by_endpoint["intensity"], 95), 1),
        "cached_p50_ms": round(statistics.median(repeat), 1), "cached_p95_ms": round(percentile(repeat, 95), 1),
        "alone_computed_p50_ms": round(statistics.median(alone), 1),
        "alone_cached_p50_ms": round(statistics.median(again), 1),
        "throughput_per_s": round(len(first) / wall, 1), "loadavg_1m": round(runs["load_after"], 2),
        "cpus": os.cpu_count(), "server_cpu_ms_per_request": round(server_ms, 2),
        "db_cpu_ms_per_request": round(db_ms, 2),
        "in_process": {k: {n: round(v, 2) for n, v in f.items()} for k, f in runs["in_process"].items()},
        "cache": "redis" if args.redis else "memory", "server": server_name(args), "keep_alive": args.keep_alive,
        "target_met": p95 < TARGET_P95_MS and errors == 0,
    }


def measure(args: argparse.Namespace, base: str, data: dict[str, Any], server: subprocess.Popen[bytes],
            url: str) -> dict[str, Any]:
    """The warm-up, one client alone, then the 20 clients twice."""
    jwt = token(base)
    paths = request_plan(data["group"], data["plants"])
    keep = args.keep_alive
    drive(base, jwt, [f"/api/v1/analysis/panorama?year={FIRST_YEAR}&month_from=2&month_to=2"])  # warm-up
    # One client alone first: what a request costs when nothing waits (computed, then cached).
    single = sequential_plan(data["group"], data["plants"])
    runs: dict[str, Any] = {"paths": paths,
                            "alone": [ms for _p, ms, _ok in drive(base, jwt, single, clients=1, keep_alive=keep)],
                            "again": [ms for _p, ms, _ok in drive(base, jwt, single, clients=1, keep_alive=keep)],
                            "load_before": os.getloadavg()[0]}
    meter, client_cpu = CpuMeter(server, url), time.process_time()
    started = time.perf_counter()
    runs["first"] = drive(base, jwt, paths, keep_alive=keep)  # most selections asked for the first time
    runs["wall"] = time.perf_counter() - started
    runs["cpu"], runs["client_cpu"] = meter.used(), time.process_time() - client_cpu
    runs["second"] = drive(base, jwt, paths, keep_alive=keep)  # the same again: a reload of the dashboard
    runs["load_after"] = os.getloadavg()[0]
    return runs


def main() -> int:
    global YEARS  # --years: the loader and the request plans read the module's setting
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="serve the aggregate cache from this Redis URL (default: in process)")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default: 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default: 4)")
    parser.add_argument("--preload", action=argparse.BooleanOptionalAction, default=True,
                        help="gunicorn --preload: build the app once before forking (default: on)")
    parser.add_argument("--keep-alive", action=argparse.BooleanOptionalAction, default=True,
                        help="each client keeps its HTTP connection open, as a browser does (default: on)")
    parser.add_argument("--in-process", type=int, default=300, metavar="N",
                        help="requests of the plan also sent in process for CPU and SQL counts (0: skip)")
    parser.add_argument("--years", type=int, default=YEARS,
                        help=f"years of results loaded and asked for (default: {YEARS}; fewer load faster)")
    args = parser.parse_args()
    YEARS = args.years
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
        runs = measure(args, base, data, server, url)
        stop(server)
        server = None
        runs["in_process"] = in_process(url, workdir / "instance", data, args.in_process) if args.in_process else {}
    finally:
        stop(server)
        drop_database(url)
    print(json.dumps(report(args, data, runs), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
