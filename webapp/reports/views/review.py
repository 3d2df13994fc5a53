"""The review actions on a finding, taken from the report page: a comment, a review state (open, reviewed,
disputed)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from webapp.errors import AppError
from webapp.reports import review
from webapp.reports.selectors import finding_get



def _back(finding) -> HttpResponse:
    return redirect(f"{reverse('reports:detail', args=[finding.analysis.document_id])}?analysis={finding.analysis_id}"
                    f"#finding-{finding.pk}")


@login_required
@require_POST
def finding_comment_view(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = finding_get(user=request.user, finding_id=finding_id)
    try:
        review.finding_comment(finding=finding, user=request.user, text=request.POST.get("text", ""))
    except AppError as error:
        messages.error(request, error.message)
    return _back(finding)


@login_required
@require_POST
def finding_review_view(request: HttpRequest, finding_id: int) -> HttpResponse:
    finding = finding_get(user=request.user, finding_id=finding_id)
    try:
        review.finding_set_review_state(finding=finding, user=request.user, state=request.POST.get("state", ""))
    except AppError as error:
        messages.error(request, error.message)
    return _back(finding)
