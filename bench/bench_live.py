"""Live stream fan-out: 1, 100 and 500 concurrent WebSocket viewers of one Service during a
sandbox rollout.

Latency runs from the sandbox's commit time of a change (/sandbox/v1/changes "at") to the
moment a viewer receives the row carrying that resourceVersion, both on this machine's wall
clock: sandbox -> watch -> watcher -> Redis (seq, replay log) -> channel layer -> uvicorn ->
WebSocket -> viewer. Viewers run in separate client processes so that their own parsing does
not queue behind each other. Upstream watches are read from the sandbox's metrics while the
viewers are connected. Targets (issue 7): p99 <= 150 ms at 500 viewers; the same number of
upstream watches at 1 and at 500 viewers.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import PY, ROOT, free_port, percentile

VIEWERS = tuple(int(n) for n in os.environ.get("BENCH_LIVE_VIEWERS", "1,100,500").split(","))
PER_PROCESS = 125
SPEED = os.environ.get("BENCH_LIVE_SPEED", "1")
RV = re.compile(r'"rv":"(\d+)"')
AT = re.compile(r'"at":([0-9.]+)')  # the message's publish time (the first "at")


def _http(url: str, body: Any = None, method: str | None = None,
          ctype: str = "application/json", headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                 headers={"Content-Type": ctype, **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def _wait(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


class _RawViewer(asyncio.Protocol):
    """A WebSocket viewer on a bare socket: the handshake by hand, every chunk stamped on
    arrival and decoded afterwards, so the client's own work adds nothing to the latency."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.chunks: list[tuple[float, bytes]] = []
        self.snapshot = asyncio.Event()
        self.transport: asyncio.Transport | None = None
        self.size = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.chunks.append((time.time(), data))
        self.size += len(data)
        if not self.snapshot.is_set() and b'"type":"snapshot"' in b"".join(
                c for _, c in self.chunks[-4:]):
            self.snapshot.set()

    def frames(self) -> list[tuple[float, bytes]]:
        """(arrival of its last byte, payload) of every server frame."""
        buf = bytearray()
        ends: list[tuple[int, float]] = []
        for at, chunk in self.chunks:
            buf += chunk
            ends.append((len(buf), at))
        pos = bytes(buf).find(b"\r\n\r\n") + 4
        out = []
        idx = 0
        while pos + 2 <= len(buf):
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            end = pos + head + length
            if end > len(buf):
                break
            while ends[idx][0] < end:
                idx += 1
            out.append((ends[idx][1], bytes(buf[pos + head:end])))
            pos = end
        return out


def _client(host: str, port: int, path: str, cookie: str, n: int, ready: Any, stop: Any,
            out: Any) -> None:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:8000\r\n"
        f"Cookie: {cookie}\r\n\r\n"
    ).encode()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        viewers = []
        for i in range(n):
            _, viewer = await loop.create_connection(lambda: _RawViewer(request), host, port)
            viewers.append(viewer)
            if i % 25 == 24:
                await asyncio.sleep(0.05)  # do not stampede the handshakes
        await asyncio.wait_for(asyncio.gather(*(v.snapshot.wait() for v in viewers)), 120)
        ready.put(n)
        while not stop.is_set():
            await asyncio.sleep(0.1)
        received = []
        for v in viewers:
            if v.transport is not None:
                v.transport.close()
            for at, payload in v.frames():
                text = payload.decode("utf-8", "replace")
                found, published = RV.search(text), AT.search(text)
                if found and published:
                    received.append((found.group(1), at, float(published.group(1))))
        out.put(received)

    asyncio.run(main())


def _set_image(kube_url: str, tag: str, control_token: str) -> None:
    image = f"gcr.io/sandbox/license-api:{tag}"
    # Control-API writes carry the token the sandbox wrote beside its kubeconfig.
    _http(f"{kube_url}/sandbox/v1/images", {"image": image, "commit": "c0ffee" + "3" * 34},
          headers={"X-Sandbox-Token": control_token})
    _http(f"{kube_url}/apis/apps/v1/namespaces/default/deployments/license-api",
          {"spec": {"template": {"spec": {"containers": [{"name": "license-api",
                                                          "image": image}]}}}},
          method="PATCH", ctype="application/strategic-merge-patch+json")


def _rolled_out(kube_url: str) -> bool:
    d = _http(f"{kube_url}/apis/apps/v1/namespaces/default/deployments/license-api")
    st = d.get("status") or {}
    return (st.get("observedGeneration", 0) >= d["metadata"].get("generation", 0)
            and st.get("updatedReplicas") == st.get("replicas") == st.get("availableReplicas")
            == d["spec"].get("replicas"))


def _round(n: int, ws_url: str, cookie: str, kube_url: str, tag: str,
           control_token: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("fork")
    ready, out, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    sizes = [min(PER_PROCESS, n - i) for i in range(0, n, PER_PROCESS)]
    host, port, path = ws_url.split("//")[1].split(":")[0], int(
        ws_url.split(":")[2].split("/")[0]), "/" + ws_url.split("/", 3)[3]
    procs = [ctx.Process(target=_client, args=(host, port, path, cookie, k, ready, stop, out))
             for k in sizes]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=180)
    time.sleep(1.0)
    watches_before = _http(f"{kube_url}/sandbox/v1/metrics")["watches"]
    rv0 = _http(f"{kube_url}/sandbox/v1/metrics")["resourceVersion"]
    _set_image(kube_url, tag, control_token)
    time.sleep(0.5)
    _wait(lambda: _rolled_out(kube_url), 120, "the rollout")
    watches_during = _http(f"{kube_url}/sandbox/v1/metrics")["watches"]
    time.sleep(2.0)
    stop.set()
    received: list[tuple[str, float, float]] = []
    for _ in procs:
        received.extend(out.get(timeout=60))
    for p in procs:
        p.join(10)
    changes = _http(f"{kube_url}/sandbox/v1/changes?since={rv0}")
    at = {c["resourceVersion"]: c["at"] for c in changes}
    lat = [(t - at[rv]) * 1000 for rv, t, _ in received if rv in at]
    upstream = [(pub - at[rv]) * 1000 for rv, _, pub in received if rv in at]
    fanout = [(t - pub) * 1000 for rv, t, pub in received if rv in at]
    return {"n": n, "lat": lat, "upstream": upstream, "fanout": fanout, "messages": len(received), "before": watches_before,
            "during": watches_during}


def run() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    redis_sock = tmp / "redis.sock"
    redis_bin = str(ROOT / ".venv" / "bin" / "redis-server")
    if not Path(redis_bin).exists():
        redis_bin = "redis-server"
    kube_port, cb_port, web_port = free_port(), free_port(), free_port()
    kube_url = f"http://127.0.0.1:{kube_port}"
    kubeconfig = tmp / "kubeconfig"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "REDIS_URL": f"unix://{redis_sock}",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "KUBECONFIG": str(kubeconfig),
        "CHANNEL_CAPACITY": "1000",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], name: str) -> None:
        procs.append(subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                      stdout=open(tmp / f"{name}.log", "wb"),  # noqa: SIM115
                                      stderr=subprocess.STDOUT))

    try:
        start([redis_bin, "--port", "0", "--unixsocket", str(redis_sock), "--save", "",
               "--appendonly", "no"], "redis")
        start([PY, "-m", "sandbox", "--kube-port", str(kube_port), "--cloudbuild-port",
               str(cb_port), "--kubeconfig", str(kubeconfig), "--speed", SPEED], "sandbox")
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                       check=True)
        _wait(lambda: kubeconfig.exists() and _rolled_out(kube_url), 60, "the sandbox")
        seed = (
            "from django.contrib.auth import get_user_model; from django.test import Client;"
            "from dashboard.management.demo import seed_demo_service; seed_demo_service();"
            "u = get_user_model().objects.create_superuser('bench', 'b@example.com', 'pw');"
            "c = Client(); c.force_login(u); print(c.cookies['sessionid'].value)"
        )
        session = subprocess.run([PY, "manage.py", "shell", "-c", seed], cwd=ROOT, env=env,
                                 check=True, capture_output=True, text=True
                                 ).stdout.strip().splitlines()[-1]
        profile = os.environ.get("BENCH_LIVE_PROFILE")  # a script running the server profiled
        if profile:
            start([PY, profile, str(web_port)], "uvicorn")
        else:
            start([PY, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                   "--port", str(web_port), "--no-access-log", "--log-level", "warning",
                   *os.environ.get("BENCH_LIVE_SERVER_ARGS", "").split()], "uvicorn")
        start([PY, "manage.py", "watch_clusters"], "watcher")
        _wait(lambda: socket.create_connection(("127.0.0.1", web_port), 1).close() or True, 60,
              "uvicorn")
        _wait(lambda: sum(_http(f"{kube_url}/sandbox/v1/metrics")["watches"].values()) >= 4, 60,
              "the watcher's watches")
        time.sleep(2.0)
        ws_url = f"ws://127.0.0.1:{web_port}/ws/services/license-api/"
        results = [_round(n, ws_url, f"sessionid={session}", kube_url, f"bench{n}",
                          (tmp / "control-token").read_text().strip())
                   for n in VIEWERS]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    rows = []
    for r in results:
        lat = r["lat"]
        watches = sum(r["during"].values())
        rows.append(
            f"| {r['n']} | {len(lat)} | {percentile(lat, 50):.1f} | {percentile(lat, 99):.1f} | "
            f"{max(lat):.1f} | {percentile(r['upstream'], 50):.1f} / {percentile(r['upstream'], 99):.1f} | "
            f"{percentile(r['fanout'], 50):.1f} / {percentile(r['fanout'], 99):.1f} | {watches} ({', '.join(f'{k} {v}' for k, v in sorted(r['during'].items()))}) |"
        )
    one, many = results[0], results[-1]
    same = sum(one["during"].values()) == sum(many["during"].values())
    p99 = percentile(many["lat"], 99)
    return (
        "## Live stream: WebSocket fan-out during a rollout\n\n"
        "One Service (the sandbox's license-api, 3 replicas, sandbox `--speed "
        f"{SPEED}`), one rollout per row; one uvicorn process, one watcher, a private Redis. "
        "Latency: sandbox change commit -> receipt of the row with that resourceVersion by each "
        "viewer (every viewer's copy counts).\n\n"
        "| viewers | samples | p50 ms | p99 ms | max ms | change -> published p50/p99 | "
        "published -> received p50/p99 | upstream watches during |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---|\n" + "\n".join(rows) + "\n\n"
        f"Targets: p99 <= 150 ms at {many['n']} viewers: **{'met' if p99 <= 150 else 'missed'}** "
        f"({p99:.1f} ms); same upstream watch count at 1 and {many['n']} viewers: "
        f"**{'yes' if same else 'no'}**.\n"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(run())
