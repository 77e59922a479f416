from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Deployments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The Deployments section on the admin index, whichever URLconf is loaded first.
        from dashboard.ui import admin_site, login

        admin_site.install()
        login.install()  # TOTP at sign-in (django-otp)
