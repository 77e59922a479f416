"""The REST operations of /api/v1/, and the patterns the OpenAPI schema is generated from
(the docs page and the schema view both read them; dashboard/api/urls.py mounts them)."""

from django.urls import include, path

from dashboard.api import delivery, views

api_patterns = [
    path("releases/", views.ReleaseList.as_view(), name="release-list"),
    path("releases/<int:pk>/", views.ReleaseDetail.as_view(), name="release-detail"),
    path("releases/<int:pk>/cancel/", views.ReleaseCancel.as_view(), name="release-cancel"),
    path("releases/<int:pk>/continue/", views.ReleaseContinue.as_view(),
         name="release-continue"),
    path("releases/<int:pk>/rollback/", views.ReleaseRollback.as_view(),
         name="release-rollback"),
    path("services/", views.ServiceList.as_view(), name="service-list"),
    path("services/<slug:name>/", views.ServiceDetail.as_view(), name="service-detail"),
    path("services/<slug:name>/revisions/", views.ServiceRevisions.as_view(),
         name="service-revisions"),
    path("services/<slug:name>/pause/", views.ServicePause.as_view(), name="service-pause"),
    path("services/<slug:name>/resume/", views.ServiceResume.as_view(), name="service-resume"),
    path("services/<slug:name>/lock/", views.ServiceLock.as_view(), name="service-lock"),
    path("services/<slug:name>/unlock/", views.ServiceUnlock.as_view(), name="service-unlock"),
    path("audit/", views.AuditList.as_view(), name="audit-list"),
    path("audit/export/", views.AuditExport.as_view(), name="audit-export"),
    path("metrics/dora/", delivery.DoraMetrics.as_view(), name="metrics-dora"),
]

# The schema describes the API at its mounted prefix, and nothing else of the site.
schema_patterns = [path("api/v1/", include((api_patterns, "dashboard_api")))]
