"""The audit trail for workspace owners: a page and a CSV download (the download is itself audited)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.audit import services
from webapp.audit.models import AuditAction
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action
from webapp.workspaces.selectors import workspace_get


def audit_csv_response(*, workspace, user) -> StreamingHttpResponse:
    permissions.require(user=user, workspace=workspace, action=Action.VIEW_AUDIT)
    events = services.audit_events_for_workspace(workspace=workspace).iterator()
    services.audit_record(action=AuditAction.EXPORT, actor=user, workspace=workspace, target=workspace,
                          format="csv", what="audit log")
    response = StreamingHttpResponse(services.audit_csv_rows(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="quire-audit-{workspace.id}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def audit_list_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    permissions.require(user=request.user, workspace=workspace, action=Action.VIEW_AUDIT)
    page = Paginator(services.audit_events_for_workspace(workspace=workspace), 100).get_page(request.GET.get("page"))
    return render(request, "audit/list.html", {"workspace": workspace, "page": page})


@login_required
@require_GET
def audit_csv_view(request: HttpRequest, workspace_id) -> StreamingHttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    return audit_csv_response(workspace=workspace, user=request.user)
