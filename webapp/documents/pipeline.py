"""The task chain one uploaded document goes through: ingest (default queue), then analyse (engine queue)."""

from __future__ import annotations

from celery import chain


def pipeline_enqueue(*, document_id) -> None:
    from webapp.documents.tasks import document_ingest_task
    from webapp.reports.tasks import report_analyse_task

    chain(document_ingest_task.si(str(document_id)), report_analyse_task.si(str(document_id))).apply_async()
