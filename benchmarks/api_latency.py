"""Benchmark: API latency of the pregnancy list and detail on a national year (issue 3: p95 < 100 ms).

    .venv/bin/python benchmarks/api_latency.py [--db PATH] [--pregnancies 170000] [--requests 300]

Without ``--db`` it builds a fresh national year first (synth → import → decide: a few minutes); with ``--db``
it reuses that database (e.g. the one ``benchmarks/national_year.py --keep DIR`` left), upgrading its schema.
It then starts ``integraal serve`` as a separate process on 127.0.0.1 (a real uvicorn server, so client and
server do not share an interpreter), adds benchmark users with API tokens, warms up, and fires a bounded number
of sequential requests per scenario over one keep-alive connection. Prints p50/p95/p99 and the max per scenario.
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
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.services.users import add_user, get_user, issue_token
from integraal.store import tables
from integraal.store.database import Database

TARGET_MS = 100.0


def build(folder: Path, pregnancies: int) -> Path:
    from integraal.synth import generate_region, write_region

    path = folder / "api-bench.db"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    paths = write_region(generate_region(pregnancies, seed=1), folder / "region")
    database = Database(str(path))
    database.migrate()
    import_files(database, list(paths.values()), actor="benchmark")
    decide_all(database, date(2026, 6, 30), actor="benchmark")
    database.dispose()
    print(f"built a region of {pregnancies:,} pregnancies in {time.perf_counter() - started:.0f} s: {path}")
    return path


def tokens(database: Database) -> tuple[dict[str, str], str, str]:
    """API tokens of a superuser, an IGO back office and an insurer (added once), and their tenants."""
    with database.unit_of_work() as connection:
        igo = connection.execute(select(tables.igos.c.igo_id).order_by(tables.igos.c.igo_id)).scalars().first()
        uzovi = connection.execute(
            select(tables.pregnancies.c.uzovi)
            .group_by(tables.pregnancies.c.uzovi)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
    people = {
        "bench_root": {"role": "superuser"},
        "bench_admin": {"role": "igo_admin", "igo_id": igo},
        "bench_insurer": {"role": "insurer", "uzovi": uzovi},
    }
    for username, fields in people.items():
        if get_user(database, username) is None:
            add_user(database, username, actor="benchmark", **fields)  # type: ignore[arg-type]
    return {u: issue_token(database, u, label="benchmark", expires_in_days=1) for u in people}, str(igo), uzovi


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(port: int, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped (exit {server.returncode})")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not come up")


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str) -> tuple[float, int, bytes]:
        started = time.perf_counter()
        self.connection.request("GET", url, headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        return (time.perf_counter() - started) * 1000, response.status, body


def measure(name: str, client: Client, urls: list[str]) -> dict[str, float]:
    for url in urls[:10]:  # warm-up: connection, caches
        client.get(url)
    times = []
    for url in urls:
        ms, status, body = client.get(url)
        if status != 200:
            raise SystemExit(f"{name}: {url} answered {status}: {body[:300]!r}")
        times.append(ms)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    result = {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(times)}
    verdict = "ok" if result["p95"] < TARGET_MS else "over target"
    print(
        f"{name:<44} n={len(times):<4} p50 {result['p50']:6.1f}  p95 {result['p95']:6.1f}  "
        f"p99 {result['p99']:6.1f}  max {result['max']:6.1f} ms  {verdict}",
        flush=True,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="reuse this database (a decided national year)")
    parser.add_argument("--pregnancies", type=int, default=170_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per scenario")
    parser.add_argument("--keep", type=Path, help="folder for a newly built region and database")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    path = args.db or build(args.keep or Path(tempfile.mkdtemp(prefix="integraal-api-bench-")), args.pregnancies)
    database = Database(str(path))
    database.migrate()
    keys, igo, uzovi = tokens(database)
    rng = random.Random(args.seed)
    p = tables.pregnancies
    with database.unit_of_work() as connection:
        total = connection.execute(select(func.count()).select_from(p)).scalar_one()
        own = list(connection.execute(select(p.c.pregnancy_id).where(p.c.igo_id == igo)).scalars())
        insured = list(connection.execute(select(p.c.pregnancy_id).where(p.c.uzovi == uzovi)).scalars())
    database.dispose()
    n = args.requests
    print(f"{total:,} pregnancies; IGO {igo}: {len(own):,}; insurer {uzovi}: {len(insured):,}; {n} requests each")

    port = free_port()
    env = {**os.environ, "INTEGRAAL_PSEUDONYM_KEY": "benchmark", "INTEGRAAL_DATABASE_URL": str(path)}
    command = [sys.executable, "-m", "integraal.cli.main", "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(port, server)
        # One fresh keep-alive connection per scenario (the server closes idle ones after a few seconds).
        admin, insurer, root = keys["bench_admin"], keys["bench_insurer"], keys["bench_root"]

        def pages(count: int) -> list[str]:
            return [f"/api/pregnancies?limit=50&offset={rng.randrange(0, max(count - 50, 1))}" for _ in range(n)]

        scenarios = [
            ("list, IGO back office (50 per page)", admin, pages(len(own))),
            ("list, insurer", insurer, pages(len(insured))),
            ("list, superuser (all)", root, pages(total)),
            ("detail, IGO back office", admin, [f"/api/pregnancies/{rng.choice(own)}" for _ in range(n)]),
            ("detail, insurer", insurer, [f"/api/pregnancies/{rng.choice(insured)}" for _ in range(n)]),
        ]
        results = {name: measure(name, Client(port, token), urls) for name, token, urls in scenarios}
        print("not part of the target (filters that scan the tenant's pregnancies):")
        filtered = [
            f"/api/pregnancies?phase=prenatal&outcome=fallback&offset={rng.randrange(0, 200)}",
            f"/api/pregnancies?search=ZT00{rng.randrange(10, 99)}",
            "/api/pregnancies?intake_from=2025-03-01&intake_to=2025-03-31",
        ]
        measure(
            "list, IGO, filtered (outcome/search/dates)", Client(port, admin), [filtered[i % 3] for i in range(n // 3)]
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    worst = max(r["p95"] for r in results.values())
    print(json.dumps({k: {m: round(v, 1) for m, v in r.items()} for k, r in results.items()}))
    print(f"worst p95 {worst:.1f} ms: {'within' if worst < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
