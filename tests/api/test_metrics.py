"""GET /metrics: Prometheus text, every process's samples added up, behind METRICS_TOKEN."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dashboard import states
from dashboard.models import Release
from dashboard.releases import lifecycle
from tests.api.conftest import SHA, make_service

pytestmark = pytest.mark.django_db
TOKEN = "metrics-" + "t" * 24


@pytest.fixture
def guarded(settings):
    settings.METRICS_TOKEN = TOKEN
    return Client()


def _get(client: Client, token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get("/metrics", **headers)


def test_it_refuses_metrics_without_the_bearer_token(guarded):
    assert _get(guarded, None).status_code == 401
    assert _get(guarded, "wrong-" + TOKEN).status_code == 401
    ok = _get(guarded)
    assert ok.status_code == 200 and ok["Content-Type"].startswith("text/plain")


def test_it_counts_ended_releases_and_phase_durations_by_service(guarded,
                                                                django_capture_on_commit_callbacks):
    service = make_service(f"m-{uuid.uuid4().hex[:8]}")
    release = Release.objects.create(service=service, commit_sha=SHA, via="api",
                                     state=states.VERIFYING,
                                     phase_started_at=timezone.now() - timedelta(seconds=3))
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.transition(release, states.SUCCEEDED, promote=False)
    text = _get(guarded).content.decode()
    line = re.search(rf'^dashboard_releases_total\{{[^}}]*service="{service.name}"[^}}]*\}} (\S+)$',
                     text, re.M)
    assert line and 'outcome="succeeded"' in line.group(0) and float(line.group(1)) == 1.0
    assert f'dashboard_release_phase_seconds_bucket{{le="2.5",phase="verifying",' \
        f'service="{service.name}"}} 0.0' in text
    assert f'dashboard_release_phase_seconds_bucket{{le="5.0",phase="verifying",' \
        f'service="{service.name}"}} 1.0' in text


def test_it_reports_queue_depth_and_how_long_active_releases_have_been_silent(guarded):
    service = make_service(f"m-{uuid.uuid4().hex[:8]}")
    Release.objects.create(service=service, commit_sha=SHA, via="api", state=states.QUEUED)
    Release.objects.create(service=service, commit_sha=SHA, via="api", state=states.DEPLOYING)
    text = _get(guarded).content.decode()
    assert f'dashboard_releases_queued{{service="{service.name}"}} 1.0' in text
    assert re.search(rf'^dashboard_release_oldest_queued_age_seconds\{{service="{service.name}"\}}',
                     text, re.M)
    assert re.search(rf'^dashboard_release_heartbeat_age_seconds\{{environment="default",'
                     rf'release="\d+",service="{service.name}",state="deploying"\}} [0-9.]+$',
                     text, re.M)
