"""Leader election: one watcher publishes; a standby takes over within seconds of the
leader's death; a leader that lost its lease publishes nothing more."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from tests.live.helpers import View, cluster_pods, connect, drain, read_until, rolled_out, set_image

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
KINDS = ("deployments", "replicasets", "pods", "events")


def _leader(live, procs):
    holder = live.lease_holder()
    return next((p for p in procs if holder and live.watcher_token(p) and
                 holder.startswith(live.watcher_token(p))), None)


def test_it_hands_over_to_the_standby_when_the_leader_dies(live):
    w1 = live.start_watcher("w1")
    w2 = live.start_watcher("w2", wait=False)
    live.wait_for(lambda: live.watcher_token(w2), 20, "the standby to start")
    leader = live.wait_for(lambda: _leader(live, [w1, w2]), 10, "a leader")
    standby = w2 if leader is w1 else w1
    live.wait_for(lambda: all(live.watch_counts().get(f"{k}/default") == 1 for k in KINDS),
                  10, "one watch per kind")
    url = live.url(f"/ws/services/{live.service.name}/")

    async def main() -> tuple[View, float]:
        view = View()
        async with await connect(url, live.cookie) as ws:
            await read_until(ws, view, lambda v: v.snapshots == 1, 10)
            await drain(ws, view, 1.0)
            killed = time.monotonic()
            leader.kill()
            await asyncio.to_thread(live.wait_for, lambda: _leader(live, [standby]), 15,
                                    "the standby to lead")
            took = time.monotonic() - killed
            image = await asyncio.to_thread(set_image, live.sandbox, "failover1")
            await read_until(ws, view, rolled_out(image), 60)
            await drain(ws, view, 1.5)
        return view, took

    view, took = asyncio.run(main())
    assert took < 6.0, took
    assert set(view.pods) == set(cluster_pods(live.sandbox))
    live.wait_for(lambda: all(live.watch_counts().get(f"{k}/default") == 1 for k in KINDS),
                  10, "one watch per kind after the handover")


def test_it_stops_publishing_as_soon_as_it_loses_the_lease(live):
    from dashboard import streams

    w1 = live.start_watcher("w1")
    live.wait_for(lambda: _leader(live, [w1]), 10, "w1 to lead")
    w2 = live.start_watcher("w2", wait=False)
    live.wait_for(lambda: live.watcher_token(w2), 20, "the standby to start")
    url = live.url(f"/ws/services/{live.service.name}/")

    async def main() -> View:
        view = View()
        async with await connect(url, live.cookie) as ws:
            await read_until(ws, view, lambda v: v.snapshots == 1, 10)
            await drain(ws, view, 1.0)
            os.killpg(w1.proc.pid, signal.SIGSTOP)  # a long GC pause / a partition
            try:
                await asyncio.to_thread(live.wait_for, lambda: _leader(live, [w2]), 15,
                                        "w2 to take over")
                image = await asyncio.to_thread(set_image, live.sandbox, "paused1")
                await read_until(ws, view, rolled_out(image), 60)
            finally:
                os.killpg(w1.proc.pid, signal.SIGCONT)
            await drain(ws, view, 3.0)  # w1 wakes up with stale watches and a stale lease
        return view

    view = asyncio.run(main())  # consecutive seqs: nobody published twice
    assert _leader(live, [w2]) is not None
    live.wait_for(lambda: "lost the lease" in w1.output(), 10, "w1 to step down")
    assert set(view.pods) == set(cluster_pods(live.sandbox))
    assert streams.last_seq(live.stream) == view.last
