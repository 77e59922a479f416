"""Pod logs on the Service page: the pod list for the picker, and one container's log as a
plain-text HTTP stream (`?follow=1` keeps it open like `kubectl logs -f`; `?download=1`
saves it). Any staff user who may view the Service may read its pods' logs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard import permissions, services
from dashboard.models import Service

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _service(request: HttpRequest, name: str) -> Service:
    service = Service.objects.select_related("cluster").filter(name=name).first()
    if service is None or not permissions.can_view(request.user, service):
        raise Http404("no such service")
    return service


def _flag(request: HttpRequest, name: str) -> bool:
    return request.GET.get(name, "") in ("1", "true", "on", "yes")


@staff_member_required
@require_GET
def pods(request: HttpRequest, name: str) -> JsonResponse:
    service = _service(request, name)
    try:
        found = services.service_pods(service)
    except services.ServiceError as exc:
        return JsonResponse({"error": exc.detail, "pods": []}, status=exc.code)
    return JsonResponse({"service": service.name, "container": service.container,
                         "pods": found})


async def _async_lines(lines: Iterator[str]) -> AsyncIterator[str]:
    """Each line from a worker thread as it arrives: under ASGI a plain iterator would be
    read to its end before anything is sent, which a follow never reaches."""
    def next_line() -> str | None:
        return next(lines, None)

    read = sync_to_async(next_line, thread_sensitive=False)
    while True:
        line = await read()
        if line is None:
            return
        yield line + "\n"


@staff_member_required
@require_GET
def log(request: HttpRequest, name: str) -> HttpResponse | StreamingHttpResponse:
    service = _service(request, name)
    pod, container = request.GET.get("pod", ""), request.GET.get("container", "")
    download, follow = _flag(request, "download"), _flag(request, "follow")
    try:
        lines = services.open_log(service, pod=pod, container=container,
                                  previous=_flag(request, "previous"),
                                  follow=follow and not download,
                                  tail=request.GET.get("tail", "200"))
    except services.ServiceError as exc:
        return JsonResponse(exc.as_dict(), status=exc.code)
    response = StreamingHttpResponse(_async_lines(lines), content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold a follow back
    if download:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        filename = _SAFE.sub("_", f"{pod}-{container or service.container}-{stamp}.log")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
