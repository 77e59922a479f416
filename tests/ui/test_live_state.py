"""Pages are right on first paint: replicas, health and pods come from the watcher's rows in
Redis (dashboard.streams) before any WebSocket connects."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from dashboard import streams
from tests.ui.conftest import make_release, make_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_service(cluster):
    service = make_service(cluster, f"ui-live-{uuid.uuid4().hex[:8]}")
    stream = f"service:{service.name}"
    yield service, stream
    streams.client().delete(*streams.row_keys(stream))


def test_it_renders_replicas_health_and_pods_from_the_watchers_rows(admin_client, live_service):
    service, stream = live_service
    streams.publish_row(stream, "rollout.progress", {
        "desired": 3, "updated": 3, "ready": 2, "available": 2, "done": False,
        "message": "Waiting for rollout"}, key="rollout")
    for n in range(3):
        streams.publish_row(stream, "pod", {
            "name": f"{service.name}-pod-{n}", "phase": "Running", "ready": "1/1",
            "all_ready": n < 2, "restarts": n, "reason": "" if n < 2 else "CrashLoopBackOff"},
            key=f"pod:{service.name}-pod-{n}")
    body = admin_client.get("/admin/").content.decode()
    card = body.split(f'data-service="{service.name}"', 1)[1].split("</article>", 1)[0]
    assert "2/3 ready" in card and "degraded" in card
    release = make_release(service, state="deploying")
    page = admin_client.get(reverse("deployments:release", args=[release.pk])).content.decode()
    assert f"{service.name}-pod-2" in page and "CrashLoopBackOff" in page


def test_it_says_unknown_when_no_watcher_reported(admin_client, live_service):
    service, _ = live_service
    body = admin_client.get("/admin/").content.decode()
    card = body.split(f'data-service="{service.name}"', 1)[1].split("</article>", 1)[0]
    assert "unknown" in card and "no data yet" in card
