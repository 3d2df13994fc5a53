"""Real processes, real failures: Celery workers SIGKILLed in the middle of ingestion and of analysis,
and the broker restarted in the middle of a batch. Every document must end ready or failed with a
reason, processed once (one report each), with exactly one stored file per document.

These run against their own Redis (a private redis-server with an append-only file, so a restart keeps
the queue, as the compose file's Redis does) and their own workers; the session's worker and Redis are
not touched.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests import factories
from tests.worker import PrivateRedis, start_worker, stop_worker, wait_for
from webapp.documents.models import Document, DocumentStatus

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SLOW_PDF = "contracts_cuad/CERES,INC_01_25_2012-EX-10.20-Collaboration Agreement.PDF"  # seconds of ingestion
TERMINAL = (DocumentStatus.READY, DocumentStatus.FAILED)


@pytest.fixture
def broker(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def database_name(django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        return connection.settings_dict["NAME"]


def _worker(database_name, broker, tmp_path, **env):
    # Solo pool: the worker is one process, so SIGKILL takes the task down with it. A short visibility
    # timeout makes Redis hand an unacknowledged task to the next worker within seconds, not hours (looked for
    # every 10 s, not every 100: QUIRE_UNACKED_RESTORE_THROTTLE). The first pass's clause finder is the feature
    # model alone (QUIRE_CLAUSE_FINDER=features): what is tested here is recovery, and each new worker would
    # otherwise load the encoder and spend seconds per contract re-reading (tests/integration/test_analysis_worker.py
    # runs the default finder in a real worker).
    extra = {"CELERY_BROKER_URL": broker.url, "QUIRE_VISIBILITY_TIMEOUT": "5", "QUIRE_UNACKED_RESTORE_THROTTLE": "1",
             "QUIRE_CLAUSE_FINDER": "features", **env}
    return start_worker(database_name=database_name, log_path=tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log",
                        pool="solo", env=extra)


def _enqueue(documents, broker) -> None:
    from celery import chain

    from webapp.celery import app
    from webapp.pipeline.tasks import document_ingest_task
    from webapp.pipeline.tasks import report_generate_task

    with app.connection_for_write(broker.url) as connection:
        for document in documents:
            chain(document_ingest_task.si(str(document.id), None), report_generate_task.si(str(document.id))).apply_async(
                connection=connection
            )


def _assert_settled(documents, *, expect_ready: bool = True) -> dict:
    from django.core.files.storage import default_storage

    from webapp.reports.models import Report

    counts = {"ready": 0, "failed": 0}
    for document in documents:
        document.refresh_from_db()
        assert document.status in TERMINAL, (document.original_name, document.status, document.stage)
        if document.status == DocumentStatus.FAILED:
            assert document.error_code and document.error_message, document.original_name
            print(f"[faults] failed: {document.original_name}: {document.error_code}: {document.error_message}")
        counts[document.status] += 1
        assert Report.objects.filter(document=document).count() == (1 if document.status == "ready" else 0)
        assert default_storage.exists(document.file.name)
    stored = set(default_storage.listdir(f"documents/{documents[0].workspace_id}")[1])
    assert stored == {Path(d.file.name).name for d in documents}, "orphaned or missing files"
    if expect_ready:
        assert counts["ready"] == len(documents), counts
    return counts


def _kill(worker) -> None:
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=10)


def test_sigkill_during_ingestion_three_times(corpus, broker, database_name, tmp_path, capsys):
    workspace = factories.make_workspace(name="Faults: ingestion")
    documents = [factories.make_document_from_file(workspace, corpus / SLOW_PDF, "pdf")]
    names = sorted(n for n in os.listdir(corpus / "contracts_cuad") if n.lower().endswith(".pdf"))[:2]
    documents += [factories.make_document_from_file(workspace, corpus / "contracts_cuad" / n, "pdf") for n in names]
    _enqueue(documents, broker)
    kills = 0
    for _ in range(3):
        worker = _worker(database_name, broker, tmp_path)
        wait_for(lambda: Document.objects.filter(pk__in=[d.pk for d in documents], status=DocumentStatus.INGESTING).exists(),
                 timeout=60, what="a document being ingested")
        time.sleep(0.3)
        _kill(worker)
        kills += 1
    final = _worker(database_name, broker, tmp_path)
    try:
        wait_for(lambda: not Document.objects.filter(pk__in=[d.pk for d in documents]).exclude(status__in=TERMINAL).exists(),
                 timeout=180, what="every document to settle")
    finally:
        stop_worker(final)
    counts = _assert_settled(documents, expect_ready=False)
    attempts = {d.original_name: d.ingest_attempts for d in Document.objects.filter(pk__in=[d.pk for d in documents])}
    with capsys.disabled():
        print(f"\n[faults] ingestion: {kills} SIGKILLs, {len(documents)} documents -> {counts}, attempts {attempts}")
    # A document killed three times in a row may be given up on (worker_crashed), never left hanging.
    assert counts["ready"] >= len(documents) - 1


def test_sigkill_during_analysis_three_times(corpus, broker, database_name, tmp_path, capsys):
    from engine.tiny import cached_tiny_model

    model = cached_tiny_model("llama", max_context=32768)
    engine_env = {"QUIRE_ENGINE": "local", "QUIRE_ENGINE_MODEL": str(model), "QUIRE_ENGINE_DEVICE": "cpu",
                  "HF_HUB_OFFLINE": "1"}
    workspace = factories.make_workspace(name="Faults: analysis")
    names = sorted(n for n in os.listdir(corpus / "contracts_cuad") if n.lower().endswith(".pdf"))[2:5]
    documents = [factories.make_document_from_file(workspace, corpus / "contracts_cuad" / n, "pdf") for n in names]
    _enqueue(documents, broker)
    kills = 0
    for _ in range(3):
        worker = _worker(database_name, broker, tmp_path, **engine_env)
        wait_for(lambda: Document.objects.filter(pk__in=[d.pk for d in documents], status=DocumentStatus.ANALYSING).exists(),
                 timeout=90, what="a document being analysed")
        time.sleep(0.3)
        _kill(worker)
        kills += 1
    final = _worker(database_name, broker, tmp_path, **engine_env)
    try:
        wait_for(lambda: not Document.objects.filter(pk__in=[d.pk for d in documents]).exclude(status__in=TERMINAL).exists(),
                 timeout=240, what="every document to settle")
    finally:
        stop_worker(final)
    counts = _assert_settled(documents)
    with capsys.disabled():
        print(f"\n[faults] analysis: {kills} SIGKILLs, {len(documents)} documents -> {counts}")


def test_broker_restart_in_the_middle_of_a_batch(corpus, broker, database_name, tmp_path, capsys):
    workspace = factories.make_workspace(name="Faults: broker")
    names = sorted(n for n in os.listdir(corpus / "contracts_cuad") if n.lower().endswith(".pdf"))[5:11]
    documents = [factories.make_document_from_file(workspace, corpus / "contracts_cuad" / n, "pdf") for n in names]
    worker = _worker(database_name, broker, tmp_path)
    try:
        _enqueue(documents, broker)
        wait_for(lambda: Document.objects.filter(pk__in=[d.pk for d in documents], status=DocumentStatus.READY).exists(),
                 timeout=60, what="the first document to finish")
        broker.stop()
        time.sleep(2)
        broker.start()  # same port, same append-only file: the queue survives
        wait_for(lambda: not Document.objects.filter(pk__in=[d.pk for d in documents]).exclude(status__in=TERMINAL).exists(),
                 timeout=180, what="every document to settle after the restart")
        assert worker.alive, worker.log()[-3000:]
    finally:
        stop_worker(worker)
    counts = _assert_settled(documents)
    with capsys.disabled():
        print(f"\n[faults] broker restart: {len(documents)} documents -> {counts}")
