"""Configuration changes of Services and Clusters, from the admin or anywhere else: checked
against the model permissions and the Service's group restriction, and audited.

The audit payload names the fields that changed, never their values where a value can hold a
secret (a git URL with credentials is recorded redacted; a kubeconfig path is just named).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from dashboard import audit, permissions, refs
from dashboard.errors import NotAllowed
from dashboard.models import Cluster, Service


def _name(actor: Any) -> str:
    return str(actor.get_username()) if actor is not None else "cli"


def _need(actor: Any, perm: str, what: str, service: Service | None = None) -> None:
    if actor is None:  # CLI: whoever has a shell on the deployment
        return
    if not (actor.is_active and actor.has_perm(f"dashboard.{perm}")):
        raise NotAllowed(f"{_name(actor)} may not {what}")
    if service is not None and service.pk and not permissions.can_view(actor, service):
        raise NotAllowed(f"{_name(actor)} may not {what} {service.name}")


def _service_payload(service: Service, changed: list[str]) -> dict[str, Any]:
    return {"changed": sorted(changed), "cluster": service.cluster.name if service.cluster_id
            else "", "git_repo": refs.redact(service.git_repo or "")}


def save_service(*, actor: Any, via: str, service: Service, changed: list[str],
                 save: Any = None) -> Service:
    """Create or change a Service. `save` replaces service.save() (the admin saves its form,
    relations included); it runs inside the audited transaction."""
    adding = service.pk is None
    if adding:
        _need(actor, "add_service", "add services")
    else:
        _need(actor, "change_service", "change", Service.objects.get(pk=service.pk))
    with transaction.atomic():
        (save or service.save)()
        audit.append(actor=_name(actor), via=via, service=service.name,
                     action="service.create" if adding else "service.change",
                     payload=_service_payload(service, changed))
    return service


def delete_service(*, actor: Any, via: str, service: Service) -> None:
    _need(actor, "delete_service", "delete", service)
    with transaction.atomic():
        payload = _service_payload(service, [])
        name = service.name
        service.delete()
        audit.append(actor=_name(actor), via=via, service=name, action="service.delete",
                     payload=payload)


def save_cluster(*, actor: Any, via: str, cluster: Cluster, changed: list[str]) -> Cluster:
    adding = cluster.pk is None
    _need(actor, "add_cluster" if adding else "change_cluster",
          "add clusters" if adding else "change clusters")
    with transaction.atomic():
        cluster.save()
        audit.append(actor=_name(actor), via=via,
                     action="cluster.create" if adding else "cluster.change",
                     payload={"cluster": cluster.name, "changed": sorted(changed)})
    return cluster


def delete_cluster(*, actor: Any, via: str, cluster: Cluster) -> None:
    _need(actor, "delete_cluster", "delete clusters")
    with transaction.atomic():
        name = cluster.name
        cluster.delete()
        audit.append(actor=_name(actor), via=via, action="cluster.delete",
                     payload={"cluster": name})
