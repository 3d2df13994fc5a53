"""Task wiring: queues, acknowledgement, limits, and what happens when a task gives up."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from tests import factories
from webapp.celery import app
from webapp.documents.models import DocumentStatus
from webapp.pipeline.failures import TRANSIENT_ERRORS
from webapp.pipeline import queue
from webapp.pipeline.tasks import document_ingest_task, report_generate_task


def test_analysis_runs_on_the_engine_queue_and_ingestion_on_default():
    route = app.amqp.router.route({}, report_generate_task.name)
    assert route["queue"].name == "engine"
    assert app.amqp.router.route({}, document_ingest_task.name)["queue"].name == "default"


def test_every_name_the_pipeline_enqueues_by_is_a_registered_task_on_its_queue():
    app.loader.import_default_modules()
    engine_steps = {queue.READ, queue.ANALYSE, queue.ANSWER}
    for name in (queue.INGEST, queue.READ, queue.ANALYSE, queue.ANSWER, queue.RECOVER, queue.READY):
        assert name in app.tasks, name
        expected = "engine" if name in engine_steps else "default"
        assert app.amqp.router.route({}, name)["queue"].name == expected, name


@pytest.mark.parametrize("task", [document_ingest_task, report_generate_task])
def test_tasks_ack_late_survive_worker_loss_and_have_time_limits(task):
    assert task.acks_late and task.reject_on_worker_lost
    assert 0 < task.soft_time_limit < task.time_limit
    assert set(task.autoretry_for) == set(TRANSIENT_ERRORS)
    assert ValueError not in task.autoretry_for


def test_transient_database_error_is_retried_then_recorded_as_failure(workspace, monkeypatch):
    document = factories.make_document(workspace, status=DocumentStatus.QUEUED)
    calls = []

    def flaky(*, document_id, **_):
        calls.append(document_id)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("webapp.pipeline.ingest.document_ingest", flaky)
    monkeypatch.setattr(document_ingest_task, "max_retries", 2)
    monkeypatch.setattr(document_ingest_task, "retry_backoff", False)
    monkeypatch.setattr(document_ingest_task, "default_retry_delay", 0)
    result = document_ingest_task.apply(args=[str(document.id)])
    assert result.failed()
    assert len(calls) == 3  # the first try and two retries
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert document.error_code == "internal_error"
    assert "original file is kept" in document.error_message


def test_unexpected_error_is_not_retried(workspace, monkeypatch):
    document = factories.make_document(workspace, status=DocumentStatus.QUEUED)
    calls = []

    def broken(*, document_id, **_):
        calls.append(document_id)
        raise KeyError("a bug")

    monkeypatch.setattr("webapp.pipeline.ingest.document_ingest", broken)
    assert document_ingest_task.apply(args=[str(document.id)]).failed()
    assert len(calls) == 1
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
