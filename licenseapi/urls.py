"""The complete root URLconf of the licenseapi role (config/urls.py uses it when
APP_ROLE=licenseapi): health probes, the REST API, its schema and the Stripe webhook.

No admin here: this role faces customers' machines and the internet; licenses are managed in
the shared Django admin of the dashboard role (or through the staff endpoints)."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from licenseapi import conf, health
from licenseapi.api import staff, views, webhooks

LICENSE_ID = "<uuid:license_id>"

api = [
    path("validate/", views.ValidateView.as_view(), name="license-validate"),
    path("activate/", views.ActivateView.as_view(), name="license-activate"),
    path("deactivate/", views.DeactivateView.as_view(), name="license-deactivate"),
    path("heartbeat/", views.HeartbeatView.as_view(), name="license-heartbeat"),
    path("certificate/", views.CertificateView.as_view(), name="license-certificate"),
    path("public-key/", views.PublicKeyView.as_view(), name="license-public-key"),
    path("stripe/webhook/", webhooks.StripeWebhookView.as_view(), name="license-stripe-webhook"),
    path(
        "schema/",
        SpectacularAPIView.as_view(
            urlconf="licenseapi.urls", permission_classes=[AllowAny], authentication_classes=[]
        ),
        name="license-schema",
    ),
    path("", staff.LicenseListCreateView.as_view(), name="license-list"),
    path(f"{LICENSE_ID}/", staff.LicenseDetailView.as_view(), name="license-detail"),
    path(
        f"{LICENSE_ID}/certificate/",
        staff.StaffCertificateView.as_view(),
        name="license-staff-certificate",
    ),
    path(
        f"{LICENSE_ID}/suspend/",
        staff.LicenseActionView.as_view(action_name="suspend"),
        name="license-suspend",
    ),
    path(
        f"{LICENSE_ID}/reinstate/",
        staff.LicenseActionView.as_view(action_name="reinstate"),
        name="license-reinstate",
    ),
    path(
        f"{LICENSE_ID}/revoke/",
        staff.LicenseActionView.as_view(action_name="revoke"),
        name="license-revoke",
    ),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("health/live/", health.live),
    path("health/ready/", health.ready),
    path("api/v1/licenses/", include(api)),
]


@csrf_exempt
def _bench_bare(request: HttpRequest) -> JsonResponse:
    """Benchmark baseline only: parse a JSON body and answer JSON, nothing else."""
    body = json.loads(request.body or b"{}")
    return JsonResponse({"valid": True, "fields": len(body)})


if conf.bench_bare_view():
    urlpatterns.append(path("bench/bare/", _bench_bare))

handler400 = "licenseapi.api.errors.bad_request"
handler404 = "licenseapi.api.errors.not_found"
handler500 = "licenseapi.api.errors.server_error"
