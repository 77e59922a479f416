"""Both halves of `python -m sandbox` together: a Cloud Build pushes an image that the sandbox
cluster then pulls and runs (the image registry is shared). Needs tests/plugins/sandbox.py."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.cloud.devtools import cloudbuild_v1 as cb

from tests.sandbox.cloudbuild_fixtures import client_for, sleep_build, wait_done, wait_status


@pytest.fixture
def whole_sandbox(sandbox: Any) -> Any:
    sandbox.reset()
    yield sandbox
    sandbox.reset()


def test_it_pushes_an_image_that_the_sandbox_cluster_then_runs(whole_sandbox: Any) -> None:
    from kubernetes import client as k8s
    from kubernetes import config

    commit = "ab12" + uuid.uuid4().hex + "0000"  # a healthy commit no earlier test has built
    builds = client_for(whole_sandbox.cloudbuild_url)
    op = builds.run_build_trigger(project_id="sandbox", trigger_id="license-api",
                                  source=cb.RepoSource(commit_sha=commit))
    build = wait_done(builds, op.metadata.build.id)
    assert build.status == cb.Build.Status.SUCCESS
    digest = build.results.images[0].digest
    image = f"gcr.io/sandbox/license-api@{digest}"

    api = config.new_client_from_config(config_file=str(whole_sandbox.kubeconfig))
    try:
        apps, core = k8s.AppsV1Api(api), k8s.CoreV1Api(api)
        patched = apps.patch_namespaced_deployment("license-api", "default", {"spec": {"template": {
            "spec": {"containers": [{"name": "license-api", "image": image}]}}}})
        deadline = time.monotonic() + 60
        while True:
            d = apps.read_namespaced_deployment("license-api", "default")
            s = d.status
            if (s.observed_generation or 0) >= (patched.metadata.generation or 0) and (
                    s.updated_replicas == s.ready_replicas == s.replicas == 3):
                break
            assert time.monotonic() < deadline, f"rollout of {image} never finished: {s}"
            time.sleep(0.2)
        pods = core.list_namespaced_pod("default", label_selector="app=license-api").items
        running = [p for p in pods if p.status.phase == "Running" and p.spec.containers[0].image == image]
        assert len(running) == 3
        assert all(c.ready for p in running for c in p.status.container_statuses)
    finally:
        api.close()


def test_it_forgets_builds_and_logs_on_sandbox_reset_and_counts_requests(whole_sandbox: Any) -> None:
    builds = client_for(whole_sandbox.cloudbuild_url)
    before = whole_sandbox.control("metrics")["requests"]["cloudbuild"]
    build_id = builds.create_build(project_id="sandbox", build=sleep_build(6000)).metadata.build.id
    wait_status(builds, build_id, cb.Build.Status.WORKING)
    assert whole_sandbox.control("metrics")["requests"]["cloudbuild"] >= before + 2

    whole_sandbox.reset()

    with pytest.raises(exceptions.NotFound):
        builds.get_build(project_id="sandbox", id=build_id)
    assert list(builds.list_builds(project_id="sandbox")) == []
    log = whole_sandbox.cloudbuild_url + f"/storage/v1/b/sandbox_cloudbuild/o/log-{build_id}.txt"
    assert requests.get(log, timeout=5).status_code == 404
