from django.apps import AppConfig


class ObligationsConfig(AppConfig):
    name = "webapp.obligations"
