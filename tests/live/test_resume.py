"""Reconnecting with a seq gets exactly the missed messages (or a snapshot once aged out);
410s and dropped upstream watches lose and duplicate nothing."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from tests.live.helpers import View, cluster_pods, connect, drain, read_until, rolled_out, set_image

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _digests_never_repeat(view: View) -> None:
    from dashboard.rollout.rows import digest

    last: dict[tuple[str, str], str] = {}
    for m in view.live():
        if m["type"] not in ("pod", "rollout.progress", "k8s.event"):
            continue
        key = (m["type"], str(m["data"].get("name") or m["data"].get("uid") or ""))
        d = digest(m["data"])
        assert last.get(key) != d, f"published twice: {m}"
        last[key] = d


def test_it_resumes_from_a_seq_with_no_gap_and_no_duplicate(live):
    from dashboard import streams

    live.start_watcher()
    url = live.url(f"/ws/services/{live.service.name}/")

    async def main() -> tuple[View, int, list]:
        first = View()
        async with await connect(url, live.cookie) as ws:
            await read_until(ws, first, lambda v: v.snapshots == 1, 10)
            await drain(ws, first, 1.0)
        left_at = first.last
        image = await asyncio.to_thread(set_image, live.sandbox, "resume1")
        # the rollout happens while nobody watches
        await asyncio.to_thread(live.sandbox.wait_ready, "license-api", 3, 60)
        await asyncio.sleep(1.0)
        expected = await asyncio.to_thread(streams.since, live.stream, left_at)
        second = View()
        second.last = left_at
        async with await connect(f"{url}?since={left_at}", live.cookie) as ws:
            await read_until(ws, second, lambda v: v.last >= expected[-1]["seq"], 10)
            await drain(ws, second, 1.0)
        # and resuming mid-connection with a message
        third = View()
        async with await connect(url, live.cookie) as ws:
            await read_until(ws, third, lambda v: v.snapshots == 1, 10)
            await ws.send(json.dumps({"resume": left_at}))
            third.last = left_at
            await read_until(ws, third, lambda v: v.last >= expected[-1]["seq"], 10)
        assert image
        return second, left_at, expected

    second, left_at, expected = asyncio.run(main())
    assert second.snapshots == 0
    got = [m["seq"] for m in second.messages]
    assert got == [m["seq"] for m in expected] == list(range(left_at + 1, got[-1] + 1))
    assert any(m["type"] == "pod" for m in second.messages)


def test_it_sends_a_fresh_snapshot_when_the_missed_messages_aged_out(live):
    from dashboard import streams

    live.start_watcher()
    url = live.url(f"/ws/services/{live.service.name}/")
    live.wait_for(lambda: streams.last_seq(live.stream) > 3, 15, "rows")
    time.sleep(1.0)
    last = streams.last_seq(live.stream)
    streams.client().xtrim(streams.row_keys(live.stream)[1], minid=f"{last}-1")

    async def main() -> View:
        view = View()
        async with await connect(f"{url}?since=1", live.cookie) as ws:
            await read_until(ws, view, lambda v: bool(v.messages), 10)
        return view

    view = asyncio.run(main())
    assert view.messages[0]["type"] == "snapshot" and view.messages[0]["seq"] == last
    assert len(view.pods) == 3


def test_it_loses_and_duplicates_nothing_across_410s_and_dropped_watches(live):
    watcher = live.start_watcher()
    url = live.url(f"/ws/services/{live.service.name}/")
    stop = threading.Event()

    def chaos() -> None:
        while not stop.is_set():
            live.sandbox.control("chaos/expire", {})
            time.sleep(0.15)
            live.sandbox.control("chaos/drop-watches", {})
            time.sleep(0.25)

    async def main() -> View:
        view = View()
        async with await connect(url, live.cookie) as ws:
            await read_until(ws, view, lambda v: v.snapshots == 1, 10)
            thread = threading.Thread(target=chaos, daemon=True)
            thread.start()
            try:
                image = await asyncio.to_thread(set_image, live.sandbox, "chaos1")
                await read_until(ws, view, rolled_out(image), 90)
            finally:
                stop.set()
                thread.join()
            await drain(ws, view, 2.0)
        return view

    view = asyncio.run(main())  # View.apply asserts every seq is the previous + 1
    _digests_never_repeat(view)
    assert set(view.pods) == set(cluster_pods(live.sandbox))
    assert "re-listing" in watcher.output()
    live.wait_for(lambda: all(n == 1 for n in live.watch_counts().values()), 10,
                  "one watch per kind after the chaos")
