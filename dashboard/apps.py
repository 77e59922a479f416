from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Deployments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The Deployments section on the admin index, whichever URLconf is loaded first.
        from dashboard.ui import admin_site

        admin_site.install()
