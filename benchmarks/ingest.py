"""Benchmark: the ingest API under gunicorn (2 workers) on loopback, sealed vs plain JSON batches.

Creates a throw-away PostgreSQL database (or a SQLite file with ``--sqlite``), migrates it and
loads the demo enterprise, registers two API clients, starts gunicorn and posts batches of 1,000
readings from a few client threads: sealed (SM2-wrapped SM4-GCM body, HMAC-SM3 signature,
timestamp and nonce) and plain JSON (``ORGCARBON_API_PLAIN_CLIENTS``, loopback only). Rounds of
the two kinds alternate so that the growing table weighs on both alike.

The client seals its batches before the clock starts, as a separate machine would; the time
sealing takes is printed too. Wall-clock rates depend on whatever else runs on the machine, so the
CPU time of the gunicorn workers, the PostgreSQL backends (``/proc``) and the client itself is
printed per batch and kind, with the rate that many idle cores would sustain. Last line: one JSON
object with the wall-clock figures. Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEIJING = timezone(timedelta(hours=8))
PATH = "/api/v1/ingest/readings"
SECURE, PLAIN = "bench-secure", "bench-plain"
SECRET = "benchmark-hmac-secret-0123456789abcdef"
COMBOS = [("东区", "1#高炉", "焦炭", "t"), ("东区", "炼焦", "洗精煤", "t"), ("东区", "烧结机", "无烟煤", "t"),
          ("西区", "加热炉", "天然气", "10^4Nm3"), ("东区", "喷煤", "烟煤", "t")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_database(use_sqlite: bool, workdir: Path) -> tuple[str, Callable[[], None]]:
    """A new empty database and a function that drops it."""
    if use_sqlite:
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = os.environ.get("ORGCARBON_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    name = f"oc_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server).set(database=name).render_as_string(hide_password=False), drop


def environment(database_url: str, instance: Path) -> dict[str, str]:
    from orgcarbon.security.crypto import generate_keypair

    key_file = instance / "api.keys"
    instance.mkdir(parents=True, exist_ok=True)
    key_file.write_text(f"bench = {generate_keypair().private_key}\nactive = bench\n", encoding="utf-8")
    return {
        **os.environ,
        "ORGCARBON_DATABASE_URL": database_url, "ORGCARBON_INSTANCE_PATH": str(instance),
        "ORGCARBON_SECRET_KEY": "benchmark-secret-key-" + "x" * 32, "ORGCARBON_DATA_KEY": "00112233445566778899aabbccddeeff",
        "ORGCARBON_ADMIN_PASSWORD": "Bench-admin-1", "ORGCARBON_API_KEY_FILE": str(key_file),
        "ORGCARBON_API_PLAIN_CLIENTS": PLAIN, "ORGCARBON_LOG_LEVEL": "WARNING",
    }


def prepare(env: dict[str, str]) -> str:
    """Migrate, load the demo enterprise, register the two clients; returns the server public key."""
    for command in ("init", "demo"):
        subprocess.run([sys.executable, "-m", "orgcarbon.platform.cli", command], env=env, check=True,
                       stdout=subprocess.DEVNULL, cwd=ROOT)
    os.environ.update(env)
    from sqlalchemy import select

    from orgcarbon.collection.keys import load_server_keys, seal_client_secret
    from orgcarbon.collection.models import ApiClient
    from orgcarbon.metamodel.models import Organization
    from orgcarbon.platform.app import create_app
    from orgcarbon.platform.extensions import db

    app = create_app()
    with app.app_context():
        group = db.session.scalar(select(Organization.id).where(Organization.name == "华钢集团"))
        for client_id in (SECURE, PLAIN):
            db.session.add(ApiClient(client_id=client_id, name=client_id, organization_id=group,
                                     hmac_secret=seal_client_secret(SECRET), enabled=True))
        db.session.commit()
        keys = load_server_keys(app)
        assert keys is not None
        public = keys.public_key()
        db.session.remove()
        db.engine.dispose()
    return public


def batch(number: int, size: int) -> bytes:
    """``size`` readings with their own times (fresh record keys), as the API body."""
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=number * size)
    readings = []
    for i in range(size):
        org, sub, material, unit = COMBOS[i % len(COMBOS)]
        moment = (start + timedelta(seconds=i)).astimezone(BEIJING).isoformat(timespec="seconds")
        readings.append({"organization": org, "sub_process": sub, "material": material,
                         "quantity": round(100 + (i * 7919 % 1000) / 7, 3), "unit": unit, "time": moment,
                         "tags": ["bench"], "parameters": {"ncv": 28.435}})
    return json.dumps({"idempotency_key": f"bench-{number}", "readings": readings}, ensure_ascii=False).encode()


def seal(body: bytes, server_public_key: str) -> bytes:
    from orgcarbon.security.crypto import seal_request

    return seal_request(method="POST", path=PATH, body=body, client_id=SECURE, server_public_key=server_public_key,
                        key_id="bench", hmac_secret=SECRET.encode(), backend="native").to_json()


def post(port: int, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", PATH, body=body, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {answer}")
    return answer


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (Linux ``/proc``; 0 where unreadable)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def reference_loop_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop (best of 3): how fast this machine runs Python,
    so that figures from different machines can be compared."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.process_time() - started)
    return best * 1000


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process (the client threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The gunicorn workers (children of the master)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def database_pids(database_url: str) -> list[int]:
    """PostgreSQL backends connected to the benchmark database (empty for SQLite)."""
    if database_url.startswith("sqlite"):
        return []
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    with engine.connect() as conn:
        pids = [int(p) for p in conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalars()]
    engine.dispose()
    return pids


def run_round(port: int, bodies: list[bytes], headers: dict[str, str], threads: int) -> float:
    """Post ``bodies`` from ``threads`` clients; returns the elapsed seconds."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if not queue or errors:
                    return
                body = queue.pop()
            try:
                answer = post(port, body, headers)
                if answer["staged"] != answer["received"]:
                    raise RuntimeError(f"not every reading was staged: {answer}")
            except BaseException as exc:  # noqa: BLE001  # reported after the round
                errors.append(exc)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120",
         "--log-level", "warning", "orgcarbon.platform.app:create_app()"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
        if server.poll() is not None:
            raise RuntimeError((server.stderr.read() if server.stderr else b"").decode()[-2000:])
    raise RuntimeError("gunicorn did not answer /health within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite file instead of PostgreSQL")
    parser.add_argument("--batches", type=int, default=30, help="batches per kind and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=1000, help="readings per batch")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="orgcarbon-ingest-"))
    database_url, drop = create_database(args.sqlite, workdir)
    server: subprocess.Popen[bytes] | None = None
    try:
        env = environment(database_url, workdir / "instance")
        print(f"database: {'SQLite' if args.sqlite else 'PostgreSQL'}; preparing (init + demo)…", flush=True)
        public_key = prepare(env)
        total = 2 * (args.rounds + 1) * args.batches
        bodies = [batch(n, args.size) for n in range(total)]
        clock = time.perf_counter()
        sealed = [seal(body, public_key) for body in bodies[::2]]
        seal_ms = (time.perf_counter() - clock) * 1000 / len(sealed)
        plain = bodies[1::2]
        port = free_port()
        server = start_server(env, port, args.workers)
        per = args.batches
        secure_headers: dict[str, str] = {}
        plain_headers = {"X-Orgcarbon-Client": PLAIN}
        # Warm-up round (imports, first plans, caches), not counted.
        run_round(port, sealed[:per], secure_headers, args.threads)
        run_round(port, plain[:per], plain_headers, args.threads)
        workers, backends = server_pids(server), database_pids(database_url)
        cpu = {kind: {"server": 0.0, "database": 0.0, "client": 0.0} for kind in ("sealed", "plain")}
        secure_s = plain_s = 0.0
        for r in range(1, args.rounds + 1):
            for kind, bodies_of_kind, headers in (("sealed", sealed, secure_headers), ("plain", plain, plain_headers)):
                before = (cpu_seconds(workers), cpu_seconds(backends), own_cpu_seconds())
                elapsed = run_round(port, bodies_of_kind[r * per:(r + 1) * per], headers, args.threads)
                after = (cpu_seconds(workers), cpu_seconds(backends), own_cpu_seconds())
                for part, start, end in zip(("server", "database", "client"), before, after, strict=True):
                    cpu[kind][part] += end - start
                if kind == "sealed":
                    secure_s += elapsed
                else:
                    plain_s += elapsed
        batches = args.rounds * per
        readings = batches * args.size
        secure_rate, plain_rate = readings / secure_s, readings / plain_s
        overhead = secure_s / plain_s - 1
        load = os.getloadavg()[0]
        cores = os.cpu_count() or 1
        print(f"{args.workers} gunicorn workers, {args.threads} client threads, batches of {args.size}, "
              f"{readings:,} readings per kind; load average {load:.1f} on {cores} CPUs")
        print(f"sealed:  {secure_rate:10,.0f} readings/s   ({secure_s * 1000 / batches:.1f} ms per batch)")
        print(f"plain:   {plain_rate:10,.0f} readings/s   ({plain_s * 1000 / batches:.1f} ms per batch)")
        print(f"client sealing (not timed above): {seal_ms:.1f} ms per batch; "
              f"reference loop (10^6 additions): {reference_loop_ms():.0f} ms of CPU")
        if workers:
            # CPU time per batch of the gunicorn workers, the PostgreSQL backends and this client:
            # what the two kinds cost whatever else runs on the machine, and what idle cores could
            # sustain (every process of the benchmark shares them).
            for kind in ("sealed", "plain"):
                parts = {part: seconds * 1000 / batches for part, seconds in cpu[kind].items()}
                total = sum(parts.values())
                projected = f"≈{cores * args.size * 1000 / total:,.0f} readings/s" if total else "n/a"
                database = f"PostgreSQL {parts['database']:.1f} ms" if backends else "SQLite inside the server"
                print(f"CPU per batch, {kind}: server {parts['server']:.1f} ms, {database}, "
                      f"client {parts['client']:.1f} ms = {total:.1f} ms; {cores} idle cores: {projected}")
            sealed_cpu, plain_cpu = sum(cpu["sealed"].values()), sum(cpu["plain"].values())
            if plain_cpu:
                print(f"crypto overhead in CPU: {sealed_cpu / plain_cpu - 1:+.1%}")
        print(json.dumps({"benchmark": "ingest", "readings_per_s_secure": round(secure_rate),
                          "readings_per_s_plain": round(plain_rate), "crypto_overhead": round(overhead, 3)}))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
