from django.apps import AppConfig


class LicenseApiConfig(AppConfig):
    name = "licenseapi"
    verbose_name = "License API"
    default_auto_field = "django.db.models.BigAutoField"
