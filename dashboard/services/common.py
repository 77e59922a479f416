"""Checks every entry point shares: who acts (and may they), through which channel, on which
Service."""

from __future__ import annotations

from typing import Any

from dashboard import states
from dashboard.audit import actor_name
from dashboard.errors import InvalidRequest, NotAllowed
from dashboard.models import Service

__all__ = ["ACTORLESS_VIAS", "actor_name", "check_via", "get_service", "require"]

ACTORLESS_VIAS = ("cli", "system")  # shell access and the system itself act without a user


def require(check: Any, actor: Any, via: str, service: Service, what: str) -> None:
    """Raise NotAllowed unless `check(actor, service)` passes (or the channel acts without a
    user: the CLI and the system itself)."""
    if actor is None:
        if via in ACTORLESS_VIAS:
            return
        raise NotAllowed(f"{what} on {service.name} needs a signed-in user")
    if not check(actor, service):
        raise NotAllowed(f"{actor_name(actor, via)} may not {what} {service.name}")


def get_service(service: Service | str) -> Service:
    if isinstance(service, Service):
        return service
    found = Service.objects.select_related("cluster").filter(name=str(service)).first()
    if found is None:
        raise InvalidRequest("service", f"unknown service {str(service)[:63]!r}")
    return found


def check_via(via: str) -> str:
    if via not in states.VIAS:
        raise InvalidRequest("via", f"must be one of {', '.join(states.VIAS)}")
    return via
