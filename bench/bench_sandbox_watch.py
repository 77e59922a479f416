"""Kubernetes sandbox watch fan-out: event latency with 100 watchers, 500 concurrent watches,
and idle CPU of the sandbox process.

Latency is measured from the commit time the sandbox reports for each change
(/sandbox/v1/changes "at") to the moment the event line arrives at a watcher, both on this
machine's wall clock. Targets (issue 3): p99 <= 20 ms at 100 watchers; 500 watches held;
idle CPU < 2 %.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import ROOT, free_port, percentile

CHANGES = 200


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wait_ready(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{url}/apis/apps/v1/namespaces/default/deployments/"
                                   "license-api") as r:
                if r.status == 200 and (await r.json()).get("status", {}).get(
                        "readyReplicas") == 3:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("sandbox did not become ready")


class _RawWatch(asyncio.Protocol):
    """A watch read off a bare socket: each chunk is stamped on arrival and decoded later,
    so the client's own HTTP parsing and JSON work add nothing to the measured latency."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.chunks: list[tuple[float, bytes]] = []
        self.opened = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.chunks.append((time.time(), data))
        self.opened.set()

    def arrivals(self) -> list[tuple[str, float]]:
        """(resourceVersion, arrival time) of every event received."""
        out = []
        stream = b"".join(c for _, c in self.chunks)
        ends, total = [], 0
        for at, chunk in self.chunks:
            total += len(chunk)
            ends.append((total, at))
        i = 0
        for m in RV.finditer(stream):
            while ends[i][0] < m.end():
                i += 1
            out.append((m.group(1).decode(), ends[i][1]))
        return out


RV = re.compile(rb'"resourceVersion":"(\d+)"')


async def _open_watch(port: int, path: str) -> _RawWatch:
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Accept: application/json\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: _RawWatch(request), "127.0.0.1", port)
    await asyncio.wait_for(proto.opened.wait(), 30)
    return proto


async def _latency(session: aiohttp.ClientSession, url: str, watchers: int,
                   changes: int, gap: float) -> tuple[list[float], int]:
    async with session.get(f"{url}/api/v1/namespaces/default/configmaps") as r:
        rv = (await r.json())["metadata"]["resourceVersion"]
    port = int(url.rsplit(":", 1)[1])
    path = f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"
    watches = await asyncio.gather(*(_open_watch(port, path) for _ in range(watchers)))
    await asyncio.sleep(0.5)
    name = f"bench-{int(time.time() * 1000)}"
    async with session.post(f"{url}/api/v1/namespaces/default/configmaps",
                            json={"metadata": {"name": name}, "data": {"n": "0"}}) as r:
        assert r.status == 201, await r.text()
    for i in range(1, changes):
        async with session.patch(
                f"{url}/api/v1/namespaces/default/configmaps/{name}",
                data=json.dumps({"data": {"n": str(i)}}),
                headers={"Content-Type": "application/merge-patch+json"}) as r:
            assert r.status == 200, await r.text()
        await asyncio.sleep(gap)
    await asyncio.sleep(1.0)
    async with session.get(f"{url}/sandbox/v1/changes", params={"since": rv}) as r:
        committed = {c["resourceVersion"]: c["at"] for c in await r.json()
                     if c["name"] == name}
    latencies = []
    for w in watches:
        assert w.transport is not None
        w.transport.close()
        latencies += [(at - committed[rv_]) * 1000 for rv_, at in w.arrivals()
                      if rv_ in committed]
    return latencies, len(latencies)


async def _hold(session: aiohttp.ClientSession, url: str, count: int) -> tuple[int, int]:
    port = int(url.rsplit(":", 1)[1])
    path = "/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dlicense-api"
    watches = await asyncio.gather(*(_open_watch(port, path) for _ in range(count)))
    await asyncio.sleep(1.0)
    async with session.get(f"{url}/sandbox/v1/metrics") as r:
        held = sum((await r.json())["watches"].values())
    for w in watches:
        assert w.transport is not None
        w.transport.close()
    return held, len(watches)


async def _run(url: str, pid: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await _wait_ready(session, url)
        lat100, got100 = await _latency(session, url, 100, CHANGES, 0.02)
        async with session.get(f"{url}/sandbox/v1/metrics") as r:
            fanout = (await r.json())["fanout_ms"]
        held, opened = await _hold(session, url, 500)
        await asyncio.sleep(3.0)
        cpu0, t0 = _cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(10.0)
        idle = (_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
    return {"p50": percentile(lat100, 50), "p99": percentile(lat100, 99), "max": max(lat100),
            "events": got100, "held": held, "opened": opened, "idle": idle,
            "fan_p50": fanout.get("p50", 0.0), "fan_p99": fanout.get("p99", 0.0),
            "load": os.getloadavg()[0], "cpus": os.cpu_count() or 0}


def run() -> str:
    kube, cb = free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--kube-port", str(kube), "--cloudbuild-port", str(cb),
         "--kubeconfig", str(tmp / "kubeconfig"), "--speed", "20"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = asyncio.run(_run(f"http://127.0.0.1:{kube}", proc.pid))
    finally:
        proc.terminate()
        proc.wait(10)

    def ok(cond: bool) -> str:
        return "yes" if cond else "**no**"

    return (
        "## Kubernetes sandbox: watch fan-out\n\n"
        f"One `python -m sandbox` process. {CHANGES} ConfigMap writes (20 ms apart) fanned out "
        "to 100 concurrent watches; latency from the sandbox's commit timestamp to the "
        "event's arrival at the watcher (same host clock). Then 500 pod watches opened and "
        "counted through /sandbox/v1/metrics; then, after closing them, the sandbox's CPU "
        "over 10 s with nothing happening. Watchers read raw sockets and decode afterwards, so "
        "client parsing is not counted. Server fan-out is the time from a commit until its "
        "line was written to every open watch's socket (measured inside the sandbox). "
        f"Host: {r['cpus']} CPUs, 1-minute load average {r['load']:.1f} at the end of the run "
        "(other test suites were running on the same machine; client-observed latency is "
        "dominated by scheduling when the host is oversubscribed).\n\n"
        "| measure | result | target | met |\n|---|---|---|---|\n"
        f"| event latency p50, 100 watchers | {r['p50']:.2f} ms | | |\n"
        f"| event latency p99, 100 watchers | {r['p99']:.2f} ms | <= 20 ms | "
        f"{ok(r['p99'] <= 20)} |\n"
        f"| event latency max | {r['max']:.2f} ms | | |\n"
        f"| server fan-out p50 / p99, 100 watchers | {r['fan_p50']:.2f} / {r['fan_p99']:.2f} ms"
        " | | |\n"
        f"| events delivered | {int(r['events'])} | {CHANGES * 100} | "
        f"{ok(r['events'] == CHANGES * 100)} |\n"
        f"| concurrent watches held | {int(r['held'])} of {int(r['opened'])} | 500 | "
        f"{ok(r['held'] >= 500)} |\n"
        f"| idle CPU | {r['idle']:.2f} % | < 2 % | {ok(r['idle'] < 2)} |\n"
    )


if __name__ == "__main__":
    print(run())
