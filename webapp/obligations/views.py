"""The workspace calendar, members' private feed links, and the feed itself (an ICS file a calendar program fetches
with the token in its URL, no session)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from analysis.obligations.model import KINDS
from webapp.documents.selectors import document_list
from webapp.obligations import feeds, services
from webapp.obligations.selectors import feed_active, feed_for_token, obligations_for_workspace
from webapp.workspaces.selectors import workspace_get

KIND_LABELS = {"effective": "Effective date", "expiry": "Expiry", "renewal": "Renewal",
               "notice_deadline": "Last day for notice", "payment": "Payment", "delivery": "Delivery"}


@login_required
@require_GET
def calendar_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    kind, document_id = request.GET.get("kind", ""), request.GET.get("document", "")
    documents = document_list(user=request.user, workspace=workspace).filter(obligations__isnull=False).distinct()
    if document_id not in {str(d.pk) for d in documents}:
        document_id = ""
    past = request.GET.get("when") == "past"
    rows = obligations_for_workspace(user=request.user, workspace=workspace, kind=kind, document_id=document_id,
                                     past=past)[:500]
    return render(request, "obligations/calendar.html", {
        "workspace": workspace, "rows": [(row, feeds.passage_url(row), KIND_LABELS.get(row.kind, row.kind)) for row in rows],
        "kinds": [(k, KIND_LABELS[k]) for k in KINDS], "kind": kind if kind in KINDS else "", "documents": documents,
        "document_id": document_id, "past": past, "feed": feed_active(user=request.user, workspace=workspace),
        "today": timezone.localdate(),
    })


@login_required
@require_POST
def feed_create_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    created = services.feed_create(workspace=workspace, user=request.user)
    url = request.build_absolute_uri(reverse("obligations:feed", args=[created.token]))
    messages.success(request, f"Your private calendar feed (shown once; anyone with it can read these dates): {url}")
    return redirect("obligations:calendar", workspace_id=workspace.id)


@login_required
@require_POST
def feed_revoke_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    services.feed_revoke(workspace=workspace, user=request.user)
    messages.success(request, "Your calendar feed of this workspace no longer works.")
    return redirect("obligations:calendar", workspace_id=workspace.id)


@require_GET
def feed_view(request: HttpRequest, token: str) -> HttpResponse:
    """No login: the token is the credential. Any failure is the same 404."""
    feed = feed_for_token(token)
    if feed is None:
        raise Http404("No such feed.")
    body = services.feed_read(feed=feed, base_url=request.build_absolute_uri("/").rstrip("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="quire-obligations.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response
