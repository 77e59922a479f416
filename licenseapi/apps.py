from django.apps import AppConfig


class LicenseApiConfig(AppConfig):
    name = "licenseapi"
    verbose_name = "License API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Variables are parsed now, so a malformed value stops start-up naming it.
        from licenseapi import certificates, conf

        conf.check_environment()
        certificates.check_configured_key()
