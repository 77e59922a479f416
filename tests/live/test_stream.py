"""A browser-like client on /ws/services/<name>/ sees the sandbox rollout pod by pod."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.live.helpers import View, cluster_pods, connect, drain, read_until, rolled_out, set_image

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_it_streams_a_rollout_pod_by_pod(live):
    live.start_watcher()

    async def main() -> tuple[View, str]:
        view = View()
        async with await connect(live.url(f"/ws/services/{live.service.name}/"),
                                 live.cookie) as ws:
            await read_until(ws, view, lambda v: v.snapshots == 1, 10)
            snap = view.messages[0]
            assert snap["type"] == "snapshot" and snap["seq"] >= 0
            assert len(view.pods) == 3 and view.rollout["done"]
            image = await asyncio.to_thread(set_image, live.sandbox, "stream1")
            await read_until(ws, view, rolled_out(image), 60)
            await drain(ws, view, 1.5)
        return view, image

    view, image = asyncio.run(main())
    live_msgs = view.live()
    new_pods = {m["data"]["name"] for m in live_msgs
                if m["type"] == "pod" and m["data"].get("image") == image}
    assert all(m["data"]["new"] for m in live_msgs
               if m["type"] == "pod" and m["data"]["name"] in new_pods and "new" in m["data"])
    assert len(new_pods) == 3
    # pod by pod: each new pod is seen not ready before it is seen ready
    for name in new_pods:
        states = [m["data"]["all_ready"] for m in live_msgs
                  if m["type"] == "pod" and m["data"]["name"] == name and "all_ready" in m["data"]]
        assert states[0] is False and states[-1] is True, (name, states)
    progress = [m["data"] for m in live_msgs
                if m["type"] == "rollout.progress" and m["data"]["image"] == image]
    final = progress[-1]["revision"]
    updated = [p["updated"] for p in progress if p["revision"] == final and p["observed"]]
    assert updated == sorted(updated) and updated[-1] == 3
    assert not progress[0]["done"] and progress[-1]["done"]
    assert any(m["type"] == "k8s.event" and m["data"]["reason"] == "ScalingReplicaSet"
               for m in live_msgs)
    # what the page shows is what the cluster has
    assert set(view.pods) == set(cluster_pods(live.sandbox))


def test_it_gives_a_second_viewer_the_same_stream_without_a_second_watch(live):
    live.start_watcher()

    async def main() -> tuple[View, View, dict]:
        a, b = View(), View()
        url = live.url(f"/ws/services/{live.service.name}/")
        async with await connect(url, live.cookie) as wa, await connect(url, live.cookie) as wb:
            await read_until(wa, a, lambda v: v.snapshots == 1, 10)
            await read_until(wb, b, lambda v: v.snapshots == 1, 10)
            image = await asyncio.to_thread(set_image, live.sandbox, "two-viewers")
            await read_until(wa, a, rolled_out(image), 60)
            await read_until(wb, b, rolled_out(image), 60)
            counts = await asyncio.to_thread(live.watch_counts)
        return a, b, counts

    a, b, counts = asyncio.run(main())
    assert a.pods.keys() == b.pods.keys()
    assert {m["seq"] for m in a.live()} & {m["seq"] for m in b.live()}
    for kind in ("deployments", "replicasets", "pods", "events"):
        assert counts.get(f"{kind}/default") == 1, counts


def test_it_publishes_nothing_for_a_row_that_did_not_change(live):
    live.start_watcher()
    from dashboard import streams

    stream = live.stream
    live.wait_for(lambda: streams.last_seq(stream) > 0, 15, "the first rows")
    time.sleep(1.0)
    first = streams.last_seq(stream)
    live.sandbox.control("chaos/expire", {})  # forces a re-list of everything
    live.sandbox.control("chaos/drop-watches", {})
    time.sleep(2.0)
    assert streams.last_seq(stream) == first
