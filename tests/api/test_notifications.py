"""Outgoing notifications: release state changes and locks reach a local receiver through a
real Celery worker, generic webhooks carry a valid HMAC signature, Slack targets get text,
failed deliveries are retried with back-off, and filters by service and event hold."""

from __future__ import annotations

import pytest

from dashboard.api import notifications
from dashboard.api.models import NotificationTarget
from tests.api.conftest import SHA, Api, make_service

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def verified(received, secret):
    return [r for r in received if notifications.verify(
        secret, r.headers["X-Dashboard-Timestamp"], r.body, r.headers["X-Dashboard-Signature"])]


def test_it_signs_and_retries_lock_notifications(sandbox_worker, fresh_sandbox, receiver,
                                                 api_for):
    make_service("license-api", kubeconfig=str(fresh_sandbox.kubeconfig))
    NotificationTarget.objects.create(name="hook", kind="webhook", url=f"{receiver.url}/hook",
                                      secret="s3cret", events=["lock", "unlock"])
    NotificationTarget.objects.create(name="chat", kind="slack", url=f"{receiver.url}/slack",
                                      events=["lock"])
    NotificationTarget.objects.create(name="elsewhere", kind="webhook",
                                      url=f"{receiver.url}/other", services=["billing"])
    receiver.fail_first = 1  # the first delivery fails: it must be retried
    api = api_for("lock")
    assert api.post("/api/v1/services/license-api/lock/", {"reason": "freeze"}).status_code == 200
    assert api.post("/api/v1/services/license-api/unlock/").status_code == 200
    got = receiver.wait_for(lambda rs: len(rs) >= 3, timeout=60)
    hooks = [r for r in got if r.path == "/hook"]
    assert len(verified(hooks, "s3cret")) == len(hooks) == 2
    assert not verified(hooks, "wrong")
    assert sorted(r.json()["event"] for r in hooks) == ["service.lock", "service.unlock"]
    lock = next(r for r in hooks if r.json()["event"] == "service.lock").json()
    assert lock["owner"] == "deployer" and lock["reason"] == "freeze"
    slack = [r for r in got if r.path == "/slack"]
    assert len(slack) == 1 and "locked by deployer: freeze" in slack[0].json()["text"]
    assert receiver.attempts == 4  # one failed attempt, then three deliveries
    assert not [r for r in got if r.path == "/other"]


def test_it_notifies_release_state_changes(sandbox_worker, fresh_sandbox, receiver, token_for):
    make_service("license-api", kubeconfig=str(fresh_sandbox.kubeconfig))
    NotificationTarget.objects.create(name="all", url=f"{receiver.url}/all", secret="k")
    NotificationTarget.objects.create(name="outcomes", url=f"{receiver.url}/outcomes",
                                      secret="k", events=["succeeded", "failed", "rolled_back"])
    r = Api(token_for("deploy")).post("/api/v1/releases/", {"service": "license-api",
                                                             "commit": SHA})
    assert r.status_code == 202
    got = receiver.wait_for(lambda rs: any(x.path == "/outcomes" for x in rs), timeout=120)
    outcome = [x.json() for x in got if x.path == "/outcomes"]
    assert [o["release"]["state"] for o in outcome] == ["succeeded"]
    assert outcome[0]["release"]["id"] == r.json()["id"]
    got = receiver.wait_for(lambda rs: any(
        x.path == "/all" and x.json()["release"]["state"] == "succeeded" for x in rs))
    ordered = sorted((x.json() for x in got if x.path == "/all"), key=lambda p: p["seq"])
    states = [p["release"]["state"] for p in ordered]
    assert states[0] == "queued" and states[-1] == "succeeded"
    assert {"building", "deploying", "verifying"} <= set(states)
    assert len(verified([x for x in got if x.path == "/all"], "k")) == len(states)
    assert ordered[-1]["release"]["previous_state"] == "verifying" and ordered[-1]["at"]


def test_it_verifies_signatures_and_rejects_stale_ones():
    body = b'{"a":1}'
    sig = notifications.sign("k", "1000", body)
    assert not notifications.verify("k", "1000", body, sig)  # far outside the window
    import time

    now = str(int(time.time()))
    assert notifications.verify("k", now, body, notifications.sign("k", now, body))
    assert not notifications.verify("k", now, body + b" ", notifications.sign("k", now, body))
    assert not notifications.verify("k", "not-a-time", body, sig)
