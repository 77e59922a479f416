"""Views for test_asgi_http: which thread ran a request's sync code."""

import threading
import time

from django.http import HttpRequest, JsonResponse
from django.urls import path

meeting = threading.Barrier(2, timeout=5)


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"thread": threading.get_ident()})


def meet(request: HttpRequest) -> JsonResponse:
    """Returns only when a second request is in here at the same time (on another thread)."""
    meeting.wait()
    return JsonResponse({"thread": threading.get_ident()})


slow_finished = threading.Event()


def slow(request: HttpRequest) -> JsonResponse:
    time.sleep(0.5)
    slow_finished.set()
    return JsonResponse({"thread": threading.get_ident()})


urlpatterns = [path("whoami", whoami), path("meet", meet), path("slow", slow)]
