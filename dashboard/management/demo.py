"""The demo Service `make run` deploys: the license API on the sandbox cluster.

When a Container API endpoint is configured (`make run`: the sandbox serves it), the demo
Cluster is defined by its GKE name, so the demo runs the production path: endpoint and CA
from the Container API, Google access tokens, images in Artifact Registry checked by digest.
Without one, it falls back to the sandbox's kubeconfig.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from dashboard.models import Cluster, Service

GKE_NAME = "projects/sandbox/locations/us-central1/clusters/sandbox"
IMAGE_REPOSITORY = "us-docker.pkg.dev/sandbox/apps/license-api"
OLD_IMAGE_REPOSITORY = "gcr.io/sandbox/license-api"  # what earlier demo databases hold


def _cluster_fields() -> dict[str, Any]:
    if getattr(settings, "CONTAINER_ENDPOINT", None):
        return {"gke_name": GKE_NAME, "kubeconfig_path": "", "context": "", "in_cluster": False}
    return {"gke_name": "", "kubeconfig_path": str(settings.KUBECONFIG), "context": "sandbox",
            "in_cluster": False}


# The license API's schema changes run before its new pods start (the pre-deploy Job).
MIGRATE = ["python", "manage.py", "migrate", "--noinput"]
# One new pod first, baked 20 s, then the rest (with environments: production's setting).
STEPS, BAKE_SECONDS = [1], 20


@transaction.atomic
def seed_demo_service() -> Service:
    """Get or create Cluster "sandbox" and Service "license-api" (idempotent)."""
    fields = _cluster_fields()
    cluster, created = Cluster.objects.get_or_create(name="sandbox", defaults=fields)
    changed = [k for k, v in fields.items() if getattr(cluster, k) != v]
    if not created and changed:
        # `make run` may point KUBECONFIG elsewhere than last time, or now name the cluster
        # by GKE name; follow it.
        for key in changed:
            setattr(cluster, key, fields[key])
        cluster.save(update_fields=changed)
    service, created = Service.objects.get_or_create(
        name="license-api",
        defaults={
            "cluster": cluster,
            "namespace": "default",
            "deployment": "license-api",
            "container": "license-api",
            "image_repository": IMAGE_REPOSITORY,
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
            "pre_deploy_command": MIGRATE,
            "rollout_steps": STEPS,
            "bake_seconds": BAKE_SECONDS,
        },
    )
    if service.image_repository == OLD_IMAGE_REPOSITORY:
        service.image_repository = IMAGE_REPOSITORY
        service.save(update_fields=["image_repository"])
    if not created and not service.pre_deploy_command and not service.rollout_steps:
        # A database seeded before pre-deploy Jobs and steps existed: the demo shows both.
        service.pre_deploy_command, service.rollout_steps = MIGRATE, STEPS
        service.bake_seconds = BAKE_SECONDS
        service.save(update_fields=["pre_deploy_command", "rollout_steps", "bake_seconds"])
    return service
