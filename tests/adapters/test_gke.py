"""GKE clusters by name against a sandbox with `--auth required`: the Container API gives
endpoint and CA, the ApiClient's token is refreshed before each request (so a long-lived
client, like the watcher's informers, never sends an expired one), and bad names, key files
and image repositories are refused when saved, naming the field."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from kubernetes import client, watch

from dashboard.adapters import gke, google
from dashboard.adapters.errors import AdapterError
from dashboard.adapters.google import credentials, read_service_account
from dashboard.adapters.registry import RegistryAdapter
from tests.plugins.sandbox import Sandbox, start_sandbox, stop_sandbox

GKE = "projects/sandbox/locations/us-central1/clusters/sandbox"


@pytest.fixture(scope="module")
def secured() -> Iterator[Sandbox]:
    sb = start_sandbox(20, "--auth", "required")
    try:
        yield sb
    finally:
        stop_sandbox(sb)


@pytest.fixture
def google_env(secured: Sandbox, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    key = str(secured.kubeconfig.parent / "service-account.json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", key)
    settings.CONTAINER_ENDPOINT = secured.cloudbuild_url
    settings.ARTIFACT_REGISTRY_ENDPOINT = secured.cloudbuild_url
    gke.forget(GKE)
    monkeypatch.setattr(google, "_cache", {})  # no token left from another test
    return key


def test_a_long_lived_client_refreshes_its_token_before_each_request(secured, google_env) -> None:
    secured.control("auth", {"token_lifetime": 2})
    try:
        api = gke.api_client(GKE)
        assert api.configuration.host.startswith("https://")
        core = client.CoreV1Api(api)
        assert core.list_namespaced_pod("default").items
        issued = secured.control("auth")["issued"]
        time.sleep(2.5)  # the first token has expired now
        assert core.list_namespaced_pod("default").items
        # A watch started later by the same client (an informer's re-watch) is accepted too.
        events = list(watch.Watch().stream(core.list_namespaced_pod, "default", timeout_seconds=1))
        assert events
        assert secured.control("auth")["issued"] > issued
    finally:
        secured.control("auth", {"token_lifetime": 900})
        gke.forget(GKE)


def test_a_revoked_token_is_replaced_and_the_request_sent_again(secured, google_env) -> None:
    api = gke.api_client(GKE)
    core = client.CoreV1Api(api)
    assert core.list_namespaced_pod("default").items
    issued = secured.control("auth")["issued"]
    secured.control("auth", {"revoke": True})  # every token issued so far is refused now
    assert core.list_namespaced_pod("default").items  # 401, new token, sent again
    events = list(watch.Watch().stream(core.list_namespaced_pod, "default", timeout_seconds=1))
    assert events
    assert secured.control("auth")["issued"] == issued + 1
    gke.forget(GKE)


def test_a_revoked_key_is_named_with_the_api_that_refused_it(secured, google_env) -> None:
    secured.control("auth", {"disabled": True})
    try:
        with pytest.raises(AdapterError) as refused:
            gke.describe(GKE, credentials(google_env))
    finally:
        secured.control("auth", {"disabled": False})
    message = str(refused.value)
    assert "Container API" in message and "deploy-dashboard@sandbox.iam.gserviceaccount.com" in message
    assert not refused.value.retryable


def test_an_unknown_cluster_is_a_clear_error(secured, google_env) -> None:
    with pytest.raises(AdapterError, match="404"):
        gke.describe("projects/sandbox/locations/us-central1/clusters/nope", credentials(google_env))
    with pytest.raises(AdapterError, match="not a GKE cluster name"):
        gke.describe("sandbox", credentials(google_env))


def test_the_registry_check_passes_a_pushed_digest_and_skips_gcr_names(secured, google_env) -> None:
    pushed = secured.control("images", {"image": "us-docker.pkg.dev/sandbox/apps/license-api:x",
                                        "commit": "cd" * 20})
    registry = RegistryAdapter(secured.cloudbuild_url)
    image = f"us-docker.pkg.dev/sandbox/apps/license-api@{pushed['digest']}"
    assert registry.require_digest(image) == image
    assert registry.require_digest(f"gcr.io/sandbox/license-api@{pushed['digest']}") is None
    assert registry.require_digest("us-docker.pkg.dev/sandbox/apps/license-api:x") is None
    with pytest.raises(AdapterError, match="not in Artifact Registry") as missing:
        registry.require_digest(f"us-docker.pkg.dev/sandbox/apps/license-api@sha256:{'1' * 64}")
    assert not missing.value.retryable


@pytest.mark.django_db
def test_bad_cluster_names_key_files_and_image_repositories_are_refused_naming_the_field(
        tmp_path, secured) -> None:
    from dashboard.models import Cluster, Service

    with pytest.raises(ValidationError) as bad_name:
        Cluster(name="c1", gke_name="my-cluster").full_clean()
    assert "gke_name" in bad_name.value.message_dict
    user_key = tmp_path / "user.json"
    user_key.write_text(json.dumps({"type": "authorized_user", "refresh_token": "x"}))
    with pytest.raises(ValidationError) as bad_key:
        Cluster(name="c2", gke_name=GKE, credentials_file=str(user_key)).full_clean()
    assert "credentials_file" in bad_key.value.message_dict
    assert "refresh_token" not in str(bad_key.value)
    with pytest.raises(ValidationError) as both:
        Cluster(name="c3", gke_name=GKE, kubeconfig_path="/x").full_clean()
    assert "gke_name" in both.value.message_dict
    good = Cluster(name="c4", gke_name=GKE,
                   credentials_file=str(secured.kubeconfig.parent / "service-account.json"))
    good.full_clean()
    good.save()
    with pytest.raises(ValueError, match="not a service-account key"):
        read_service_account(str(user_key))

    def repo_errors(value: str) -> dict[str, Any]:
        svc = Service(name="s", cluster=good, deployment="d", container="c",
                      image_repository=value, gcp_project="sandbox")
        try:
            svc.full_clean()
        except ValidationError as exc:
            return exc.message_dict
        return {}

    assert repo_errors("us-docker.pkg.dev/sandbox/apps/license-api") == {}
    assert repo_errors("europe-west1-docker.pkg.dev/my-proj/team/a/b") == {}
    assert repo_errors("gcr.io/sandbox/license-api") == {}
    for bad in ("docker.io/library/nginx", "us-docker.pkg.dev/sandbox/license-api",
                "us-docker.pkg.dev/sandbox/apps/license-api:latest", "gcr.io/x"):
        assert "image_repository" in repo_errors(bad), bad


@pytest.mark.django_db
def test_the_admin_shows_whether_each_cluster_is_reachable_and_as_whom(
        secured, google_env, admin_client) -> None:
    from dashboard.models import Cluster

    Cluster.objects.create(name="gke-ok", gke_name=GKE)
    Cluster.objects.create(name="gke-gone",
                           gke_name="projects/sandbox/locations/us-central1/clusters/gone")
    page = admin_client.get("/admin/dashboard/cluster/").content.decode()
    assert "Google: deploy-dashboard@sandbox.iam.gserviceaccount.com" in page
    assert 'field-reachable">yes<' in page and 'field-reachable">no: Container API get' in page
