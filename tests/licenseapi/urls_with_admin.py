"""The license API plus the admin, as the dashboard role serves the admin (tests only)."""

from django.contrib import admin
from django.urls import path

from licenseapi.urls import urlpatterns as licenseapi_urlpatterns

urlpatterns = [*licenseapi_urlpatterns, path("admin/", admin.site.urls)]
