"""The report page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.reports.first_pass import SCORE_CHOICES, first_pass_page
from webapp.reports.selectors import report_document_text, report_get_for_document
from webapp.reports.services import report_viewed


@login_required
@require_GET
def report_detail_view(request: HttpRequest, document_id) -> HttpResponse:
    report = report_get_for_document(user=request.user, document_id=document_id)
    report_viewed(report=report, user=request.user)
    first_pass = first_pass_page(
        stored=report.first_pass,
        text=report_document_text(report=report) if report.first_pass else "",
        category=request.GET.get("category", ""),
        min_score=request.GET.get("min_score", ""),
        kind=request.GET.get("kind", ""),
    )
    return render(request, "reports/detail.html", {"report": report, "document": report.document,
                                                   "first_pass": first_pass, "score_choices": SCORE_CHOICES})
