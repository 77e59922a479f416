"""License API: POST /api/v1/licenses/validate/ against a bare Django JSON view.

One uvicorn server (APP_ROLE=licenseapi, the same worker count for both targets) on
127.0.0.1, with its own SQLite database and its own Redis (so the rate limiter really runs:
limits are set high enough never to trigger). A client in another process (aiohttp, a fixed
number of keep-alive connections) drives each target in alternating rounds for a bounded
time; we report throughput and latency percentiles side by side. Target: validate >= 0.6x
the bare view's throughput.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
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

WORKERS = 1  # 2 CPUs here: one for the server, one for the load generator
CONNECTIONS = 16
ROUND_SECONDS = 4.0
ROUNDS = 3  # per target, alternating, so drift affects both alike
MAX_REQUESTS_PER_ROUND = 200_000
TARGET_RATIO = 0.6


async def _drive(url: str, body: bytes, seconds: float, cap: int) -> tuple[list[float], int, float]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at and len(latencies) + errors < cap:
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                if resp.status == 200:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def _client(url: str, body: bytes, seconds: float) -> tuple[list[float], int, float]:
    return asyncio.run(_drive(url, body, seconds, MAX_REQUESTS_PER_ROUND))


def _round(url: str, body: bytes, seconds: float) -> tuple[list[float], int, float]:
    return in_child(_client, (url, body, seconds), timeout=seconds + 60)  # type: ignore[no-any-return]


def run() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="bench-licenseapi-"))
    redis_sock = tmp / "redis.sock"
    env = django_env(
        role="licenseapi", database_url=f"sqlite:///{tmp / 'db.sqlite3'}", redis_sock=redis_sock,
        LICENSEAPI_BENCH_BARE="1", LICENSE_RATE_LIMIT_PER_KEY="1000000000",
        LICENSE_RATE_LIMIT_PER_IP="1000000000",
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start_redis(redis_sock))
        # Only the license API's tables: validate and the bare view need nothing else.
        subprocess.run([PY, "manage.py", "migrate", "licenseapi", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        seed = (
            "from licenseapi import services; from licenseapi.models import Product;"
            "p = Product.objects.create(slug='bench', name='Bench', default_seats=5);"
            "i = services.issue_license(product=p, actor='bench', seats=5);"
            "services.activate(i.key, 'bench-machine-1'); services.activate(i.key, 'bench-machine-2');"
            "print(i.key)"
        )
        key = subprocess.run(
            [PY, "manage.py", "shell", "-c", seed], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout.strip().splitlines()[-1]
        port = free_port()
        procs.append(start_uvicorn(env, port, WORKERS, tmp / "server.log"))
        wait_http(f"http://127.0.0.1:{port}/health/ready", 60)
        body = json.dumps({"key": key}).encode()
        targets = {
            "bare Django JSON view": f"http://127.0.0.1:{port}/bench/bare/",
            "POST validate": f"http://127.0.0.1:{port}/api/v1/licenses/validate/",
        }
        for url in targets.values():  # warm up both (imports, connections, caches)
            _round(url, body, 1.0)
        results: dict[str, tuple[list[float], int, float]] = {name: ([], 0, 0.0) for name in targets}
        for _ in range(ROUNDS):
            for name, url in targets.items():
                lat, err, elapsed = _round(url, body, ROUND_SECONDS)
                acc = results[name]
                results[name] = (acc[0] + lat, acc[1] + err, acc[2] + elapsed)
    finally:
        stop(procs)

    load = os.getloadavg()[0]
    rows = []
    rps: dict[str, float] = {}
    for name, (lat, err, elapsed) in results.items():
        lat.sort()
        rps[name] = len(lat) / elapsed if elapsed else 0.0
        rows.append(
            f"| {name} | {len(lat)} | {err} | {rps[name]:.0f} | {percentile(lat, 50) * 1000:.2f} | "
            f"{percentile(lat, 99) * 1000:.2f} | {lat[-1] * 1000 if lat else float('nan'):.2f} |"
        )
    ratio = rps["POST validate"] / rps["bare Django JSON view"] if rps["bare Django JSON view"] else 0.0
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    return (
        "## License API: validate vs a bare Django JSON view\n\n"
        f"One uvicorn server (`config.asgi`, APP_ROLE=licenseapi, {WORKERS} worker, "
        f"SQLite, its own Redis with the rate limiter active), {CONNECTIONS} keep-alive connections from an aiohttp client in "
        f"another process on 127.0.0.1, {ROUNDS} alternating rounds of {ROUND_SECONDS:.0f} s per target. "
        "validate = DRF view, input checks, key parse, one SELECT (license + live seat count), rate-limit "
        "counting (two buckets, flushed to Redis write-behind); bare = `json.loads` + `JsonResponse`.\n\n"
        "| target | requests | non-200 | req/s | p50 ms | p99 ms | max ms |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"validate/bare throughput: **{ratio:.2f}x** ({verdict} the {TARGET_RATIO}x target). "
        f"Load average at the end: {load:.1f} on {os.cpu_count()} CPUs (other work on the machine "
        "inflates tails; alternating rounds keep the ratio fair).\n"
    )


if __name__ == "__main__":
    print(run())
