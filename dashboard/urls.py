from django.urls import include, path

from dashboard import health
from dashboard.api.metrics import metrics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("dashboard.api.urls")),
    path("chatops/slack/", include("dashboard.api.slack_urls")),
]
