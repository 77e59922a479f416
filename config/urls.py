"""Root URLs. APP_ROLE=licenseapi serves only the license API and its health endpoints."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

if settings.APP_ROLE == "licenseapi":
    from licenseapi.urls import urlpatterns as urlpatterns
else:
    urlpatterns = [
        path("", include("dashboard.urls")),
        path("admin/deployments/", include("dashboard.urls_ui")),
        path("admin/", admin.site.urls),
    ]
