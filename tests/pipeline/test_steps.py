"""Step rollouts end to end (sandbox, real Celery worker): "1 pod, bake, then the rest" pauses
the Deployment with one new pod while the old three stay available, verifies the new pod
through the pod proxy, bakes, resumes; Continue now ends the bake early; cancelling during
the bake rolls back; a killed worker mid-bake does not break the release."""

from __future__ import annotations

import threading
import time

import pytest

from dashboard import services, states
from tests.pipeline.conftest import SHA, deployment, worker_extra_env
from tests.plugins.worker import start_celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Watch:
    """Samples the Deployment in the background: the lowest availability seen, and what it
    looked like while paused."""

    def __init__(self, sandbox) -> None:
        self.sandbox, self.paused, self.min_available = sandbox, [], 99
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            d = deployment(self.sandbox)
            st = d.get("status") or {}
            self.min_available = min(self.min_available, st.get("availableReplicas", 0))
            if d["spec"].get("paused"):
                self.paused.append((st.get("updatedReplicas", 0), st.get("availableReplicas", 0)))
            time.sleep(0.05)

    def done(self) -> Watch:
        self.stop.set()
        self.thread.join(5)
        return self


def stepped(service, bake: int) -> None:
    service.rollout_steps = [1]
    service.bake_seconds = bake
    service.save()


def test_it_pauses_with_one_new_pod_verifies_it_bakes_and_resumes(
        service, worker, settle, fresh_sandbox):
    stepped(service, bake=2)
    watch = Watch(fresh_sandbox)
    release = services.request_release(service=service, commit=SHA["good"], actor=None,
                                       via="cli")
    release = settle(release, states.TERMINAL, timeout=90)
    watch.done()
    assert release.state == states.SUCCEEDED, release.failure_summary
    assert watch.paused and {u for u, _ in watch.paused} == {1}
    assert min(a for _, a in watch.paused) >= 3 and watch.min_available >= 3
    steps = list(release.events.filter(kind="step").values_list("message", flat=True))
    assert steps[0] == "step 1/1: paused with 1 new pod(s)"
    assert "answered /health/ready 200 3 times; baking 2 s" in steps[1]
    assert steps[2] == "step 1/1: baked 2 s; resuming"
    assert not deployment(fresh_sandbox)["spec"].get("paused")


def test_continue_now_ends_the_bake_early(service, worker, settle, fresh_sandbox):
    stepped(service, bake=600)
    release = services.request_release(service=service, commit=SHA["good"], actor=None,
                                       via="cli")
    release = settle(release, lambda r: r.rollout_step.get("phase") == "baking", timeout=60)
    assert services.step_view(release)["bake_seconds_left"] > 500
    services.continue_step(release=release, actor=None, via="cli", reason="looks fine")
    release = settle(release, states.TERMINAL, timeout=60)
    assert release.state == states.SUCCEEDED, release.failure_summary
    assert release.events.filter(kind="step", message="step 1/1: continued by hand; resuming"
                                 ).exists()


def test_continue_is_refused_when_no_step_bakes(service, worker, settle, fresh_sandbox):
    release = services.request_release(service=service, commit=SHA["good"], actor=None,
                                       via="cli")
    with pytest.raises(services.Conflict):
        services.continue_step(release=release, actor=None, via="cli")
    settle(release, states.TERMINAL, timeout=90)


def test_cancelling_during_the_bake_rolls_the_step_back(service, worker, settle, fresh_sandbox):
    before = deployment(fresh_sandbox)["spec"]["template"]["spec"]["containers"][0]["image"]
    stepped(service, bake=600)
    release = services.request_release(service=service, commit=SHA["good2"], actor=None,
                                       via="cli")
    release = settle(release, lambda r: r.rollout_step.get("phase") == "baking", timeout=60)
    services.cancel_release(release=release, actor=None, via="cli", reason="not today")
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.ROLLED_BACK
    dep = deployment(fresh_sandbox)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == before
    assert not dep["spec"].get("paused")


def test_a_worker_killed_during_the_bake_does_not_break_the_release(
        service, fresh_sandbox, settle, tmp_path):
    stepped(service, bake=4)
    env = worker_extra_env(fresh_sandbox)
    first = start_celery_worker(tmp_path, "doomed-bake", extra_env=env)
    release = services.request_release(service=service, commit=SHA["good"], actor=None,
                                       via="cli")
    release = settle(release, lambda r: r.rollout_step.get("phase") == "baking", timeout=60)
    first.kill()
    time.sleep(1)
    second = start_celery_worker(tmp_path, "rescuer-bake", extra_env=env)
    try:
        release = settle(release, states.TERMINAL, timeout=120)
    finally:
        second.kill()
    assert release.state == states.SUCCEEDED, release.failure_summary
    messages = list(release.events.filter(kind="step").values_list("message", flat=True))
    assert messages.count("step 1/1: paused with 1 new pod(s)") == 1
    assert messages[-1] == "step 1/1: baked 4 s; resuming"


@pytest.mark.parametrize(("steps", "ok"), [("[3]", False), ("[1]", True), ("[0]", False)])
def test_the_admin_refuses_a_step_not_smaller_than_the_replicas(service, steps, ok):
    import json

    from django.forms.models import model_to_dict

    from dashboard.admin import ServiceForm

    data = model_to_dict(service)
    for key in ("failfast_policy", "pre_deploy_command"):
        data[key] = json.dumps(data[key])
    data.update(rollout_steps=steps, allowed_groups=[])
    form = ServiceForm(data, instance=service)
    assert form.is_valid() is ok, form.errors
    if not ok:
        assert list(form.errors) == ["rollout_steps"]
