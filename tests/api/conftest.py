"""Fixtures for the chatops API: services on a cluster, users with dashboard permissions,
token factories and a client that sends `Authorization: Bearer`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from dashboard import states
from dashboard.api.models import ApiToken
from dashboard.models import Cluster, Release, Service
from tests.api.receiver import receiver  # noqa: F401  (fixture)
from tests.api.workers import sandbox_worker  # noqa: F401  (fixture)

ALL_PERMS = ["view_service", "deploy_service", "rollback_service", "lock_service",
             "force_lock", "pause_service"]
SHA = "c0ffee" + "1" * 34


def make_service(name: str, kubeconfig: str = "/nonexistent/kubeconfig") -> Service:
    cluster, _ = Cluster.objects.get_or_create(
        name="sandbox", defaults={"kubeconfig_path": kubeconfig, "context": "sandbox"})
    return Service.objects.create(
        name=name, cluster=cluster, namespace="default", deployment=name, container=name,
        image_repository=f"gcr.io/sandbox/{name}", gcp_project="sandbox",
        build_trigger_id=name, health_service=name)


def make_user(username: str, perms: list[str] | None = None, **extra: Any) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", **extra)
    if perms:
        user.user_permissions.set(Permission.objects.filter(
            content_type__app_label="dashboard", codename__in=perms))
    return User.objects.get(pk=user.pk)  # fresh permission cache


class Api:
    """A test client speaking JSON with a bearer token."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path: str, body: Any = None, key: str | None = None, **headers: str) -> Any:
        h = self._headers(headers)
        if key:
            h["Idempotency-Key"] = key
        return self.client.post(path, json.dumps({} if body is None else body),
                                content_type="application/json", headers=h)


@pytest.fixture
def service(db: None) -> Service:
    return make_service("license-api")


@pytest.fixture
def other_service(db: None) -> Service:
    return make_service("billing")


@pytest.fixture
def deployer(db: None) -> User:
    return make_user("deployer", ALL_PERMS)


@pytest.fixture
def token_for(deployer: User) -> Callable[..., str]:
    def make(scopes: str = "read", services: list[str] | None = None, user: User | None = None,
             **fields: Any) -> str:
        n = ApiToken.objects.count()
        _, raw = ApiToken.issue(name=f"t{n}-{scopes}", scopes=scopes.split(","),
                                services=services or [], user=user or deployer, **fields)
        return raw

    return make


@pytest.fixture
def api_for(token_for: Callable[..., str]) -> Callable[..., Api]:
    def make(scopes: str = "read", **kw: Any) -> Api:
        return Api(token_for(scopes, **kw))

    return make


def succeeded_release(service: Service, commit: str, image: str = "") -> Release:
    """A finished release row (history for rollbacks and summaries)."""
    return Release.objects.create(
        service=service, commit_sha=commit, state=states.SUCCEEDED, via="api",
        image=image or f"{service.image_repository}@sha256:{commit[:8] * 8}")
