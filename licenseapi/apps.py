from django.apps import AppConfig


class LicenseApiConfig(AppConfig):
    name = "licenseapi"
    verbose_name = "License API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from licenseapi import conf

        conf.check_environment()
