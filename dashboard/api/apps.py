from django.apps import AppConfig


class DashboardApiConfig(AppConfig):
    name = "dashboard.api"
    label = "dashboard_api"
    verbose_name = "Chatops API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The OpenAPI description of bearer tokens, and the notification hooks on the
        # pipeline's signals (connected only if the pipeline provides them).
        from dashboard.api import (
            notifications,
            schema,  # noqa: F401
        )

        notifications.connect()
