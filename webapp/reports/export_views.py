"""Downloads of an analysis in each export format, and the comment and review actions on its findings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from analysis.errors import QuireError
from webapp.reports import comments
from webapp.reports.exports import ExportRefusedError, export_analysis
from webapp.reports.selectors import analysis_get, finding_get


@login_required
@require_GET
def analysis_export_view(request: HttpRequest, analysis_id, fmt: str) -> HttpResponse:
    found = analysis_get(user=request.user, analysis_id=analysis_id)
    try:
        exported = export_analysis(analysis=found, user=request.user, fmt=fmt,
                                   category=request.GET.get("finding_category", ""), risk=request.GET.get("risk", ""),
                                   verified_only=request.GET.get("verified") == "1")
    except ExportRefusedError as error:
        raise Http404(error.message) from None
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _back(finding) -> HttpResponse:
    return redirect(f"{reverse('reports:detail', args=[finding.analysis.document_id])}?analysis={finding.analysis_id}"
                    f"#finding-{finding.pk}")


@login_required
@require_POST
def finding_comment_view(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = finding_get(user=request.user, finding_id=finding_id)
    try:
        comments.finding_comment(finding=finding, user=request.user, text=request.POST.get("text", ""))
    except QuireError as error:
        messages.error(request, error.message)
    return _back(finding)


@login_required
@require_POST
def finding_review_view(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = finding_get(user=request.user, finding_id=finding_id)
    try:
        comments.finding_set_review_state(finding=finding, user=request.user, state=request.POST.get("state", ""))
    except QuireError as error:
        messages.error(request, error.message)
    return _back(finding)
