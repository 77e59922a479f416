"""Hooks the Deployments section into the admin index: the index renders our template
(which keeps the normal app list) with one card per Service the user may view."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from dashboard.ui import pages

INDEX_TEMPLATE = "dashboard/admin_index.html"


def install(site: admin.AdminSite | None = None) -> None:
    """Idempotent. Must run before the site's URLs are built (config/urls.py includes
    dashboard.ui.urls, which calls this, before admin.site.urls)."""
    site = site or admin.site
    if getattr(site, "_deployments_installed", False):
        return
    site.index_template = INDEX_TEMPLATE
    original = site.index

    def index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"deployment_cards": pages.cards(request.user), **(extra_context or {})}
        return original(request, extra_context=extra)

    site.index = index  # type: ignore[method-assign, assignment]
    site._deployments_installed = True  # type: ignore[attr-defined]
