"""Continue now, from REST and Slack: it ends the bake of the release's current step (the
driver resumes at its next look); anything else answers 409 naming why."""

from __future__ import annotations

from dashboard import states
from dashboard.api import chatops
from dashboard.api.slack import parse
from dashboard.models import AuditEntry, Release
from tests.api.conftest import SHA, make_user

URL = "/api/v1/releases/"


def deploying(service, phase: str) -> Release:
    return Release.objects.create(
        service=service, commit_sha=SHA, state=states.DEPLOYING, via="api",
        image=f"{service.image_repository}@sha256:{'1' * 64}",
        rollout_step={"index": 0, "pods": 1, "phase": phase,
                      "bake_until": "2030-01-01T00:00:00+00:00",
                      "baking_since": "2020-01-01T00:00:00+00:00"})


def test_continue_ends_a_bake_and_is_audited(service, api_for):
    release = deploying(service, "baking")
    r = api_for("deploy,read").post(f"{URL}{release.pk}/continue/", {"reason": "looks good"})
    assert r.status_code == 200, r.content
    release.refresh_from_db()
    assert release.step_continue_at is not None
    entry = AuditEntry.objects.get(action="release.continue")
    assert entry.release_id == release.pk and entry.reason == "looks good"


def test_continue_answers_409_when_no_step_bakes(service, api_for):
    release = deploying(service, "starting")
    r = api_for("deploy,read").post(f"{URL}{release.pk}/continue/", {})
    assert r.status_code == 409
    assert "not baking" in r.json()["detail"]
    assert api_for("read").post(f"{URL}{release.pk}/continue/", {}).status_code == 403


def test_slack_continue_finds_the_service_release_rolling_out(service):
    assert parse("/deploy", "continue license-api").verb == "continue"
    user = make_user("ada", ["view_service", "deploy_service"])
    cmd = parse("/deploy", "continue license-api")
    assert "no release rolling out" in chatops.execute(cmd, user).text
    release = deploying(service, "baking")
    out = chatops.execute(cmd, user)
    assert out.release_id == release.pk and "bake ended early" in out.text
