"""The sandbox as a Google identity (`--auth required`) and its guard against the browser.

The official clients (google-auth, google-cloud-build, -container, -artifact-registry,
kubernetes) authenticate with the service-account key the sandbox generates; missing,
expired, revoked, foreign or under-scoped tokens are refused; a Host that is not a loopback
name and a control write without the control token are refused.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
from collections.abc import Iterator

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.transport.requests import Request
from google.cloud import artifactregistry_v1, container_v1
from google.cloud.devtools import cloudbuild_v1 as cb
from google.oauth2 import service_account
from kubernetes import client as kclient

from tests.plugins.sandbox import Sandbox, start_sandbox, stop_sandbox

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
CLUSTER = "projects/sandbox/locations/us-central1/clusters/sandbox"


@pytest.fixture(scope="module")
def secured() -> Iterator[Sandbox]:
    sb = start_sandbox(20, "--auth", "required")
    try:
        yield sb
    finally:
        stop_sandbox(sb)


@pytest.fixture
def key(secured: Sandbox) -> dict:
    return json.loads((secured.kubeconfig.parent / "service-account.json").read_text())


def creds_for(info: dict, scopes: list[str] | None = None) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_info(info, scopes=scopes or [SCOPE])


def options(sb: Sandbox) -> ClientOptions:
    return ClientOptions(api_endpoint=sb.cloudbuild_url)


def access_token(sb: Sandbox, info: dict, scopes: list[str] | None = None) -> str:
    creds = creds_for(info, scopes)
    creds.refresh(Request())  # the JWT-bearer grant at the key's token_uri
    return str(creds.token)


def test_it_writes_a_service_account_key_whose_token_uri_is_the_sandbox(secured, key) -> None:
    assert key["type"] == "service_account"
    assert key["token_uri"] == f"{secured.cloudbuild_url}/token"
    assert key["client_email"].endswith("@sandbox.iam.gserviceaccount.com")
    assert (secured.kubeconfig.parent / "service-account.json").stat().st_mode & 0o077 == 0


def test_it_refuses_anonymous_google_and_kubernetes_calls(secured) -> None:
    anon = requests.get(f"{secured.cloudbuild_url}/v1/projects/sandbox/builds", timeout=10)
    assert anon.status_code == 401
    assert anon.json()["error"]["status"] == "UNAUTHENTICATED"
    for path in (f"/v1/{CLUSTER}", "/storage/v1/b/sandbox_cloudbuild/o"):
        assert requests.get(f"{secured.cloudbuild_url}{path}", timeout=10).status_code == 401
    kube = requests.get(f"{secured.kube_url}/api/v1/namespaces/default/pods", timeout=10)
    assert kube.status_code == 401 and kube.json()["reason"] == "Unauthorized"
    # The kubeconfig's own token still works (kubectl), as /version does for anyone.
    assert secured.get("/api/v1/namespaces/default/pods")["items"]
    assert requests.get(f"{secured.kube_url}/version", timeout=10).status_code == 200


def test_the_official_clients_authenticate_with_the_generated_key(secured, key) -> None:
    creds = creds_for(key)
    builds = cb.CloudBuildClient(transport="rest", credentials=creds, client_options=options(secured))
    assert isinstance(list(builds.list_builds(project_id="sandbox")), list)
    clusters = container_v1.ClusterManagerClient(transport="rest", credentials=creds,
                                                 client_options=options(secured))
    found = clusters.get_cluster(name=CLUSTER)
    assert found.status == container_v1.Cluster.Status.RUNNING
    with pytest.raises(gexc.NotFound):
        clusters.get_cluster(name="projects/sandbox/locations/us-central1/clusters/other")

    # Kubernetes over the reported HTTPS endpoint, trusting only the reported CA, with the
    # access token the token endpoint issued.
    token = access_token(secured, key)
    assert token.startswith("ya29.")
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as ca:
        ca.write(base64.b64decode(found.master_auth.cluster_ca_certificate))
        ca.flush()
        cfg = kclient.Configuration()
        cfg.host = f"https://{found.endpoint}"
        cfg.ssl_ca_cert = ca.name
        cfg.api_key = {"BearerToken": token}
        cfg.api_key_prefix = {"BearerToken": "Bearer"}
        with kclient.ApiClient(cfg) as api:
            names = {d.metadata.name for d in
                     kclient.AppsV1Api(api).list_namespaced_deployment("default").items}
    assert "license-api" in names


def test_it_refuses_expired_revoked_foreign_and_underscoped_tokens(secured, key) -> None:
    url = f"{secured.cloudbuild_url}/v1/projects/sandbox/builds"

    def status(token: str) -> int:
        return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

    good = access_token(secured, key)
    assert status(good) == 200
    assert status(good[:-2] + ("AA" if not good.endswith("AA") else "BB")) == 401

    narrow = access_token(secured, key, ["https://www.googleapis.com/auth/devstorage.read_only"])
    assert status(narrow) == 403

    stranger = dict(key)
    stranger["private_key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048) \
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                       serialization.NoEncryption()).decode()
    with pytest.raises(Exception, match="invalid_grant"):
        access_token(secured, stranger)

    secured.control("auth", {"token_lifetime": 1})
    try:
        short = access_token(secured, key)
        assert status(short) == 200
        time.sleep(1.2)
        assert status(short) == 401
    finally:
        secured.control("auth", {"token_lifetime": 900})

    secured.control("auth", {"revoke": True})
    assert status(good) == 401
    assert status(access_token(secured, key)) == 200


def test_artifact_registry_knows_pushed_digests_only(secured, key) -> None:
    pushed = secured.control("images", {"image": "us-docker.pkg.dev/sandbox/apps/license-api:t1",
                                        "commit": "ab" * 20})
    registry = artifactregistry_v1.ArtifactRegistryClient(
        transport="rest", credentials=creds_for(key), client_options=options(secured))
    base = "projects/sandbox/locations/us/repositories/apps"
    image = registry.get_docker_image(name=f"{base}/dockerImages/license-api@{pushed['digest']}")
    assert image.uri == f"us-docker.pkg.dev/sandbox/apps/license-api@{pushed['digest']}"
    assert "t1" in image.tags
    with pytest.raises(gexc.NotFound):
        registry.get_docker_image(name=f"{base}/dockerImages/license-api@sha256:{'0' * 64}")


def test_it_refuses_a_foreign_host_on_every_port(sandbox) -> None:
    for url in (f"{sandbox.kube_url}/version", f"{sandbox.cloudbuild_url}/v1/projects/sandbox/builds"):
        refused = requests.get(url, headers={"Host": "attacker.example"}, timeout=10)
        assert refused.status_code == 403, url
        port = url.split(":")[2].split("/")[0]
        assert requests.get(url, headers={"Host": f"localhost:{port}"}, timeout=10).ok


def test_control_writes_need_the_control_token(sandbox) -> None:
    url = f"{sandbox.kube_url}/sandbox/v1/reset"
    assert requests.post(url, timeout=10).status_code == 401
    assert requests.post(url, headers={"X-Sandbox-Token": "guess"}, timeout=10).status_code == 403
    chaos = f"{sandbox.kube_url}/sandbox/v1/chaos"
    assert requests.post(chaos, json={"api": "kube", "error_rate": 1}, timeout=10).status_code == 401
    assert requests.get(chaos, timeout=10).json()["kube"]["error_rate"] == 0  # reads stay open
    token_file = sandbox.kubeconfig.parent / "control-token"
    assert token_file.stat().st_mode & 0o077 == 0
    assert sandbox.control("chaos", {"api": "kube", "latency_ms": 0})["kube"]["latency_ms"] == 0


def test_the_key_survives_a_restart_and_follows_the_token_endpoint(tmp_path) -> None:
    from sandbox.identity import load_or_create_key

    path = tmp_path / "service-account.json"
    first = load_or_create_key(path, "http://127.0.0.1:8090/token")
    again = load_or_create_key(path, "http://127.0.0.1:8090/token")
    assert again == first  # a dashboard that loaded it keeps working
    moved = load_or_create_key(path, "http://sandbox:9000/token")
    assert moved["private_key"] == first["private_key"]
    assert json.loads(path.read_text())["token_uri"] == "http://sandbox:9000/token"
    path.write_text("not json")
    fresh = load_or_create_key(path, "http://127.0.0.1:8090/token")
    assert fresh["type"] == "service_account" and fresh["private_key"] != first["private_key"]
    assert path.stat().st_mode & 0o077 == 0
