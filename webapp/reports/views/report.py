"""The report page, and the actions taken from it: run a playbook, cancel an analysis, ask a follow-up."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from webapp.documents.selectors import document_get
from webapp.errors import AppError
from webapp.pipeline import analyses, followups
from webapp.reports.presenters.findings import followup_row
from webapp.reports.models import FollowUpStatus
from webapp.reports.playbooks import playbook_choices
from webapp.reports.presenters.report_parts import ReportParts
from webapp.reports.selectors import (
    analyses_for_document,
    analysis_get,
    analysis_status_payload,
    followups_for_document,
    report_get_for_document,
)
from webapp.reports.services import report_viewed
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action

# What the first pass took the document to be (Report.kind), as the page's heading says it.
KIND_LABELS = {"contract": "Contract", "report": "Report"}


@login_required
@require_GET
def report_detail_view(request: HttpRequest, document_id) -> HttpResponse:
    report = report_get_for_document(user=request.user, document_id=document_id, with_first_pass=False)
    report_viewed(report=report, user=request.user)
    document = report.document
    runs = analyses_for_document(document=document)
    shown = _shown_analysis(runs, request.GET.get("analysis", ""))
    role = permissions.role_of(user=request.user, workspace=document.workspace)
    parts = ReportParts(request=request, report=report, shown=shown,
                        can_analyse=permissions.role_allows(role, Action.ANALYSE),
                        can_export=permissions.role_allows(role, Action.EXPORT))
    asked = followups_for_document(document=document)
    quoted = any(f.anchors.all() for f in asked)
    return render(request, "reports/detail.html", {
        "report": report, "document": document, "kind_label": KIND_LABELS.get(report.kind, "Document"),
        "parts": parts, "analyses": runs, "shown": shown,
        "followups": [followup_row(f, parts.text if quoted else "") for f in asked],
        "followups_pending": any(f.status == FollowUpStatus.QUEUED for f in asked),
        "can_analyse": parts.can_analyse, "playbooks": playbook_choices(workspace=document.workspace),
        "engine_configured": settings.QUIRE_ENGINE != "none",
    })


def _shown_analysis(runs, wanted: str):
    """The analysis the page shows: the one asked for, else the newest that finished, else the newest."""
    if wanted:
        chosen = next((a for a in runs if str(a.id) == wanted), None)
        if chosen is not None:
            return chosen
    return next((a for a in runs if a.status == "ready"), runs[0] if runs else None)


@login_required
@require_POST
def analysis_start_view(request: HttpRequest, document_id) -> HttpResponse:
    document = document_get(user=request.user, document_id=document_id)
    try:
        started = analyses.analysis_start(document=document, user=request.user,
                                          playbook_name=request.POST.get("playbook", ""))
    except AppError as error:
        messages.error(request, error.message)
        return redirect("reports:detail", document_id=document.id)
    messages.success(request, f"“{started.playbook_title}” is queued for the model.")
    return redirect(f"{reverse('reports:detail', args=[document.id])}?analysis={started.id}")


@login_required
@require_POST
def analysis_cancel_view(request: HttpRequest, analysis_id) -> HttpResponse:
    found = analysis_get(user=request.user, analysis_id=analysis_id)
    analyses.analysis_cancel(analysis=found, user=request.user)
    return redirect(f"{reverse('reports:detail', args=[found.document_id])}?analysis={found.id}")


@login_required
@require_GET
def analysis_status_view(request: HttpRequest, analysis_id) -> JsonResponse:
    response = JsonResponse(analysis_status_payload(analysis_get(user=request.user, analysis_id=analysis_id)))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def followup_ask_view(request: HttpRequest, document_id) -> HttpResponse:
    document = document_get(user=request.user, document_id=document_id)
    try:
        followups.followup_ask(document=document, user=request.user, question=request.POST.get("question", ""))
    except AppError as error:
        messages.error(request, error.message)
    return redirect(f"{reverse('reports:detail', args=[document.id])}#followups")


@login_required
@require_GET
def followups_status_view(request: HttpRequest, document_id) -> JsonResponse:
    """Whether any question about the document still waits for its answer (the page reloads when none does), and
    the answers being written so far, which the page shows as they arrive (as text, never as HTML)."""
    document = document_get(user=request.user, document_id=document_id)
    waiting = dict(document.followups.filter(status=FollowUpStatus.QUEUED).values_list("id", "answer"))
    response = JsonResponse({"id": str(document.id), "status": "queued" if waiting else "answered",
                             "status_label": f"{len(waiting)} waiting" if waiting else "Answered", "progress": 0,
                             "stage": "", "error": "", "terminal": not waiting,
                             "answers": {str(pk): answer for pk, answer in waiting.items()}})
    response["Cache-Control"] = "no-store"
    return response
