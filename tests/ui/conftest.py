"""Fixtures for the admin UI tests: a Service, users with different permissions, releases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from dashboard.models import Cluster, Release, ReleaseEvent, Service

PASSWORD = "pw-for-tests-0"


@pytest.fixture
def cluster(db: None) -> Cluster:
    return Cluster.objects.create(name="test", kubeconfig_path="/nonexistent", context="test")


def make_service(cluster: Cluster, name: str = "license-api", **kw: Any) -> Service:
    defaults = {
        "cluster": cluster, "namespace": "default", "deployment": name, "container": name,
        "image_repository": f"gcr.io/sandbox/{name}", "gcp_project": "sandbox",
        "build_trigger_id": name, "health_service": name,
    }
    return Service.objects.create(name=name, **{**defaults, **kw})


@pytest.fixture
def service(cluster: Cluster) -> Service:
    return make_service(cluster)


def make_user(username: str, *perms: str, superuser: bool = False) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True,
                                    is_superuser=superuser)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename,
                                                         content_type__app_label="dashboard"))
    return user


@pytest.fixture
def admin_user(db: None) -> User:
    return make_user("root", superuser=True)


@pytest.fixture
def viewer(db: None) -> User:
    return make_user("viewer", "view_service", "view_release")


@pytest.fixture
def deployer(db: None) -> User:
    return make_user("deployer", "view_service", "view_release", "deploy_service")


@pytest.fixture
def admin_client(client: Any, admin_user: User) -> Any:
    client.force_login(admin_user)
    return client


def make_release(service: Service, *, state: str = "succeeded", kind: str = "deploy",
                 commit: str = "a" * 40, user: User | None = None, via: str = "admin",
                 started: Any = None, minutes: float = 3.0, failed_after: float | None = None,
                 **kw: Any) -> Release:
    started = started or timezone.now() - timedelta(hours=1)
    finished = started + timedelta(minutes=minutes) if state in (
        "succeeded", "failed", "rolled_back", "cancelled", "superseded") else None
    digest = "sha256:" + (commit * 2)[:64]
    release = Release.objects.create(
        service=service, kind=kind, commit_sha=commit, state=state, via=via, requested_by=user,
        image=f"{service.image_repository}@{digest}", image_digest=digest,
        created_at=started, started_at=started, finished_at=finished, **kw,
    )
    if failed_after is not None:
        ReleaseEvent.objects.create(release=release, seq=1, kind="state", state="failed",
                                    at=started + timedelta(minutes=failed_after),
                                    message="deploying -> failed")
    return release
