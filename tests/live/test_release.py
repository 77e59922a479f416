"""The release stream: snapshot with the release and its timeline, the rollout's rows, the
new pods' logs while somebody watches, and the pipeline woken by changes."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.live.helpers import View, connect, drain, read_until, set_image

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _active_release(service, **fields):
    from django.utils import timezone

    from dashboard import states
    from dashboard.models import Release

    now = timezone.now()
    return Release.objects.create(
        service=service, kind=states.KIND_DEPLOY, commit_sha="c0ffee" + "2" * 34,
        state=states.DEPLOYING, via="cli", reason="live test", created_at=now, started_at=now,
        phase_started_at=now, heartbeat_at=now, **fields,
    )


def test_it_follows_the_new_pods_logs_while_the_release_page_is_open(live):
    from dashboard import streams
    from dashboard.releases import lifecycle

    release = _active_release(live.service)
    lifecycle.record_event(release, "note", "started by the test")
    live.start_watcher()
    stream = f"release:{release.pk}"

    async def main() -> View:
        view = View()
        async with await connect(live.url(f"/ws/releases/{release.pk}/"), live.cookie) as ws:
            await read_until(ws, view, lambda v: v.snapshots == 1, 10)
            snap = view.messages[0]["data"]
            assert snap["release"]["id"] == release.pk and snap["release"]["state"] == "deploying"
            assert [e["message"] for e in snap["timeline"]] == ["started by the test"]
            assert await asyncio.to_thread(streams.viewers, stream) == 1
            image = await asyncio.to_thread(set_image, live.sandbox, "logs1")
            await read_until(ws, view, lambda v: any(
                m["type"] == "podlog" and m["data"]["lines"] for m in v.live()), 60)
            await read_until(ws, view, lambda v: any(
                m["type"] == "pod" and m["data"].get("image") == image for m in v.live()), 30)
            await drain(ws, view, 1.0)
        return view

    view = asyncio.run(main())
    logs = [m["data"] for m in view.live() if m["type"] == "podlog"]
    new_pods = {m["data"]["name"] for m in view.live()
                if m["type"] == "pod" and m["data"].get("new")}
    assert {d["pod"] for d in logs} <= new_pods
    assert all(d["container"] == "license-api" for d in logs)
    # The page closed: the server's disconnect handler drops the viewer (asynchronously, just
    # after the socket closes), and the watcher stops following.
    live.wait_for(lambda: streams.viewers(stream) == 0, 5, "the viewer count to drop to 0")


def test_it_wakes_the_pipeline_when_its_service_changes(live, tmp_path):
    from dashboard.models import Release
    from tests.plugins.worker import start_celery_worker

    # An active release with no step queued (as after a lost task, before the reconciler).
    release = _active_release(live.service, tick=7)
    worker = start_celery_worker(tmp_path, "live-wake", concurrency=1)
    live.procs.append(worker)  # stopped with the rest
    try:
        time.sleep(2.0)
        assert Release.objects.get(pk=release.pk).tick == 7  # nothing drives it
        live.start_watcher()  # its first rows for the Service are a change: wake-up
        live.wait_for(lambda: Release.objects.get(pk=release.pk).tick > 7, 20,
                      "the watcher to wake the release's driver")
    finally:
        worker.stop()


def test_it_accepts_a_resume_message_on_the_release_stream(live):
    from dashboard import streams

    release = _active_release(live.service)
    live.start_watcher()
    stream = f"release:{release.pk}"
    streams.publish(stream, "build.log", {"lines": ["step 1"]})

    async def main() -> list:
        got = []
        async with await connect(live.url(f"/ws/releases/{release.pk}/?since=0"),
                                 live.cookie) as ws:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        return got

    got = asyncio.run(main())
    assert got[0]["seq"] == 1


def test_it_shows_the_active_releases_pipeline_messages_on_the_service_page(live):
    from dashboard import streams

    release = _active_release(live.service)
    live.start_watcher()
    url = live.url(f"/ws/services/{live.service.name}/")

    async def main() -> View:
        view = View()
        async with await connect(url, live.cookie) as ws:
            await read_until(ws, view, lambda v: v.snapshots == 1, 10)
            assert view.messages[0]["data"]["release"]["id"] == release.pk
            await asyncio.to_thread(streams.publish, f"release:{release.pk}", "build.step",
                                    {"step": "docker build", "status": "WORKING"})
            await asyncio.to_thread(streams.publish, f"release:{release.pk}", "podlog",
                                    {"pod": "p", "lines": ["not for the service page"]})
            await asyncio.to_thread(streams.publish, f"release:{release.pk}", "build.log",
                                    {"lines": ["Step 1/5"]})
            await read_until(ws, view, lambda v: any(
                m["type"] == "build.log" for m in v.live()), 15)
        return view

    view = asyncio.run(main())
    copied = [m for m in view.live() if m["type"] in ("build.step", "build.log", "podlog")]
    assert [m["type"] for m in copied] == ["build.step", "build.log"]
    assert all(m["data"]["release"] == release.pk for m in copied)
