"""The workspace table page, its exports, and the batch-run actions taken from it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from webapp.documents.models import DocumentStatus
from webapp.documents.selectors import document_list
from webapp.errors import AppError, NotFoundError
from webapp.reports import review
from webapp.reports.models import ReviewState
from webapp.reports.page_cache import cached_part, part_key
from webapp.reports.playbooks import playbook_choices, playbook_for_workspace
from webapp.reports.selectors import finding_get
from webapp.tables import batches
from webapp.tables.columns import table_columns
from webapp.tables.export_jobs import DIRECT_EXPORT_ROWS, export_job_for_user, export_job_start, export_status_payload
from webapp.tables.exports import FORMATS, table_export
from webapp.tables.grid import grid_rows
from webapp.tables.query import OPS, REVIEW_FILTERS, RISKS, parse_table_query
from webapp.tables.selectors import batch_get, batches_for_workspace, export_jobs_for, table_data_version, table_page
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action
from webapp.workspaces.selectors import membership_list, workspace_get


def _table(request: HttpRequest, workspace):
    choices = playbook_choices(workspace=workspace)
    wanted = request.GET.get("playbook") or request.POST.get("playbook") or "contract"
    name = wanted if wanted in {c.name for c in choices} else "contract"
    columns = table_columns(playbook_for_workspace(workspace=workspace, name=name))
    query = parse_table_query(request.GET, columns=columns, playbooks={c.name for c in choices})
    return choices, columns, query


@login_required
@require_GET
def table_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    choices, columns, query = _table(request, workspace)
    role = permissions.role_of(user=request.user, workspace=workspace)
    can_analyse = permissions.role_allows(role, Action.ANALYSE)
    grid, total = _grid(request, workspace, columns, query, can_analyse)
    filters = list(query.filters) + [None] * max(0, 3 - len(query.filters))  # room for up to three in the form
    return render(request, "tables/table.html", {
        "workspace": workspace, "columns": columns, "query": query, "grid": grid, "playbooks": choices,
        "filters": filters, "ops": OPS, "risks": RISKS, "reviews": REVIEW_FILTERS, "statuses": DocumentStatus.choices,
        "export_query": urlencode(query.as_params(after="")),
        "can_analyse": can_analyse,
        "can_export": permissions.role_allows(role, Action.EXPORT),
        "batches": [(b, batches.batch_progress(b)) for b in batches_for_workspace(workspace=workspace)],
        "members": list(membership_list(workspace=workspace).select_related("user")) if permissions.role_allows(role, Action.ANALYSE) else [],
        "review_states": ReviewState.choices, "here": request.get_full_path(),
        "export_in_worker": total > DIRECT_EXPORT_ROWS,
        "export_params": sorted(query.as_params(after="").items()),
        "export_jobs": export_jobs_for(user=request.user, workspace=workspace),
    })


def _grid(request, workspace, columns, query, can_analyse: bool) -> tuple[SafeString, int]:
    """The rows of the page, drawn once per state of the workspace's data (table_data_version) and query, and kept in
    the cache like the report page's parts: a team reviewing the same table draws it once."""
    reader = request.user.pk if query.review == "assigned_to_me" else None  # the only filter that depends on who asks
    key = part_key("table", str(workspace.pk), table_data_version(workspace=workspace), tuple(c.key for c in columns),
                   tuple(c.title for c in columns), tuple(sorted(query.as_params().items())), can_analyse, reader)

    def draw() -> tuple[str, int]:
        page = table_page(user=request.user, workspace=workspace, columns=columns, query=query)
        html = render_to_string("tables/_grid.html", {
            "page": page, "rows": grid_rows(page.rows, can_analyse=can_analyse), "query": query, "headers": _headers(columns, query), "can_analyse": can_analyse,
            "next_url": f"?{urlencode(query.as_params(after=page.next_cursor))}" if page.next_cursor else "",
            "first_url": f"?{urlencode(query.as_params(after=''))}" if query.after else "",
            "colspan": len(columns) + 2})
        return html, page.total

    html, total = cached_part(key, draw)
    return mark_safe(html), total  # noqa: S308 - drawn by our template with autoescape on


def _headers(columns, query) -> list[dict]:
    """The sortable column heads: a click sorts by that column, a second click reverses."""
    heads = [("name", "Document")] + [(c.key, c.title) for c in columns]
    return [{"key": key, "title": title, "sorted": query.sort == key, "desc": query.sort == key and query.descending,
             "url": "?" + urlencode(query.as_params(sort=key, after="",
                                                    dir="desc" if query.sort == key and not query.descending else ""))}
            for key, title in heads]


@login_required
@require_GET
def table_export_view(request: HttpRequest, workspace_id, fmt: str) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    _, columns, query = _table(request, workspace)
    try:
        exported = table_export(user=request.user, workspace=workspace, columns=columns, query=query, fmt=fmt,
                                base_url=request.build_absolute_uri("/").rstrip("/"))
    except NotFoundError as error:
        raise Http404(error.message) from None
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def batch_start_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    documents = document_list(user=request.user, workspace=workspace)
    if request.POST.get("scope") != "all":
        documents = documents.filter(pk__in=request.POST.getlist("document")[:batches.MAX_DOCUMENTS])
    try:
        batch = batches.batch_start(workspace=workspace, user=request.user, documents=documents.order_by("-created_at"),
                                    playbook_name=request.POST.get("playbook", "contract"),
                                    auto_join=request.POST.get("auto_join") == "1")
    except AppError as error:
        messages.error(request, error.message)
        return redirect(reverse("tables:table", args=[workspace.id]))
    queued = batch.analyses.count()
    skipped = sum(batch.skipped.values())
    messages.success(request, f"“{batch.playbook_title}” queued for {queued} document{'s' if queued != 1 else ''}"
                              + (f"; {skipped} skipped" if skipped else "") + ".")
    return redirect(f"{reverse('tables:table', args=[workspace.id])}?playbook={batch.playbook_name}")


def _back_to_batch(batch) -> HttpResponse:
    """The table of the batch's playbook, where the batch's bar is."""
    return redirect(f"{reverse('tables:table', args=[batch.workspace_id])}?playbook={batch.playbook_name}")


@login_required
@require_POST
def batch_cancel_view(request: HttpRequest, batch_id) -> HttpResponse:
    batch = batch_get(user=request.user, batch_id=batch_id)
    stopped = batches.batch_cancel(batch=batch, user=request.user)
    messages.success(request, f"Asked {stopped} analyses to stop.")
    return _back_to_batch(batch)


@login_required
@require_POST
def batch_rerun_view(request: HttpRequest, batch_id) -> HttpResponse:
    batch = batch_get(user=request.user, batch_id=batch_id)
    queued = batches.batch_rerun_failed(batch=batch, user=request.user)
    messages.success(request, f"Queued {queued} failed analyses again.")
    return _back_to_batch(batch)


@login_required
@require_GET
def batch_status_view(request: HttpRequest, batch_id) -> JsonResponse:
    response = JsonResponse(batches.batch_status_payload(batch_get(user=request.user, batch_id=batch_id)))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def cell_review_view(request: HttpRequest, finding_id: int) -> HttpResponse:
    """Review one cell from the table: its state, who is asked to review it, a comment; back to the same table."""
    finding = finding_get(user=request.user, finding_id=finding_id)
    workspace = finding.analysis.document.workspace
    back = request.POST.get("next", "")
    if not back.startswith(reverse("tables:table", args=[workspace.id])):
        back = reverse("tables:table", args=[workspace.id])  # never an address someone else chose
    try:
        state = request.POST.get("state", "")
        if state and state != finding.review_state:
            review.finding_set_review_state(finding=finding, user=request.user, state=state)
        if "assignee" in request.POST:
            members = {str(m.user_id): m.user for m in membership_list(workspace=workspace).select_related("user")}
            wanted = request.POST.get("assignee", "")
            if wanted and wanted not in members:
                raise NotFoundError("No such member.")
            review.finding_assign(finding=finding, user=request.user, assignee=members.get(wanted))
        if request.POST.get("comment", "").strip():
            review.finding_comment(finding=finding, user=request.user, text=request.POST["comment"])
    except AppError as error:
        messages.error(request, error.message)
    return redirect(back)


@login_required
@require_POST
def export_job_start_view(request: HttpRequest, workspace_id, fmt: str) -> HttpResponse:
    """A large export: a worker writes it; the table page shows its progress and the download when it is ready."""
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    params = {key: value for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
    try:
        export_job_start(workspace=workspace, user=request.user, fmt=fmt, params=params,
                         base_url=request.build_absolute_uri("/").rstrip("/"))
    except NotFoundError as error:
        raise Http404(error.message) from None
    messages.success(request, "The export is being written; its link appears here when it is ready.")
    return redirect(f"{reverse('tables:table', args=[workspace.id])}?{urlencode(params)}")


def _own_export(request: HttpRequest, job_id):
    try:
        return export_job_for_user(user=request.user, job_id=job_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


@login_required
@require_GET
def export_job_status_view(request: HttpRequest, job_id) -> JsonResponse:
    job = _own_export(request, job_id)
    response = JsonResponse(export_status_payload(job))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def export_job_download_view(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_export(request, job_id)
    if not job.file:
        raise Http404("The export is not ready.")
    response = FileResponse(job.file.open("rb"), as_attachment=True, filename=job.filename,
                            content_type=FORMATS[job.fmt])
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
