"""The OpenAPI schema (/api/v1/schema/) and a plain server-rendered docs page built from it
(no CDN, no JavaScript)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from dashboard.api.routes import schema_patterns

METHODS = ("get", "post", "put", "patch", "delete")


class SchemaView(SpectacularAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []


def index(request: HttpRequest) -> HttpResponse:
    """GET /api/v1/: where things are (no authentication needed to find the docs)."""
    names = ["release-list", "service-list", "audit-list", "audit-export", "metrics-dora",
             "schema", "docs"]
    return JsonResponse({n.replace("-", "_"): reverse(f"dashboard_api:{n}") for n in names})


def docs_page(request: HttpRequest) -> HttpResponse:
    schema = SchemaGenerator(patterns=schema_patterns).get_schema(request=None, public=True)
    operations = []
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [p for p in op.get("parameters", []) if p.get("in") in ("query", "header")]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            operations.append({
                "method": method.upper(), "path": path,
                "summary": op.get("summary") or op.get("description", "").split("\n")[0],
                "params": params, "body": ref.rsplit("/", 1)[-1],
                "responses": sorted(op.get("responses", {})),
            })
    return render(request, "dashboard_api/docs.html", {
        "info": schema.get("info", {}), "operations": operations,
        "components": schema.get("components", {}).get("schemas", {}),
    })
