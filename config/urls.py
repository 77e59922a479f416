"""Root URLs. APP_ROLE=licenseapi serves only the license API and its health endpoints."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

if settings.APP_ROLE == "licenseapi":
    from licenseapi.urls import handler400, handler404, handler500, urlpatterns  # noqa: F401
else:
    urlpatterns = [
        path("", include("dashboard.urls")),
        path("admin/deployments/", include("dashboard.ui.urls")),
        path("admin/", admin.site.urls),
    ]
