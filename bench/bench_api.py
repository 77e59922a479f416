"""Chatops API: POST /api/v1/releases/ latency at a fixed 50 requests per second.

Two server shapes, measured one after the other in the same run:
- the production shape: PostgreSQL and two uvicorn processes (the dashboard runs two web
  replicas), each with its psycopg connection pool; only when a PostgreSQL answers at
  BENCH_POSTGRES_URL (default the local one), in a scratch database dropped afterwards;
- the embedded default (`make run` without DATABASE_URL): SQLite and one uvicorn process.
Both get their own Redis: the broker the release tasks are queued on. No worker consumes
them, so releases queue up and supersede each other, which is the write-heaviest path.
Every request carries a fresh Idempotency-Key and a bearer token (scopes read,deploy), so it
runs token auth, the idempotency record, throttling on Redis, services.request_release (row
lock, release, event, hash-chained audit entry, supersede, promote) and the 202 response.
The load is open-loop: requests start on a fixed schedule whatever the latency, at 10, 20,
30, 40 and 50 requests per second in turn (where the server saturates shows between them).
Target: p99 <= 50 ms at 50 requests per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from bench.common import (
    PY,
    ROOT,
    django_env,
    free_port,
    in_child,
    percentile,
    start_redis,
    start_uvicorn,
    stop,
    wait_http,
)

RATE = 50  # requests per second: the target rate
BASELINE_RATE = 10  # for comparison: the same path well below saturation
RATES = (BASELINE_RATE, 20, 30, 40, RATE)  # where between them the server saturates
WARMUP_SECONDS = 3.0
SECONDS = 15.0
TARGET_P99_MS = 50.0
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


async def _drive(url: str, token: str, rate: float, seconds: float) -> tuple[list[float], dict[int, int]]:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    body = json.dumps({"service": "license-api", "commit": "c0ffee" + "b" * 34, "reason": "bench"})

    async def one(session: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   "Idempotency-Key": str(uuid.uuid4())}
        t0 = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.status == 202:
                latencies.append(time.perf_counter() - t0)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        start = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session)))
        await asyncio.gather(*tasks)
    return latencies, statuses


def _client(url: str, token: str, rate: float, seconds: float) -> tuple[list[float], dict[int, int]]:
    return asyncio.run(_drive(url, token, rate, seconds))


def _load(url: str, token: str, rate: float, seconds: float) -> tuple[list[float], dict[int, int]]:
    return in_child(_client, (url, token, rate, seconds), timeout=seconds + 120)  # type: ignore[no-any-return]


def _postgres_database() -> str | None:
    """A fresh scratch database on the PostgreSQL at POSTGRES_URL, or None if none answers."""
    try:
        import psycopg

        name = f"bench_api_{os.getpid()}"
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception:
        return None
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def _drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=2) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@contextlib.contextmanager
def _server(tmp: Path, database_url: str, workers: int) -> Iterator[tuple[str, str]]:
    """A migrated, seeded dashboard behind uvicorn; yields (releases URL, bearer token)."""
    redis_sock = tmp / "redis.sock"
    env = django_env(role="dashboard", database_url=database_url, redis_sock=redis_sock,
                     KUBECONFIG=str(tmp / "kubeconfig"),
                     DATABASE_POOL_SIZE="10")  # as the image's web role (PostgreSQL only)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start_redis(redis_sock))
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        seed = "from dashboard.demo import seed_demo_service; seed_demo_service()"
        subprocess.run([PY, "manage.py", "shell", "-c", seed], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        out = subprocess.run(
            [PY, "manage.py", "create_api_token", "bench", "--scopes", "read,deploy", "--rate-limit", "1000000"],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        ).stdout
        token = out.strip().splitlines()[-1].split()[-1]
        port = free_port()
        procs.append(start_uvicorn(env, port, workers, tmp / "server.log"))
        wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        yield f"http://127.0.0.1:{port}/api/v1/releases/", token
    finally:
        stop(procs)


def _measure(tmp: Path, database_url: str, workers: int) -> dict[int, tuple[list[float], dict[int, int]]]:
    with _server(tmp, database_url, workers) as (url, token):
        _load(url, token, BASELINE_RATE, WARMUP_SECONDS)
        return {rate: _load(url, token, rate, SECONDS) for rate in RATES}


def _meets(latencies: list[float], statuses: dict[int, int]) -> bool:
    """Every request accepted, p99 within the target."""
    return (percentile(latencies, 99) * 1000 <= TARGET_P99_MS
            and len(latencies) == sum(statuses.values()))


def run() -> str:
    shapes: list[tuple[str, str | None, int]] = []
    postgres = _postgres_database()
    shapes.append(("PostgreSQL, 2 processes", postgres, 2))
    shapes.append(("SQLite, 1 process", "sqlite:///{tmp}/db.sqlite3", 1))
    rows = []
    verdicts = []
    try:
        for label, database_url, workers in shapes:
            if database_url is None:
                rows.append(f"| {label} | - | no PostgreSQL answered at BENCH_POSTGRES_URL | | | | | | |")
                continue
            tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
            results = _measure(tmp, database_url.format(tmp=tmp), workers)
            for rate, (lat, statuses) in results.items():
                lat.sort()
                other = {k: v for k, v in statuses.items() if k != 202}
                rows.append(
                    f"| {label} | {rate} | {sum(statuses.values())} | {len(lat)} | {other or '-'} | "
                    f"{percentile(lat, 50) * 1000:.1f} | {percentile(lat, 90) * 1000:.1f} | "
                    f"{percentile(lat, 99) * 1000:.1f} | {lat[-1] * 1000 if lat else float('nan'):.1f} |")
            within = [rate for rate in RATES if _meets(*results[rate])]
            p99 = percentile(results[RATE][0], 99) * 1000
            verdicts.append(
                f"{label}: **{p99:.1f} ms** ({'meets' if RATE in within else 'MISSES'} the "
                f"{TARGET_P99_MS:.0f} ms target; the highest rate measured within it: "
                f"{f'{max(within)} req/s' if within else 'none'})")
    finally:
        if postgres is not None:
            _drop_database(postgres)
    load = os.getloadavg()[0]
    return (
        "## Chatops API: POST /api/v1/releases/ at 50 requests/s\n\n"
        "Two server shapes, one after the other: PostgreSQL behind two uvicorn processes (the "
        "production shape: two web replicas, a psycopg pool each) and the embedded default, "
        "SQLite behind one. Each has its own Redis; open-loop load "
        f"for {SECONDS:.0f} s at each of {', '.join(map(str, RATES))} req/s from an aiohttp client in another process on 127.0.0.1 "
        "(after a 3 s warm-up at 10 req/s). Each request: bearer token, fresh Idempotency-Key, "
        "per-token throttle on Redis, services.request_release (release + event + audit entry, "
        "superseding the previous queued release), 202 + Location. "
        f"Host: {os.cpu_count()} CPUs shared by the servers, the database, Redis and the client; "
        f"1-minute load average {load:.1f} at the end.\n\n"
        "| server | req/s | requests | 202 | other statuses | p50 ms | p90 ms | p99 ms | max ms |\n"
        "|---|---:|---:|---:|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"p99 at {RATE} req/s: " + "; ".join(verdicts) + ".\n"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(run())
