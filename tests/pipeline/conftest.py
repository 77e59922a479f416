"""Pipeline tests run against the real sandbox (Kubernetes + Cloud Build), Redis and a real
Celery worker subprocess. Helpers here wait on the database (the truth), acting as the beat
scheduler by running the reconciler while they wait."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.plugins.worker import Worker, start_celery_worker

PROGRESS_DEADLINE = 6  # seconds; the manifest's 120 s is patched down for fa11... tests


def worker_extra_env(sandbox: Any) -> dict[str, str]:
    return {"CLOUDBUILD_ENDPOINT": sandbox.cloudbuild_url, "KUBECONFIG": str(sandbox.kubeconfig)}


@pytest.fixture
def service(fresh_sandbox: Any, transactional_db: None) -> Any:
    from dashboard.models import Cluster, Service

    cluster = Cluster.objects.create(name="sandbox", kubeconfig_path=str(fresh_sandbox.kubeconfig),
                                     context="sandbox")
    return Service.objects.create(
        name="license-api", cluster=cluster, namespace="default", deployment="license-api",
        container="license-api", image_repository="gcr.io/sandbox/license-api",
        gcp_project="sandbox", build_trigger_id="license-api", health_service="license-api",
        health_port=80, health_path="/health/ready", rollout_timeout_seconds=60,
        verify_successes=3, verify_window_seconds=20,
    )


@pytest.fixture
def worker(service: Any, fresh_sandbox: Any, tmp_path: Any) -> Iterator[Worker]:
    from config.celery import app

    app.control.purge()
    w = start_celery_worker(tmp_path, "pipe", extra_env=worker_extra_env(fresh_sandbox))
    yield w
    w.kill()
    app.control.purge()


@pytest.fixture
def settle(settings: Any) -> Callable[..., Any]:
    """wait_until(release, predicate|states, timeout): poll the DB, reconciling like beat."""
    from django.conf import settings as dj

    dj.RELEASE_STALE_SECONDS = 4
    return wait_until


def wait_until(release: Any, until: Any, timeout: float = 60, reconcile: bool = True) -> Any:
    from datetime import timedelta

    from dashboard.releases import driver as pipeline

    check = until if callable(until) else (lambda r: r.state in set(until))
    deadline = time.monotonic() + timeout
    last_reconcile = time.monotonic()
    while time.monotonic() < deadline:
        release.refresh_from_db()
        if check(release):
            return release
        if reconcile and time.monotonic() - last_reconcile > 2:
            pipeline.reconcile(stale_after=timedelta(seconds=6))
            last_reconcile = time.monotonic()
        time.sleep(0.1)
    events = "\n".join(f"{e.seq} {e.kind} {e.state} {e.message[:200]}"
                       for e in release.events.order_by("seq"))
    raise AssertionError(f"release {release.pk} is {release.state} after {timeout} s:\n{events}")


def deployment(sandbox: Any) -> dict[str, Any]:
    return sandbox.get("/apis/apps/v1/namespaces/default/deployments/license-api")


def serving_pods(sandbox: Any) -> list[dict[str, Any]]:
    pods = sandbox.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dlicense-api")["items"]
    return [p for p in pods if any(c.get("type") == "Ready" and c.get("status") == "True"
                                   for c in (p.get("status") or {}).get("conditions") or [])
            and not p["metadata"].get("deletionTimestamp")]


def set_progress_deadline(seconds: int = PROGRESS_DEADLINE) -> None:
    """Patch the Deployment's progressDeadlineSeconds (tests cannot wait the real 120 s)."""
    from dashboard.adapters import clients
    from dashboard.models import Cluster

    kube = clients.kube(Cluster.objects.get(name="sandbox"))
    kube._patch("deadline", "default", "license-api", {"spec": {"progressDeadlineSeconds": seconds}})


SHA = {
    "good": "c0ffee" + "1" * 34,
    "good2": "c0ffee" + "2" * 34,
    "bad": "bad" + "0" * 37,
    "dead": "dead" + "3" * 36,
    "fail": "fa11" + "4" * 36,
    "slow": "5105" + "5" * 36,
}


@pytest.fixture
def plain_service(db: None) -> Any:
    """A Service on a cluster nobody talks to: for service-layer rules that stay in the DB."""
    from dashboard.models import Cluster, Service

    cluster = Cluster.objects.create(name="nowhere", kubeconfig_path="/nonexistent", context="x")
    return Service.objects.create(
        name="license-api", cluster=cluster, deployment="license-api", container="license-api",
        image_repository="gcr.io/sandbox/license-api", gcp_project="sandbox",
        build_trigger_id="license-api", health_service="license-api",
    )


@pytest.fixture
def users(db: None) -> Any:
    """alice: deployer (deploy, rollback, lock); bob: break-glass too; carol: view only."""
    from types import SimpleNamespace

    from django.contrib.auth.models import Permission, User

    def perms(*names: str) -> list[Permission]:
        return list(Permission.objects.filter(content_type__app_label="dashboard",
                                              codename__in=names))

    alice = User.objects.create_user("alice")
    alice.user_permissions.set(perms("view_service", "deploy_service", "rollback_service",
                                     "lock_service", "pause_service"))
    bob = User.objects.create_user("bob")
    bob.user_permissions.set(perms("view_service", "deploy_service", "force_lock"))
    carol = User.objects.create_user("carol")
    carol.user_permissions.set(perms("view_service"))
    return SimpleNamespace(alice=alice, bob=bob, carol=carol)
