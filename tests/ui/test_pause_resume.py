"""Pause and resume from the dashboard act on the real (sandbox) Deployment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.models import Cluster, Service
from tests.ui.conftest import make_service

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _paused(sandbox) -> bool:
    dep = sandbox.get("/apis/apps/v1/namespaces/default/deployments/license-api")
    return bool((dep.get("spec") or {}).get("paused"))


def test_it_pauses_and_resumes_the_deployment_after_confirmation(admin_client, fresh_sandbox):
    cluster = Cluster.objects.create(name="sb-ui", kubeconfig_path=str(fresh_sandbox.kubeconfig),
                                     context="sandbox")
    make_service(cluster, "license-api")
    pause = reverse("deployments:service-action", args=["license-api", "pause"])
    page = admin_client.get(pause).content.decode()
    assert "kubectl rollout pause" in page and "Yes, pause rollout of license-api" in page
    assert not _paused(fresh_sandbox)  # nothing happens before confirming
    response = admin_client.post(pause, {"reason": "investigating", "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert Service.objects.get(name="license-api").paused and _paused(fresh_sandbox)
    assert "rollouts paused" in admin_client.get("/admin/").content.decode()
    resume = reverse("deployments:service-action", args=["license-api", "resume"])
    assert admin_client.post(resume, {"reason": "done"}).status_code == 302
    assert not Service.objects.get(name="license-api").paused and not _paused(fresh_sandbox)


def test_it_reports_an_unreachable_cluster_with_503(admin_client, cluster):
    make_service(cluster, "license-api")
    response = admin_client.post(
        reverse("deployments:service-action", args=["license-api", "pause"]), {"reason": "x"})
    assert response.status_code == 503
    assert not Service.objects.get(name="license-api").paused
