"""The periodic stuck-work check: a document its worker abandoned is queued again, at most twice, then
failed with a reason; live work, queued work and finished work are left alone."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from tests import factories
from webapp.pipeline import recovery as services
from webapp.documents.models import Document, DocumentStatus
from webapp.pipeline.states import INGEST, DocumentProgress


def _age(document, seconds: float) -> None:
    Document.objects.filter(pk=document.pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))


@pytest.fixture
def enqueued():
    calls = []
    with mock.patch.object(services, "_step_enqueue", side_effect=lambda i, s: calls.append((str(i), s))):
        yield calls


def test_abandoned_ingestion_is_queued_again_then_failed(db, workspace, enqueued, django_capture_on_commit_callbacks):
    document = factories.make_document(workspace, status=DocumentStatus.INGESTING)
    stale = settings.QUIRE_INGEST_TIME_LIMIT + 600
    for round_ in (1, 2):
        _age(document, stale)
        with django_capture_on_commit_callbacks(execute=True):
            recovery = services.documents_recover_stuck()
        document.refresh_from_db()
        assert recovery.requeued == [document.pk] and document.recoveries == round_
        assert document.status == DocumentStatus.QUEUED and "worker processing it stopped" in document.stage
        Document.objects.filter(pk=document.pk).update(status=DocumentStatus.INGESTING)  # a worker claims it, dies
    _age(document, stale)
    recovery = services.documents_recover_stuck()
    document.refresh_from_db()
    assert recovery.failed == [document.pk]
    assert (document.status, document.error_code) == (DocumentStatus.FAILED, "worker_lost")
    assert "stopped 3 times" in document.error_message
    assert [s for _, s in enqueued] == [DocumentStatus.INGESTING, DocumentStatus.INGESTING]


def test_abandoned_analysis_is_queued_for_analysis_only(db, workspace, enqueued, django_capture_on_commit_callbacks):
    document = factories.make_document(workspace, status=DocumentStatus.ANALYSING)
    _age(document, settings.QUIRE_ANALYSE_TIME_LIMIT + 600)
    with django_capture_on_commit_callbacks(execute=True):
        services.documents_recover_stuck()
    document.refresh_from_db()
    assert document.status == DocumentStatus.ANALYSING and document.recoveries == 1
    assert enqueued == [(str(document.pk), DocumentStatus.ANALYSING)]


def test_live_queued_and_finished_documents_are_left_alone(db, workspace, enqueued):
    running = factories.make_document(workspace, content=b"a", status=DocumentStatus.INGESTING)
    _age(running, settings.QUIRE_INGEST_TIME_LIMIT + 600)
    DocumentProgress(running.pk, INGEST).report(0.5, "Reading", force=True)  # a heartbeat
    long_analysis = factories.make_document(workspace, content=b"b", status=DocumentStatus.ANALYSING)
    _age(long_analysis, settings.QUIRE_INGEST_TIME_LIMIT + 600)  # past ingestion's limit, not analysis's
    waiting = factories.make_document(workspace, content=b"c", status=DocumentStatus.QUEUED)
    _age(waiting, 7 * 24 * 3600)
    done = factories.make_document(workspace, content=b"d", status=DocumentStatus.READY)
    _age(done, 7 * 24 * 3600)
    recovery = services.documents_recover_stuck()
    assert recovery.requeued == [] and recovery.failed == [] and enqueued == []


def test_beat_schedules_the_check_on_the_default_queue():
    from webapp.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["recover-stuck-documents"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert entry["options"]["queue"] == settings.CELERY_TASK_DEFAULT_QUEUE
    assert entry["schedule"] == settings.QUIRE_RECOVERY_INTERVAL_S > 0
