"""The demo Service `make run` deploys: the license API on the sandbox cluster."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from dashboard.models import Cluster, Service


@transaction.atomic
def seed_demo_service() -> Service:
    """Get or create Cluster "sandbox" and Service "license-api" (idempotent)."""
    cluster, created = Cluster.objects.get_or_create(
        name="sandbox",
        defaults={"kubeconfig_path": str(settings.KUBECONFIG), "context": "sandbox"},
    )
    if not created and cluster.kubeconfig_path != str(settings.KUBECONFIG):
        # `make run` may point KUBECONFIG elsewhere than last time; follow it.
        cluster.kubeconfig_path = str(settings.KUBECONFIG)
        cluster.save(update_fields=["kubeconfig_path"])
    service, _ = Service.objects.get_or_create(
        name="license-api",
        defaults={
            "cluster": cluster,
            "namespace": "default",
            "deployment": "license-api",
            "container": "license-api",
            "image_repository": "gcr.io/sandbox/license-api",
            "gcp_project": "sandbox",
            "build_trigger_id": "license-api",
            # This checkout is the license API's repository: `deploy license-api main`
            # deploys the commit main points at here.
            "git_repo": str(settings.BASE_DIR) if (settings.BASE_DIR / ".git").exists() else "",
            "health_service": "license-api",
            "health_port": 80,
            "health_path": "/health/ready",
            "rollout_timeout_seconds": 300,
            "auto_rollback": True,
        },
    )
    return service
