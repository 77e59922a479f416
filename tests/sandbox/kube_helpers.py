"""Helpers for the Kubernetes sandbox tests: polling, and Deployments of pushed images."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client

T = TypeVar("T")
NS = "default"


def wait_for(check: Callable[[], T | None], timeout: float = 20.0, every: float = 0.05,
             what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def push(sandbox: Any, commit: str, repo: str = "gcr.io/sandbox/license-api") -> str:
    """Put an image built from `commit` into the shared registry; returns its reference."""
    tag = f"{commit[:8]}-{uuid.uuid4().hex[:6]}"
    sandbox.control("images", {"image": f"{repo}:{tag}", "commit": commit})
    return f"{repo}:{tag}"


def deployment_body(name: str, image: str, replicas: int = 3, *, max_surge: Any = 1,
                    max_unavailable: Any = 0, deadline: int = 60, min_ready: int = 0,
                    initial_delay: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": deadline,
            "minReadySeconds": min_ready,
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": max_surge, "maxUnavailable": max_unavailable}},
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{
                        "name": "app", "image": image,
                        "ports": [{"containerPort": 8000, "name": "http"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "readinessProbe": {"httpGet": {"path": "/health/ready", "port": 8000},
                                           "initialDelaySeconds": initial_delay,
                                           "periodSeconds": 2},
                    }],
                },
            },
        },
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_ready(api_client: Any, sandbox: Any, name: str, replicas: int = 3,
                 **kw: Any) -> client.V1Deployment:
    image = push(sandbox, "0" * 40)
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(NS, deployment_body(name, image, replicas, **kw))
    return wait_for(lambda: ready(apps, name, replicas), what=f"{name} ready")


def ready(apps: client.AppsV1Api, name: str, replicas: int) -> client.V1Deployment | None:
    d = apps.read_namespaced_deployment(name, NS)
    st = d.status
    done = (st.updated_replicas == replicas and st.available_replicas == replicas
            and st.replicas == replicas
            and (st.observed_generation or 0) >= d.metadata.generation)
    return d if done else None


def condition(d: client.V1Deployment, kind: str) -> Any:
    return next((c for c in d.status.conditions or [] if c.type == kind), None)
