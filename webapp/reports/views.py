"""The report page, and the actions taken from it: run a playbook, cancel an analysis, ask a follow-up."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from analysis.errors import QuireError
from webapp.documents.selectors import document_get
from webapp.reports import analyses, followups
from webapp.reports.document_pane import Span, document_pane
from webapp.reports.first_pass import SCORE_CHOICES, first_pass_page
from webapp.reports.findings_view import RISK_LEVELS, findings_page
from webapp.reports.models import Finding, FollowUpStatus, ReviewState
from webapp.reports.playbooks import playbook_choices
from webapp.reports.selectors import (
    analyses_for_document,
    analysis_findings,
    analysis_get,
    analysis_status_payload,
    followups_for_document,
    report_document_text,
    report_get_for_document,
)
from webapp.reports.services import report_viewed
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action


@login_required
@require_GET
def report_detail_view(request: HttpRequest, document_id) -> HttpResponse:
    report = report_get_for_document(user=request.user, document_id=document_id)
    report_viewed(report=report, user=request.user)
    document = report.document
    runs = analyses_for_document(document=document)
    shown = _shown_analysis(runs, request.GET.get("analysis", ""))
    asked = followups_for_document(document=document)
    needs_text = bool(report.first_pass) or shown is not None or any(f.anchors.all() for f in asked)
    text = report_document_text(report=report) if needs_text else ""
    first_pass = first_pass_page(
        stored=report.first_pass,
        text=text if report.first_pass else "",
        category=request.GET.get("category", ""),
        min_score=request.GET.get("min_score", ""),
        kind=request.GET.get("kind", ""),
    )
    findings = findings_page(
        analysis=shown, findings=analysis_findings(analysis=shown) if shown and shown.status == "ready" else Finding.objects.none(),
        text=text, category=request.GET.get("finding_category", ""), risk=request.GET.get("risk", ""),
        verified_only=request.GET.get("verified") == "1", page=request.GET.get("fpage", "1"),
    )
    images = document.kind == "pdf"
    rows = document.pages.only("number", "start", "end", "estimated", *(("width", "height", "lines") if images else ()))
    pane = document_pane(text=text, pages=rows, total=document.page_count or 0, spans=_marked_spans(findings, first_pass),
                         first_page=request.GET.get("pages", 1), images=images) if text else None
    role = permissions.role_of(user=request.user, workspace=document.workspace)
    kept_filters = _filters_kept(request)
    return render(request, "reports/detail.html", {
        "report": report, "document": document, "first_pass": first_pass, "score_choices": SCORE_CHOICES,
        "pane": pane, "can_export": permissions.role_allows(role, Action.EXPORT), "export_formats": EXPORT_LABELS,
        "filter_query": urlencode(kept_filters), "review_states": ReviewState.values,
        # What links between the panes keep: the findings' filters and page.
        "pane_query": urlencode({**kept_filters, **({"fpage": findings.page_number} if findings.page_number > 1 else {})}),
        "analyses": runs, "shown": shown, "findings": findings, "followups": [findings.followup(f) for f in asked],
        "followups_pending": any(f.status == FollowUpStatus.QUEUED for f in asked),
        "can_analyse": permissions.role_allows(role, Action.ANALYSE),
        "playbooks": playbook_choices(workspace=document.workspace), "risk_levels": RISK_LEVELS,
        "engine_configured": settings.QUIRE_ENGINE != "none",
    })


EXPORT_LABELS = (("pdf", "PDF"), ("docx", "Word"), ("md", "Markdown"), ("json", "JSON"), ("csv", "CSV"))


def _filters_kept(request: HttpRequest) -> dict:
    """The findings filters of this page, for links that must show the same (exports, the other pane)."""
    return {key: request.GET[key] for key in ("finding_category", "risk", "verified") if request.GET.get(key)}


def _marked_spans(findings, first_pass) -> list[Span]:
    """What the document pane marks: the shown findings' verified quotes, and the first pass's passages (a layer
    the reader switches on)."""
    spans = [Span(q.passage.start, q.passage.end, q.key, "finding", row.element_id)
             for row in findings.rows for q in row.quotes if q.verified]
    spans += [Span(r.passage.start, r.passage.end, f"fp{n}", "first-pass")
              for n, r in enumerate(r for _, rows in first_pass.clause_groups for r in rows)]
    return spans


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
    except QuireError as error:
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
    except QuireError as error:
        messages.error(request, error.message)
    return redirect(f"{reverse('reports:detail', args=[document.id])}#followups")


@login_required
@require_GET
def followups_status_view(request: HttpRequest, document_id) -> JsonResponse:
    """Whether any question about the document still waits for its answer (the page reloads when none does)."""
    document = document_get(user=request.user, document_id=document_id)
    waiting = document.followups.filter(status=FollowUpStatus.QUEUED).count()
    response = JsonResponse({"id": str(document.id), "status": "queued" if waiting else "answered",
                             "status_label": f"{waiting} waiting" if waiting else "Answered", "progress": 0,
                             "stage": "", "error": "", "terminal": waiting == 0})
    response["Cache-Control"] = "no-store"
    return response
