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
Then the floor: the same server answering GET /healthz (no DRF, no database) at 50 req/s,
what this host charges for a request that does nothing. Each row also gives the server
processes' CPU time per request (from /proc), which says how many requests per second the
host's cores can serve at all.
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
from typing import NamedTuple

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
    tree_cpu_seconds,
    wait_http,
)

RATE = 50  # requests per second: the target rate
BASELINE_RATE = 10  # for comparison: the same path well below saturation
RATES = (BASELINE_RATE, 20, 30, 40, RATE)  # where between them the server saturates
WARMUP_SECONDS = 3.0
SECONDS = 15.0
TARGET_P99_MS = 50.0
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


async def _drive(url: str, token: str | None, rate: float,
                 seconds: float) -> tuple[list[float], dict[int, int]]:
    """Open-loop load: POST a release (with `token`), or GET `url` when token is None."""
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    ok = 200 if token is None else 202
    body = json.dumps({"service": "license-api", "commit": "c0ffee" + "b" * 34, "reason": "bench"})

    async def one(session: aiohttp.ClientSession) -> None:
        t0 = time.perf_counter()
        if token is None:
            request = session.get(url)
        else:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Idempotency-Key": str(uuid.uuid4())}
            request = session.post(url, data=body, headers=headers)
        async with request as resp:
            await resp.read()
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.status == ok:
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


def _client(url: str, token: str | None, rate: float, seconds: float) -> tuple[list[float], dict[int, int]]:
    return asyncio.run(_drive(url, token, rate, seconds))


class Run(NamedTuple):
    latencies: list[float]
    statuses: dict[int, int]
    cpu_ms: float  # the server processes' CPU time per request


def _load(server: subprocess.Popen[bytes], url: str, token: str | None, rate: float,
          seconds: float) -> Run:
    cpu = tree_cpu_seconds(server.pid)
    latencies, statuses = in_child(_client, (url, token, rate, seconds), timeout=seconds + 120)
    cpu = tree_cpu_seconds(server.pid) - cpu
    return Run(sorted(latencies), statuses, cpu * 1000 / max(1, sum(statuses.values())))


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
def _server(tmp: Path, database_url: str,
            workers: int) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """A migrated, seeded dashboard behind uvicorn; yields (uvicorn, base URL, bearer token)."""
    redis_sock = tmp / "redis.sock"
    env = django_env(role="dashboard", database_url=database_url, redis_sock=redis_sock,
                     KUBECONFIG=str(tmp / "kubeconfig"),
                     DATABASE_POOL_SIZE="10")  # as the image's web role (PostgreSQL only)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start_redis(redis_sock))
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        seed = "from dashboard.management.demo import seed_demo_service; seed_demo_service()"
        subprocess.run([PY, "manage.py", "shell", "-c", seed], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        out = subprocess.run(
            [PY, "manage.py", "create_api_token", "bench", "--scopes", "read,deploy", "--rate-limit", "1000000"],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        ).stdout
        token = out.strip().splitlines()[-1].split()[-1]
        port = free_port()
        server = start_uvicorn(env, port, workers, tmp / "server.log")
        procs.append(server)
        wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        yield server, f"http://127.0.0.1:{port}", token
    finally:
        stop(procs)


def _measure(tmp: Path, database_url: str, workers: int) -> tuple[dict[int, Run], Run]:
    """POST at each rate, then the floor: GET /healthz at the target rate on the same server."""
    with _server(tmp, database_url, workers) as (server, base, token):
        releases = f"{base}/api/v1/releases/"
        _load(server, releases, token, BASELINE_RATE, WARMUP_SECONDS)
        posts = {rate: _load(server, releases, token, rate, SECONDS) for rate in RATES}
        floor = _load(server, f"{base}/healthz", None, RATE, SECONDS)
        return posts, floor


def _meets(run: Run) -> bool:
    """Every request accepted, p99 within the target."""
    return (percentile(run.latencies, 99) * 1000 <= TARGET_P99_MS
            and len(run.latencies) == sum(run.statuses.values()))


def _row(label: str, what: str, rate: int, run: Run) -> str:
    lat = run.latencies
    other = {k: v for k, v in run.statuses.items() if k not in (200, 202)}
    return (f"| {label} | {what} | {rate} | {sum(run.statuses.values())} | {len(lat)} | {other or '-'} | "
            f"{run.cpu_ms:.1f} | {percentile(lat, 50) * 1000:.1f} | {percentile(lat, 90) * 1000:.1f} | "
            f"{percentile(lat, 99) * 1000:.1f} | {lat[-1] * 1000 if lat else float('nan'):.1f} |")


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
                rows.append(f"| {label} | - | - | no PostgreSQL answered at BENCH_POSTGRES_URL | | | | | | | |")
                continue
            tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
            posts, floor = _measure(tmp, database_url.format(tmp=tmp), workers)
            rows += [_row(label, "POST release", rate, r) for rate, r in posts.items()]
            rows.append(_row(label, "GET /healthz (floor)", RATE, floor))
            within = [rate for rate in RATES if _meets(posts[rate])]
            p99 = percentile(posts[RATE].latencies, 99) * 1000
            verdicts.append(
                f"{label}: **{p99:.1f} ms** ({'meets' if RATE in within else 'MISSES'} the "
                f"{TARGET_P99_MS:.0f} ms target; the highest rate measured within it: "
                f"{f'{max(within)} req/s' if within else 'none'}; server CPU "
                f"{posts[BASELINE_RATE].cpu_ms:.1f} ms per POST at {BASELINE_RATE} req/s, "
                f"{floor.cpu_ms:.1f} ms per bare GET)")
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
        "superseding the previous queued release), 202 + Location. The floor row is the same "
        f"server answering GET /healthz (uvicorn and Django's middleware only: no DRF, no database) at {RATE} req/s. "
        "CPU ms/req: user + system time of the server processes over the run, per request "
        "(the database and Redis not included); with one process the server can do at most "
        "1000/CPU requests per second, with two, twice that if the cores are free. "
        f"Host: {os.cpu_count()} CPUs shared by the servers, the database, Redis and the client; "
        f"1-minute load average {load:.1f} at the end.\n\n"
        "| server | request | req/s | requests | ok | other statuses | CPU ms/req | p50 ms | p90 ms | p99 ms | max ms |\n"
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"p99 at {RATE} req/s: " + "; ".join(verdicts) + ".\n"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(run())
