from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "webapp.documents"
