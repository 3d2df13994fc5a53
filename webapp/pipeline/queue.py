"""How work is enqueued: by task name, so that no service imports a task module (and the import graph keeps the
pipeline above the apps it works for). This module imports nothing of the web app; import-linter checks that.

The names are the contract between web processes, workers and messages already in the broker. They keep the
names the tasks had before the pipeline package existed, so an upgrade with work still queued loses none of it;
CELERY_TASK_ROUTES sends the `webapp.reports.tasks.*` ones to the engine queue.
"""

from __future__ import annotations

from celery import chain, current_app

INGEST = "webapp.documents.tasks.document_ingest_task"
READ = "webapp.reports.tasks.report_analyse_task"  # facts and first pass (engine queue: it counts model tokens)
ANALYSE = "webapp.reports.tasks.analysis_run_task"
ANSWER = "webapp.reports.tasks.followup_answer_task"
RECOVER = "webapp.documents.tasks.documents_recover_stuck_task"
READY = "webapp.tables.tasks.batches_join_task"  # a document became ready: batch runs that take new ones join it


def journey_start(*, document_id, sealed_password: str | None = None) -> None:
    """Ingest, then read: the chain one stored document goes through. Call it from transaction.on_commit."""
    document_id = str(document_id)
    ingest = current_app.signature(INGEST, args=(document_id, sealed_password), immutable=True)
    if sealed_password:
        # Worker logs show this instead of the (sealed) password.
        ingest = ingest.set(argsrepr=repr((document_id, "<sealed password>")))
    chain(ingest, current_app.signature(READ, args=(document_id,), immutable=True)).apply_async()


def read_enqueue(*, document_id) -> None:
    """The reading step alone: for a document whose ingestion is done (stuck-work recovery)."""
    current_app.send_task(READ, args=(str(document_id),))


def analysis_enqueue(*, analysis_id) -> None:
    current_app.send_task(ANALYSE, args=(str(analysis_id),))


def followup_enqueue(*, followup_id) -> None:
    current_app.send_task(ANSWER, args=(str(followup_id),))


def document_ready(*, document_id) -> None:
    """Tell whoever follows ready documents (the workspace table's batch runs) by name; the pipeline needs no answer."""
    current_app.send_task(READY, args=(str(document_id),))
