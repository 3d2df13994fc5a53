from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "webapp.api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from webapp.api import schema  # noqa: F401  (registers the token scheme with drf-spectacular)
