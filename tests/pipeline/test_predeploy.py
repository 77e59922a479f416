"""The pre-deploy (migration) Job end to end: sandbox Cloud Build + Kubernetes Jobs, a real
Celery worker. The Job runs the new image before the Deployment changes; a failing migration
fails the release with the Deployment untouched; a rollback never runs it; a killed worker
never makes a second Job."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError

from dashboard import services, states
from dashboard.releases import lifecycle
from tests.pipeline.conftest import SHA, deployment, worker_extra_env
from tests.plugins.worker import start_celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
MIGRATE = ["python", "manage.py", "migrate", "--noinput"]


def jobs(sandbox) -> list[dict]:
    return sandbox.get("/apis/batch/v1/namespaces/default/jobs")["items"]


def event_seq(release, kind: str, starts: str) -> int:
    return release.events.filter(kind=kind, message__startswith=starts).values_list(
        "seq", flat=True).get()


def test_it_runs_the_migration_job_with_the_new_image_before_the_deployment_changes(
        service, worker, settle, fresh_sandbox):
    service.pre_deploy_command = MIGRATE
    service.save()
    release = services.request_release(service=service, commit=SHA["good"], actor=None,
                                       via="cli")
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.SUCCEEDED, release.failure_summary
    assert "migrating" in release.timings
    to_migrating = release.events.get(kind="state", data__to="migrating").seq
    to_deploying = release.events.get(kind="state", data__to="deploying").seq
    assert to_migrating < to_deploying < event_seq(release, "rollout", "set image")
    assert release.pre_deploy_exit_code == 0 and "Applying licenses." in release.pre_deploy_log
    assert release.events.filter(kind="predeploy.log", message__contains="Running migrations").exists()
    [job] = [j for j in jobs(fresh_sandbox) if j["metadata"]["name"] == release.pre_deploy_job]
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == service.pre_deploy_deadline_seconds
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    container = job["spec"]["template"]["spec"]["containers"][0]
    app = deployment(fresh_sandbox)["spec"]["template"]["spec"]
    assert container["image"] == release.image and container["command"] == MIGRATE
    assert container.get("env") == app["containers"][0].get("env")
    assert job["spec"]["template"]["spec"].get("serviceAccountName") == app.get(
        "serviceAccountName")


def test_it_fails_a_broken_migration_before_the_deployment_is_touched(
        service, worker, settle, fresh_sandbox):
    service.pre_deploy_command = MIGRATE
    service.save()
    before = deployment(fresh_sandbox)["metadata"]["generation"]
    release = services.request_release(service=service, commit="dbfa11" + "7" * 34, actor=None,
                                       via="cli")
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.FAILED  # not rolled back: there was nothing to undo
    assert release.patched_at is None
    assert deployment(fresh_sandbox)["metadata"]["generation"] == before
    summary = release.failure_summary
    assert summary["code"] == "PreDeployFailed" and summary["exit_code"] == 1
    assert release.pre_deploy_job in summary["reason"]
    assert any("IntegrityError" in line for line in summary["logs"])
    assert release.pre_deploy_exit_code == 1


def test_it_creates_one_job_when_the_worker_is_killed_while_the_job_runs(
        service, fresh_sandbox, settle, tmp_path):
    # The sandbox's Job pod runs for as long as the command's sleep (simulated seconds).
    service.pre_deploy_command = ["sh", "-c", f"sleep {4 * fresh_sandbox.speed:g} && "
                                  "python manage.py migrate --noinput"]
    service.save()
    env = worker_extra_env(fresh_sandbox)
    first = start_celery_worker(tmp_path, "doomed-job", extra_env=env)
    release = services.request_release(service=service, commit=SHA["good2"], actor=None,
                                       via="cli")
    release = settle(release, lambda r: bool(r.pre_deploy_job), timeout=60)
    first.kill()
    time.sleep(1)
    second = start_celery_worker(tmp_path, "rescuer-job", extra_env=env)
    try:
        release = settle(release, states.TERMINAL, timeout=120)
    finally:
        second.kill()
    assert release.state == states.SUCCEEDED, release.failure_summary
    mine = [j for j in jobs(fresh_sandbox)
            if j["metadata"]["annotations"].get("deploy.dashboard/release") == str(release.pk)]
    assert len(mine) == 1
    pods = fresh_sandbox.get("/api/v1/namespaces/default/pods?labelSelector="
                             f"job-name%3D{release.pre_deploy_job}")["items"]
    assert len(pods) == 1
    assert release.events.filter(kind="predeploy", message__startswith="pre-deploy Job").count() == 1


def test_a_rollback_never_runs_the_job_and_a_deploy_of_a_known_image_does(plain_service):
    plain_service.pre_deploy_command = MIGRATE
    plain_service.save()
    from dashboard.models import Release

    deploy = Release(service=plain_service, kind=states.KIND_DEPLOY, image="x@sha256:1")
    rollback = Release(service=plain_service, kind=states.KIND_ROLLBACK, image="x@sha256:1")
    assert lifecycle.rollout_state(deploy) == states.MIGRATING
    assert lifecycle.rollout_state(rollback) == states.DEPLOYING
    plain_service.pre_deploy_command = []
    assert lifecycle.rollout_state(deploy) == states.DEPLOYING


@pytest.mark.parametrize(("field", "value"), [
    ("pre_deploy_command", "python manage.py migrate"),
    ("pre_deploy_command", ["python", 3]),
    ("rollout_steps", [0]),
    ("rollout_steps", [2, 1]),
    ("bake_seconds", 0),
    ("pre_deploy_deadline_seconds", 0),
])
def test_it_refuses_bad_settings_naming_the_field(plain_service, field, value):
    setattr(plain_service, field, value)
    with pytest.raises(ValidationError) as err:
        plain_service.full_clean()
    assert field in err.value.message_dict


def test_an_auto_rollback_after_a_migration_says_the_schema_moved_on(
        service, worker, settle, fresh_sandbox):
    service.pre_deploy_command = MIGRATE
    service.save()
    release = services.request_release(service=service, commit=SHA["dead"], actor=None,
                                       via="cli")
    release = settle(release, [states.ROLLED_BACK, states.FAILED], timeout=120)
    assert release.state == states.ROLLED_BACK
    moved = release.failure_summary["schema_moved_on"]
    assert moved["job"] == release.pre_deploy_job
    assert any("Applying licenses." in line for line in moved["output"])


def test_cli_wait_shows_the_migrating_phase(service, worker):
    from io import StringIO

    from django.core.management import call_command

    service.pre_deploy_command = MIGRATE
    service.save()
    out = StringIO()
    call_command("deploy", "license-api", "--commit", SHA["good"], "--wait", stdout=out)
    text = out.getvalue()
    assert "migrating" in text, text
    assert text.index("migrating") < text.index("deploying") and "succeeded" in text


def test_a_job_whose_image_never_pulls_fails_fast_like_a_pod(service, worker, settle,
                                                             fresh_sandbox):
    service.pre_deploy_command = MIGRATE
    service.save()
    before = deployment(fresh_sandbox)["metadata"]["generation"]
    missing = "gcr.io/sandbox/license-api@sha256:" + "e" * 64  # no build pushed this
    release = services.request_release(service=service, commit=SHA["good"], image=missing,
                                       actor=None, via="cli")
    started = time.monotonic()
    release = settle(release, states.TERMINAL, timeout=60)
    assert release.state == states.FAILED and release.patched_at is None
    assert time.monotonic() - started < service.pre_deploy_deadline_seconds
    summary = release.failure_summary
    assert summary["code"] == "PreDeployFailed"
    assert "ErrImagePull" in summary["reason"] or "ImagePullBackOff" in summary["reason"]
    assert deployment(fresh_sandbox)["metadata"]["generation"] == before
