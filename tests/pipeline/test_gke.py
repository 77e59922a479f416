"""Releases to a Cluster defined by its GKE name, against a sandbox started with
`--auth required`: the worker authenticates with the generated service-account key through
google-auth, finds the cluster's endpoint and CA through the Container API, checks the
Artifact Registry digest before patching, and names the credential and API it was refused by.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dashboard import services, states
from tests.pipeline.conftest import SHA
from tests.plugins.sandbox import Sandbox, start_sandbox, stop_sandbox
from tests.plugins.worker import Worker, start_celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
GKE = "projects/sandbox/locations/us-central1/clusters/sandbox"
AR = "us-docker.pkg.dev/sandbox/apps/license-api"


@pytest.fixture(scope="module")
def secured() -> Iterator[Sandbox]:
    sb = start_sandbox(20, "--auth", "required")
    try:
        yield sb
    finally:
        stop_sandbox(sb)


@pytest.fixture
def gke_service(secured: Sandbox, transactional_db: None) -> Any:
    from dashboard.models import Cluster, Service

    secured.reset()
    cluster = Cluster.objects.create(name="gke", gke_name=GKE)
    return Service.objects.create(
        name="license-api", cluster=cluster, namespace="default", deployment="license-api",
        container="license-api", image_repository=AR, gcp_project="sandbox",
        build_trigger_id="license-api", health_service="license-api", health_port=80,
        health_path="/health/ready", rollout_timeout_seconds=60, verify_successes=2,
    )


@pytest.fixture
def gke_worker(gke_service: Any, secured: Sandbox, tmp_path: Any) -> Iterator[Worker]:
    from config.celery import app

    app.control.purge()
    env = {"CLOUDBUILD_ENDPOINT": secured.cloudbuild_url, "KUBECONFIG": "/nonexistent",
           "GOOGLE_APPLICATION_CREDENTIALS": str(secured.kubeconfig.parent /
                                                 "service-account.json")}
    w = start_celery_worker(tmp_path, "gke", extra_env=env)
    yield w
    w.kill()
    app.control.purge()


def deployment(sb: Sandbox) -> dict[str, Any]:
    return sb.get("/apis/apps/v1/namespaces/default/deployments/license-api")


def test_it_releases_to_a_gke_named_cluster_with_an_artifact_registry_digest(
        gke_service, gke_worker, settle, secured) -> None:
    issued = secured.control("auth")["issued"]
    release = services.request_release(service=gke_service, commit=SHA["good"], actor=None,
                                       via="cli", reason="gke")
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.SUCCEEDED, release.failure_summary
    assert release.image.startswith(f"{AR}@sha256:")
    container = deployment(secured)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == release.image
    assert secured.control("auth")["issued"] > issued  # google-auth's grant at the sandbox


def test_a_digest_missing_from_the_registry_fails_before_the_deployment_changes(
        gke_service, gke_worker, settle, secured) -> None:
    first = services.request_release(service=gke_service, commit=SHA["good"], actor=None,
                                     via="cli")
    first = settle(first, [states.SUCCEEDED], timeout=90)
    secured.control("images", {"image": first.image}, method="DELETE")  # a cleanup policy ran
    generation = deployment(secured)["metadata"]["generation"]
    again = services.request_release(service=gke_service, commit=SHA["good"], actor=None,
                                     via="cli")  # reuses the first build's digest
    again = settle(again, states.TERMINAL, timeout=60)
    assert again.state == states.FAILED
    reason = again.failure_summary["reason"]
    assert "not in Artifact Registry" in reason and first.image in reason
    assert again.patched_at is None
    assert deployment(secured)["metadata"]["generation"] == generation


def test_a_disabled_key_fails_the_release_naming_the_credential_and_api(
        gke_service, gke_worker, settle, secured) -> None:
    secured.control("auth", {"disabled": True})
    try:
        release = services.request_release(service=gke_service, commit=SHA["good2"], actor=None,
                                           via="cli")
        release = settle(release, states.TERMINAL, timeout=60)
    finally:
        secured.control("auth", {"disabled": False})
    assert release.state == states.FAILED
    reason = release.failure_summary["reason"]
    assert "Google credentials" in reason and "Cloud Build" in reason, reason
    assert "deploy-dashboard@sandbox.iam.gserviceaccount.com" in reason, reason
    assert "Traceback" not in reason


def test_tokens_revoked_mid_release_are_replaced_and_the_release_goes_on(
        gke_service, gke_worker, settle, secured) -> None:
    release = services.request_release(service=gke_service, commit=SHA["good2"], actor=None,
                                       via="cli")
    settle(release, lambda r: r.state in (states.DEPLOYING, states.VERIFYING) or
           r.state in states.TERMINAL, timeout=60)
    issued = secured.control("auth", {"revoke": True})["issued"]  # the worker's are refused now
    release = settle(release, states.TERMINAL, timeout=90)
    assert release.state == states.SUCCEEDED, release.failure_summary
    assert secured.control("auth")["issued"] > issued  # it got a new token and went on
