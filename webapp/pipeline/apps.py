from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """No tables: registered so that Celery's autodiscovery finds pipeline/tasks.py."""

    name = "webapp.pipeline"
