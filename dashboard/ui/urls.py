"""The dashboard pages, mounted inside the admin at /admin/deployments/ (config/urls.py
includes this before admin.site.urls). Importing it also hooks the Deployments section
into the admin index (dashboard.ui.admin_site)."""

from django.urls import path

from dashboard.ui import admin_site, logs, two_factor, views

admin_site.install()

app_name = "deployments"
urlpatterns = [
    path("services/<slug:name>/", views.service_detail, name="service"),
    path("services/<slug:name>/deploy/", views.deploy, name="deploy"),
    path("services/<slug:name>/card.json", views.service_card, name="service-card"),
    path("services/<slug:name>/pods.json", logs.pods, name="service-pods"),
    path("services/<slug:name>/logs/", logs.log, name="service-log"),
    path("services/<slug:name>/<slug:action>/", views.service_action, name="service-action"),
    path("releases/", views.releases, name="releases"),
    path("releases/export.<str:fmt>", views.releases_export, name="releases-export"),
    path("releases/<int:pk>/", views.release_detail, name="release"),
    path("releases/<int:pk>/live.json", views.release_fragment, name="release-fragment"),
    path("releases/<int:pk>/compare/", views.release_compare, name="release-compare"),
    path("audit/", views.audit, name="audit"),
    path("locks/", views.locks, name="locks"),
    path("locks/take/", views.lock_take, name="lock-take"),
    path("locks/<slug:name>/release/", views.lock_release, name="lock-release"),
    path("metrics/", views.metrics, name="metrics"),
    path("metrics/export.<str:fmt>", views.metrics_export, name="metrics-export"),
    path("two-factor/", two_factor.enrol, name="two-factor"),
]
