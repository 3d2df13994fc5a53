"""Batch runs: a playbook queued over the selected (or all filtered) documents of a workspace, one analysis per
document on the engine queue; one aggregate progress; cancel them all; run the failed ones again.

Every analysis is started through the pipeline (pipeline.analyses.analysis_start), with its checks: a document
that is not ready, or already has this playbook queued or running, is skipped and counted, never queued twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, Sum
from django.utils import timezone

from webapp.errors import AppError
from webapp.pipeline.analyses import AnalysisRefusedError, analysis_cancel, analysis_start
from webapp.reports.models import AnalysisStatus
from webapp.reports.playbooks import playbook_for_workspace
from webapp.tables.models import BatchRun
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action

MAX_DOCUMENTS = 10_000
ACTIVE = (AnalysisStatus.QUEUED, AnalysisStatus.RUNNING)


class BatchRefusedError(AppError):
    code = "batch_refused"


@dataclass(frozen=True)
class BatchProgress:
    total: int
    queued: int
    running: int
    ready: int
    failed: int
    cancelled: int
    percent: int  # over all analyses of the batch, finished ones counting 100

    @property
    def finished(self) -> bool:
        return self.queued == 0 and self.running == 0

    @property
    def label(self) -> str:
        parts = [f"{self.ready} ready"]
        parts += [f"{n} {what}" for n, what in ((self.running, "running"), (self.queued, "queued"),
                                                 (self.failed, "failed"), (self.cancelled, "cancelled")) if n]
        return f"{', '.join(parts)} of {self.total}"


def batch_start(*, workspace, user, playbook_name: str, documents, auto_join: bool = False) -> BatchRun:
    """Queue `playbook_name` over `documents` (already narrowed to the workspace and the user's view); with
    `auto_join`, documents that become ready later join the batch too."""
    permissions.require(user=user, workspace=workspace, action=Action.ANALYSE)
    playbook = playbook_for_workspace(workspace=workspace, name=playbook_name)
    documents = list(documents[: MAX_DOCUMENTS + 1])
    if not documents:
        raise BatchRefusedError("Choose at least one document.")
    if len(documents) > MAX_DOCUMENTS:
        raise BatchRefusedError(f"A batch is at most {MAX_DOCUMENTS:,} documents.")
    batch = BatchRun.objects.create(workspace=workspace, playbook_name=playbook.name, playbook_title=playbook.title[:200],
                                    requested_by=user, auto_join=auto_join)
    _queue(batch, documents, user=user)
    return batch


def _queue(batch: BatchRun, documents, *, user) -> None:
    skipped: dict[str, int] = dict(batch.skipped)
    for document in documents:
        try:
            started = analysis_start(document=document, user=user, playbook_name=batch.playbook_name)
        except AnalysisRefusedError as error:
            skipped[error.message] = skipped.get(error.message, 0) + 1
            continue
        batch.analyses.add(started)
    BatchRun.objects.filter(pk=batch.pk).update(skipped=skipped)
    batch.skipped = skipped


def batch_cancel(*, batch: BatchRun, user) -> int:
    """Cancel every queued or running analysis of the batch; the count asked to stop."""
    permissions.require(user=user, workspace=batch.workspace, action=Action.ANALYSE)
    active = list(batch.analyses.filter(status__in=ACTIVE).select_related("document__workspace"))
    for analysis in active:
        analysis_cancel(analysis=analysis, user=user)
    BatchRun.objects.filter(pk=batch.pk).update(cancelled_at=timezone.now(), auto_join=False)
    return len(active)


def batch_rerun_failed(*, batch: BatchRun, user) -> int:
    """Queue the batch's playbook again for each document whose analysis in this batch failed (and has not been run
    again since); the count queued."""
    permissions.require(user=user, workspace=batch.workspace, action=Action.ANALYSE)
    failed = batch.analyses.filter(status=AnalysisStatus.FAILED).select_related("document__workspace")
    retried = set(batch.analyses.exclude(status=AnalysisStatus.FAILED).values_list("document_id", flat=True))
    documents = {a.document_id: a.document for a in failed if a.document_id not in retried}
    before = batch.analyses.count()
    _queue(batch, list(documents.values()), user=user)
    return batch.analyses.count() - before


def batch_progress(batch: BatchRun) -> BatchProgress:
    counted = batch.analyses.aggregate(
        total=Count("pk"), progress=Sum("progress", filter=Q(status__in=ACTIVE)),
        **{status: Count("pk", filter=Q(status=status)) for status in AnalysisStatus.values})
    total = counted["total"]
    done = total - counted["queued"] - counted["running"]
    percent = int((done * 100 + (counted["progress"] or 0)) / total) if total else 100
    return BatchProgress(total=total, queued=counted["queued"], running=counted["running"], ready=counted["ready"],
                         failed=counted["failed"], cancelled=counted["cancelled"], percent=min(percent, 100))


def batch_status_payload(batch: BatchRun) -> dict:
    """What the table page polls (the shape live.js reads for a single item)."""
    progress = batch_progress(batch)
    return {"id": str(batch.id), "status": "ready" if progress.finished else "analysing",
            "status_label": "Done" if progress.finished else "Running", "progress": progress.percent,
            "stage": progress.label, "error": f"{progress.failed} failed" if progress.failed else "",
            "terminal": progress.finished}



def batches_join(*, document) -> int:
    """A document became ready: each live batch of its workspace that takes new documents queues its playbook for it,
    as the member who started the batch (skipped if they may no longer run analyses there, or if the batch already
    ran it on this document). The count joined. Called by tables/tasks.py; safe to run twice."""
    joined = 0
    for batch in BatchRun.objects.filter(workspace_id=document.workspace_id, auto_join=True, cancelled_at__isnull=True,
                                         created_at__lt=document.updated_at).select_related("requested_by"):
        user = batch.requested_by
        if user is None or not permissions.role_allows(permissions.role_of(user=user, workspace=document.workspace),
                                                       Action.ANALYSE):
            continue
        if batch.analyses.filter(document=document).exists():
            continue
        before = batch.analyses.count()
        _queue(batch, [document], user=user)
        joined += batch.analyses.count() - before
    return joined
