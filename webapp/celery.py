"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("quire")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _connect_metrics() -> None:
    from webapp.metrics import connect_task_signals

    connect_task_signals()


_connect_metrics()


def _connect_engine_plan() -> None:
    from celery.signals import worker_ready

    @worker_ready.connect(weak=False)
    def engine_plan_at_start(sender=None, **kwargs) -> None:
        """The worker that holds the local engine says at once whether its model fits (sender: the consumer)."""
        from webapp.engines import engine_plan_log

        queues = set(sender.app.amqp.queues.consume_from) if sender is not None else set()
        engine_plan_log(consumes_engine_queue="engine" in queues)


_connect_engine_plan()
