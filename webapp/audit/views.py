"""The audit trail for workspace owners: a page and a CSV download (the download is itself audited)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.audit import services
from webapp.responses import csv_download_response
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action
from webapp.workspaces.selectors import workspace_get


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
    permissions.require(user=request.user, workspace=workspace, action=Action.VIEW_AUDIT)
    return csv_download_response(services.audit_csv_export(workspace=workspace, user=request.user),
                                 filename=f"quire-audit-{workspace.id}.csv")
