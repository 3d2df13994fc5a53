"""Follow-up questions about a document: asked from its report, answered by the engine worker with anchored quotes.

The question goes after the same document prefix every review of the document used, so an engine that kept
that prefix (our local engines do, on disk across restarts) reads only the question. Questions and answers are
kept per document and shown to the whole workspace.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analysis.review import ask_followup
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.documents.ingested import document_as_ingested
from webapp.documents.models import Document, DocumentStatus
from webapp.engines import engine_from_settings, engine_is_test_model, engine_model_label, model_label
from webapp.pipeline import queue
from webapp.pipeline.analyses import AnalysisRefusedError, anchor_rows
from webapp.pipeline.failures import ANSWER_INTERNAL, KNOWN_ERRORS, failure_of
from webapp.reports.models import Anchor, FollowUp, FollowUpStatus
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_OPEN_PER_DOCUMENT = 5  # unanswered questions one document may have queued at once
ANSWER_WRITE_SECONDS = 0.4  # how often an answer being written is saved for the page (which polls every 1.5 s)


def followup_ask(*, document: Document, user, question: str) -> FollowUp:
    permissions.require(user=user, workspace=document.workspace, action=Action.ANALYSE)
    question = " ".join((question or "").split())
    if not question:
        raise AnalysisRefusedError("Write a question first.")
    if len(question) > MAX_QUESTION_CHARS:
        raise AnalysisRefusedError(f"A question is at most {MAX_QUESTION_CHARS} characters.")
    if document.status != DocumentStatus.READY:
        raise AnalysisRefusedError("The document must be ready before questions can be asked of it.")
    if settings.QUIRE_ENGINE == "none":
        raise AnalysisRefusedError("No language-model engine is configured (QUIRE_ENGINE=none).")
    with transaction.atomic():
        Document.objects.select_for_update().get(pk=document.pk)
        if FollowUp.objects.filter(document=document, status=FollowUpStatus.QUEUED).count() >= MAX_OPEN_PER_DOCUMENT:
            raise AnalysisRefusedError(f"{MAX_OPEN_PER_DOCUMENT} questions about this document are still waiting "
                                       "for answers; ask again when they are done.")
        asked = FollowUp.objects.create(document=document, asked_by=user, question=question,
                                        model_id=engine_model_label(), test_model=engine_is_test_model())
        transaction.on_commit(lambda: _enqueue(asked.id))
    audit_record(action=AuditAction.FOLLOWUP_ASK, actor=user, workspace=document.workspace, target=document,
                 followup=str(asked.id))
    return asked


def _enqueue(followup_id) -> None:
    queue.followup_enqueue(followup_id=followup_id)


def followup_answer(*, followup_id) -> None:
    """Answer one queued question. Safe to deliver twice: an answered or failed question is left alone."""
    asked = FollowUp.objects.filter(pk=followup_id, status=FollowUpStatus.QUEUED).first()
    if asked is None:
        return
    try:
        engine = engine_from_settings()
        if engine is None:
            raise AnalysisRefusedError("No language-model engine is configured (QUIRE_ENGINE=none).")
        document = Document.objects.get(pk=asked.document_id)
        reply = ask_followup(document_as_ingested(document), asked.question, engine,
                             on_answer=_AnswerSoFar(followup_id))
    except KNOWN_ERRORS as error:
        failure = failure_of(error, step="answer")
        if failure is None:
            raise
        _fail(followup_id, failure.message)
        return
    except Document.DoesNotExist:
        return
    with transaction.atomic():
        row = FollowUp.objects.select_for_update().filter(pk=followup_id, status=FollowUpStatus.QUEUED).first()
        if row is None:
            return
        row.anchors.all().delete()
        Anchor.objects.bulk_create(anchor_rows(reply.quotes, followup=row))
        row.answer, row.status, row.answered_at = reply.answer, FollowUpStatus.ANSWERED, timezone.now()
        row.prompt_tokens, row.cached_prompt_tokens, row.seconds = reply.prompt_tokens, reply.cached_prompt_tokens, reply.seconds
        row.model_id = model_label(reply.model_id) or row.model_id
        row.test_model = row.test_model or engine_is_test_model()  # the worker's settings name the model it ran
        row.save()


class _AnswerSoFar:
    """Keeps the answer being written on the row (at most every ANSWER_WRITE_SECONDS), so the report page can show
    it arriving; the row stays queued, and the finished answer with its quotes replaces it."""

    def __init__(self, followup_id):
        self.followup_id, self.written, self.at = followup_id, "", 0.0

    def __call__(self, answer: str) -> None:
        now = time.monotonic()
        if answer == self.written or now - self.at < ANSWER_WRITE_SECONDS:
            return
        FollowUp.objects.filter(pk=self.followup_id, status=FollowUpStatus.QUEUED).update(answer=answer)
        self.written, self.at = answer, now


def followup_fail_internal(*, followup_id) -> None:
    _fail(followup_id, ANSWER_INTERNAL.message)


def _fail(followup_id, message: str) -> None:
    FollowUp.objects.filter(pk=followup_id, status=FollowUpStatus.QUEUED).update(
        status=FollowUpStatus.FAILED, error_message=message, answered_at=timezone.now())
