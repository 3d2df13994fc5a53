"""Downloads of an analysis in each export format, with the report page's filters."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from webapp.reports.exports import ExportRefusedError, export_analysis
from webapp.reports.selectors import analysis_get


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
