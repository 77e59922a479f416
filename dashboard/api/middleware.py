"""Problem details for every error under /api/v1/, also the ones Django answers itself.

DRF's views answer their errors as application/problem+json (dashboard.api.errors). Some
answers never reach a DRF view: a path that matches no route (404), an exception that nothing
handled (500), a refused Host header (400), a CSRF failure (403). Django renders those as
HTML pages, which a generated client cannot parse. This middleware replaces such a body with
a problem document of the same status; the exception has been logged by then.

It does no I/O and runs natively in both of Django's modes (a sync-only middleware would cost
every ASGI request two thread switches, see config.middleware).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from dashboard.api.errors import PROBLEM_CONTENT_TYPE

API_PREFIX = "/api/v1/"
JSON_TYPES = (PROBLEM_CONTENT_TYPE, "application/json")
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def _detail(request: HttpRequest, status: int) -> str:
    if status == 404:
        return f"No API operation at {request.path}; GET /api/v1/schema/ lists them all."
    if status == 405:
        return f"{request.method} is not allowed on {request.path}."
    if status >= 500:
        return "The server failed to answer this request; it has been logged."
    return HTTPStatus(status).description or HTTPStatus(status).phrase


def as_problem(request: HttpRequest, response: Any) -> Any:
    """`response`, or a problem document with its status if it is an error under /api/v1/
    whose body is not JSON."""
    status = response.status_code
    if status < 400 or not request.path.startswith(API_PREFIX):
        return response
    if str(response.get("Content-Type", "")).startswith(JSON_TYPES):
        return response
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    body = {"type": f"urn:deploy-dashboard:problem:{code}", "title": phrase, "status": status,
            "detail": _detail(request, status), "code": code}
    problem = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name in KEPT_HEADERS:
        if name in response:
            problem[name] = response[name]
    return problem


class ProblemDetailsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        return as_problem(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> Any:
        return as_problem(request, await self.get_response(request))
