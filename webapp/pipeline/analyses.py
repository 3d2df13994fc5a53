"""Every write to playbook analyses: start one, run it (step 3 of a document's journey, and any later run a member
starts; the engine worker's task body), cancel it.

An analysis is one playbook run by one model over one document; running another playbook or model adds a
row and leaves the earlier ones as they were. The upload pipeline starts one automatically when an engine
is configured (`automatic`): its progress is then also the document's, and the document is ready when it
ends, however it ends, because the report's facts and first pass stand on their own.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

import analysis.review
from analysis.first_pass.record import FirstPassRecord
from analysis.playbooks import Playbook, from_dict
from analysis.playbooks.choice import automatic_playbook_name
from analysis.review import Review, ReviewCancelledError
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.documents.ingested import document_as_ingested
from webapp.documents.models import Document, DocumentStatus
from webapp.engines import engine_from_settings, engine_is_test_model, engine_model_label, model_label
from webapp.errors import ConflictError
from webapp.pipeline import queue, states
from webapp.pipeline.failures import ANALYSIS_INTERNAL, KNOWN_ERRORS, failure_of
from webapp.reports.models import Analysis, AnalysisStatus, Anchor, Finding, Report
from webapp.reports.playbooks import playbook_for_workspace
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action

logger = logging.getLogger(__name__)

ACTIVE = (AnalysisStatus.QUEUED, AnalysisStatus.RUNNING)


class AnalysisRefusedError(ConflictError):
    code = "analysis_refused"


def analysis_start(*, document: Document, user, playbook_name: str) -> Analysis:
    """A member's request to run a playbook over a ready document; queued for the engine worker."""
    permissions.require(user=user, workspace=document.workspace, action=Action.ANALYSE)
    if document.status != DocumentStatus.READY:
        raise AnalysisRefusedError("The document must be ready (ingested) before it can be analysed.")
    if settings.QUIRE_ENGINE == "none":
        raise AnalysisRefusedError("No language-model engine is configured (QUIRE_ENGINE=none).")
    playbook = playbook_for_workspace(workspace=document.workspace, name=playbook_name)
    with transaction.atomic():
        # One run of a playbook per document at a time: a second click must not queue the same work twice.
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if Analysis.objects.filter(document=locked, playbook_name=playbook.name, status__in=ACTIVE).exists():
            raise AnalysisRefusedError(f"“{playbook.title}” is already queued or running for this document.")
        created = _create(document=locked, user=user, playbook=playbook, automatic=False)
    audit_record(action=AuditAction.ANALYSIS_START, actor=user, workspace=document.workspace, target=document,
                 playbook=playbook.name, version=playbook.version, analysis=str(created.id))
    return created


def analysis_start_automatic(*, document: Document, first_pass: FirstPassRecord) -> Analysis:
    """The pipeline's own analysis of a fresh upload. Idempotent: a document re-queued after a lost worker gets
    its existing automatic analysis queued again, not a second one."""
    existing = Analysis.objects.filter(document=document, automatic=True).first()
    if existing is not None:
        if not existing.is_terminal:
            transaction.on_commit(lambda: _enqueue(existing.id))
        return existing
    playbook = playbook_for_workspace(workspace=document.workspace, name=automatic_playbook_name(first_pass))
    return _create(document=document, user=None, playbook=playbook, automatic=True)


def _create(*, document: Document, user, playbook: Playbook, automatic: bool) -> Analysis:
    created = Analysis.objects.create(
        document=document, requested_by=user if getattr(user, "is_authenticated", False) else None, automatic=automatic,
        playbook=playbook.as_dict(), playbook_name=playbook.name, playbook_title=playbook.title[:200],
        playbook_version=playbook.version, engine=settings.QUIRE_ENGINE, model_id=engine_model_label(),
        test_model=engine_is_test_model(),
    )
    transaction.on_commit(lambda: _enqueue(created.id))
    return created


def _enqueue(analysis_id) -> None:
    queue.analysis_enqueue(analysis_id=analysis_id)


def analysis_cancel(*, analysis: Analysis, user) -> None:
    """Stop a queued or running analysis: a queued one ends now, a running one at the engine's next check."""
    permissions.require(user=user, workspace=analysis.document.workspace, action=Action.ANALYSE)
    with transaction.atomic():
        row = Analysis.objects.select_for_update().get(pk=analysis.pk)
        # A run silent for longer than the task's hard limit has no worker left to see the flag: end it here.
        abandoned = timezone.now() - timedelta(seconds=settings.QUIRE_ANALYSE_TIME_LIMIT)
        if row.status == AnalysisStatus.QUEUED:
            _finish(row, status=AnalysisStatus.CANCELLED, stage="Cancelled before it started")
        elif row.status == AnalysisStatus.RUNNING and row.updated_at < abandoned:
            _finish(row, status=AnalysisStatus.CANCELLED, stage="Cancelled (its worker had stopped)")
        elif row.status == AnalysisStatus.RUNNING:
            Analysis.objects.filter(pk=row.pk).update(cancel_requested=True, stage="Cancelling…")
        else:
            return
    audit_record(action=AuditAction.ANALYSIS_CANCEL, actor=user, workspace=analysis.document.workspace,
                 target=analysis.document, analysis=str(analysis.id))


class _CancelFlag:
    """The engine's cancel token, read from the database at most once a second (the engine asks per chunk/token)."""

    def __init__(self, analysis_id, *, interval: float = 1.0):
        self.analysis_id, self.interval = analysis_id, interval
        self._checked, self._set = 0.0, False

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._set and now - self._checked >= self.interval:
            self._checked = now
            # A deleted analysis (its document was deleted) counts as cancelled too.
            self._set = not Analysis.objects.filter(pk=self.analysis_id, cancel_requested=False).exists()
            if threading.current_thread() is not threading.main_thread():
                # The remote engine asks from its own watcher thread, whose connection Django never closes.
                db_connection.close()
        return self._set


class _Progress:
    """Writes percent and stage to the analysis (and, for the automatic one, to its document) a few times a second."""

    def __init__(self, analysis: Analysis, *, min_interval: float = 0.5):
        self.analysis_id = analysis.id
        # The automatic analysis is also the last step of its document's journey: its bar is the document's too.
        self._document = states.DocumentProgress(analysis.document_id, states.MODEL, prefix="Model: ") \
            if analysis.automatic else None
        self.min_interval = min_interval
        self._last_write, self._last = 0.0, (-1, "")

    def report(self, fraction: float, stage: str, *, force: bool = False) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        percent = int(99 * fraction)
        now = time.monotonic()
        if not force and (now - self._last_write < self.min_interval or (percent, stage) == self._last):
            return
        Analysis.objects.filter(pk=self.analysis_id, status=AnalysisStatus.RUNNING).update(
            progress=percent, stage=stage[:200], updated_at=timezone.now())
        if self._document is not None:
            self._document.report(fraction, stage, force=True)
        self._last_write, self._last = now, (percent, stage)


def analysis_run(*, analysis_id) -> None:
    """Run one analysis to its end. Safe to deliver twice: it acts only on a queued analysis, or on a running one
    whose worker was lost (Celery re-delivers those), and finishes it whatever happens."""
    with transaction.atomic():
        row = Analysis.objects.select_for_update().select_related("document").filter(pk=analysis_id).first()
        if row is None or row.is_terminal:
            return
        if row.cancel_requested:
            _finish(row, status=AnalysisStatus.CANCELLED, stage="Cancelled")
            return
        # The worker's settings name the model that will actually run; the web process's guess may be stale.
        row.test_model = row.test_model or engine_is_test_model()
        Analysis.objects.filter(pk=row.pk).update(status=AnalysisStatus.RUNNING, started_at=timezone.now(),
                                                  stage="Loading the analysis engine", progress=0,
                                                  test_model=row.test_model)
        row.status = AnalysisStatus.RUNNING
    progress = _Progress(row)
    progress.report(0.0, "Loading the analysis engine", force=True)
    try:
        engine = engine_from_settings()
        if engine is None:
            raise AnalysisRefusedError("No language-model engine is configured (QUIRE_ENGINE=none).")
        document = Document.objects.get(pk=row.document_id)
        report = Report.objects.filter(document_id=row.document_id).first()
        playbook = from_dict(row.playbook)
        progress.report(0.0, "Reading the document", force=True)
        result = analysis.review.review(
            document_as_ingested(document), playbook, engine, progress=progress.report, cancel=_CancelFlag(row.id),
            first_pass=FirstPassRecord.from_json(report.first_pass) if report else None, test_model=row.test_model,
            max_tokens=settings.QUIRE_ANALYSIS_MAX_TOKENS,
        )
    except ReviewCancelledError:
        _finish_by_id(analysis_id, status=AnalysisStatus.CANCELLED, stage="Cancelled")
        return
    except KNOWN_ERRORS as error:
        failure = failure_of(error, step="analysis")
        if failure is None:
            raise
        _finish_by_id(analysis_id, status=AnalysisStatus.FAILED, code=failure.code, message=failure.message)
        return
    except Document.DoesNotExist:
        return  # deleted while we loaded the engine; the analysis went with it
    _store(analysis_id, result)


def analysis_fail_internal(*, analysis_id) -> None:
    """The task's last resort when something unexpected broke: the analysis says so, the document stays readable."""
    _finish_by_id(analysis_id, status=AnalysisStatus.FAILED, code=ANALYSIS_INTERNAL.code,
                  message=ANALYSIS_INTERNAL.message)


def _store(analysis_id, result: Review) -> None:
    with transaction.atomic():
        row = Analysis.objects.select_for_update().filter(pk=analysis_id, status=AnalysisStatus.RUNNING).first()
        if row is None:
            return  # cancelled or deleted while the model wrote
        row.findings.all().delete()  # a re-delivered run replaces what a lost worker may have half-written
        anchors = []
        for position, found in enumerate(result.findings):
            finding = Finding.objects.create(
                analysis=row, position=position, item=found.item, category=found.title[:200], present=found.present,
                answer=found.answer, risk=found.risk, risk_note=found.risk_note)
            anchors.extend(anchor_rows(found.quotes, finding=finding))
        Anchor.objects.bulk_create(anchors)
        for field in ("windows", "prompt_tokens", "cached_prompt_tokens", "generated_tokens", "prefill_seconds",
                      "decode_seconds", "seconds", "repaired"):
            setattr(row, field, getattr(result, field))
        row.model_id = model_label(result.model_id) or row.model_id
        row.cited_pages, row.missed_by_model = list(result.cited_pages), list(result.missed_by_model)
        row.unanswered = list(result.unanswered)
        _finish(row, status=AnalysisStatus.READY, stage="Ready")


def anchor_rows(quotes, **owner) -> list[Anchor]:
    return [Anchor(position=n, quote=q.text, verified=q.verified, start=q.start, end=q.end, pages=list(q.pages),
                   exact=q.exact, score=q.score, **owner) for n, q in enumerate(quotes)]


def _finish_by_id(analysis_id, **outcome) -> None:
    with transaction.atomic():
        row = Analysis.objects.select_for_update().filter(pk=analysis_id).first()
        if row is not None and not row.is_terminal:
            _finish(row, **outcome)


def _finish(row: Analysis, *, status: str, stage: str = "", code: str = "", message: str = "") -> None:
    """End an analysis (inside the caller's transaction) and, for the automatic one, let its document be ready."""
    row.status, row.stage = status, (stage or AnalysisStatus(status).label)[:200]
    row.progress = 100 if status == AnalysisStatus.READY else row.progress
    row.error_code, row.error_message = code[:40], message
    row.finished_at = timezone.now()
    row.save()
    if row.automatic:
        states.document_move(row.document_id, to=DocumentStatus.READY, stage="Ready")
