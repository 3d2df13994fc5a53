"""A document's journey started again by a member: a failed document run from the start (after a fix, a new model,
a passing fault), and a protected PDF given the password it waited for."""

from __future__ import annotations

from django.db import transaction

from webapp.documents import sealing
from webapp.documents.models import Document, DocumentStatus
from webapp.pipeline import queue, states
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action


def document_password_submit(*, document: Document, user, password: str) -> None:
    """Queue a password-protected PDF again with the password the user typed.

    The password goes only into the sealed task message; it is never saved or logged.
    """
    permissions.require(user=user, workspace=document.workspace, action=Action.ANALYSE)
    with transaction.atomic():
        moved = states.document_move(document.pk, to=DocumentStatus.QUEUED, stage="Trying the password",
                                     only_from={DocumentStatus.PASSWORD_NEEDED}, error_code="", error_message="")
        if moved:
            sealed = sealing.seal(password)
            transaction.on_commit(lambda: queue.journey_start(document_id=document.id, sealed_password=sealed))


def document_retry(*, document: Document, user) -> bool:
    """Run a failed document through the pipeline again. Its file, and any analyses it had, are kept; ingestion
    starts over. False when it was not failed."""
    permissions.require(user=user, workspace=document.workspace, action=Action.ANALYSE)
    with transaction.atomic():
        moved = states.document_move(document.pk, to=DocumentStatus.QUEUED, stage="Queued again", progress=0,
                                     only_from={DocumentStatus.FAILED}, error_code="", error_message="",
                                     ingest_attempts=0, recoveries=0)
        if moved:
            transaction.on_commit(lambda: queue.journey_start(document_id=document.id))
    return moved
