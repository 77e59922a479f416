"""A release keeps what the cluster did: pod states, its objects' events, ReplicaSet scaling.
Sandbox Kubernetes + Cloud Build, a real Celery worker."""

from __future__ import annotations

import pytest

from dashboard import services, states
from dashboard.releases import observe
from dashboard.rollout import changes
from tests.pipeline.conftest import SHA

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_it_keeps_pod_states_events_and_scaling_of_a_crash_looping_release(
        service, worker, settle, fresh_sandbox):
    release = services.request_release(service=service, commit=SHA["dead"], actor=None, via="cli")
    release = settle(release, states.TERMINAL, timeout=120)
    assert release.state == states.ROLLED_BACK, release.failure_summary
    entries = list(release.events.filter(kind__in=changes.KINDS).values("kind", "message", "data"))
    pods = [e for e in entries if e["kind"] == changes.POD]
    assert any("CrashLoopBackOff" in e["message"] for e in pods), pods
    assert any(e["message"].endswith(": gone") or "Terminating" in e["message"] for e in pods)
    reasons = {e["data"].get("reason") for e in entries if e["kind"] == changes.EVENT}
    assert {"ScalingReplicaSet", "BackOff"} <= reasons, reasons
    objects = {e["data"]["object"].split("/")[1] for e in entries if e["kind"] == changes.EVENT}
    assert all(o.startswith("license-api") for o in objects)
    assert any(e["kind"] == changes.SCALE for e in entries)
    assert len(entries) <= observe.MAX_ENTRIES
    # Deduplicated: no (key, state) pair is recorded twice.
    pairs = [(e["data"]["key"], e["data"]["state"]) for e in entries]
    assert len(pairs) == len(set(pairs))
    # The crash-looping pods' last lines stay with the release (their pods are gone now).
    kept = list(release.events.filter(kind=observe.POD_LOG).values("message", "data"))
    assert kept and all(k["data"]["container"] == "license-api" for k in kept)
    assert len({k["data"]["pod"] for k in kept}) == len(kept)
    assert any(k["data"]["lines"] > 0 for k in kept), kept


def test_it_keeps_the_last_lines_of_a_succeeded_release_pods(service, worker, settle, fresh_sandbox):
    release = services.request_release(service=service, commit=SHA["good"], actor=None, via="cli")
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.SUCCEEDED
    kept = list(release.events.filter(kind=observe.POD_LOG).values("message", "data"))
    assert len(kept) >= 1 and all(k["message"] for k in kept)
    reasons = {e.data.get("reason") for e in release.events.filter(kind=changes.EVENT)}
    assert "ScalingReplicaSet" in reasons
    states_seen = " ".join(release.events.filter(kind=changes.POD).values_list("message", flat=True))
    assert "Running, 1/1 ready" in states_seen
