"""/api/v1/ (mounted by dashboard/urls.py: path("api/v1/", include("dashboard.api.urls")))."""

from django.urls import path

from dashboard.api import docs
from dashboard.api.routes import api_patterns, schema_patterns

app_name = "dashboard_api"

urlpatterns = [
    path("", docs.index, name="index"),
    *api_patterns,
    path("schema/", docs.SchemaView.as_view(patterns=schema_patterns), name="schema"),
    path("docs/", docs.docs_page, name="docs"),
]
