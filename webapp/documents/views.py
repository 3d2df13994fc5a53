"""Document pages: upload, detail, live status, original file, delete."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from webapp.documents import selectors, services
from webapp.documents.page_images import page_image, page_image_check, page_image_etag
from webapp.errors import NotFoundError
from webapp.documents.uploads import oversized_names
from webapp.pipeline.restart import document_password_submit, document_retry
from webapp.responses import PRIVATE_NO_STORE, original_download_response
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action
from webapp.workspaces.selectors import workspace_get


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _outcome_json(outcome: services.UploadOutcome) -> dict:
    return {
        "name": outcome.name,
        "outcome": outcome.outcome,
        "message": outcome.message,
        "url": outcome.document and reverse("documents:detail", args=[outcome.document.id]),
        "status_url": outcome.document and reverse("documents:status", args=[outcome.document.id]),
    }


@login_required
@require_POST
def document_upload_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    permissions.require(user=request.user, workspace=workspace, action=Action.UPLOAD)
    wait = services.upload_wait_seconds(user=request.user)
    if wait:
        message = f"Upload limit reached for this hour; try again in {wait // 60 + 1} minutes."
        if _wants_json(request):
            return JsonResponse({"results": [], "error": message}, status=429, headers={"Retry-After": str(wait)})
        messages.error(request, message)
        return redirect("workspaces:detail", workspace_id=workspace.id)
    files = request.FILES.getlist("files")  # parsing streams each file to a temporary file
    outcomes = services.document_upload_many(workspace=workspace, user=request.user, files=files,
                                             oversized_names=oversized_names(request))
    if _wants_json(request):
        status = 200 if outcomes else 400
        return JsonResponse({"results": [_outcome_json(o) for o in outcomes]}, status=status)
    if not outcomes:
        messages.error(request, "Choose at least one file to upload.")
    for outcome in outcomes:
        level = messages.SUCCESS if outcome.ok else messages.WARNING if outcome.outcome == "duplicate" else messages.ERROR
        messages.add_message(request, level, f"{outcome.name}: {outcome.message}")
    return redirect("workspaces:detail", workspace_id=workspace.id)


@login_required
@require_GET
def document_detail_view(request: HttpRequest, document_id) -> HttpResponse:
    document = selectors.document_get(user=request.user, document_id=document_id)
    role = permissions.role_of(user=request.user, workspace=document.workspace)
    report = getattr(document, "report", None) if document.status == "ready" else None
    return render(
        request,
        "documents/detail.html",
        {
            "document": document,
            "report": report,
            "can_delete": permissions.role_allows(role, Action.DELETE),
            "can_analyse": permissions.role_allows(role, Action.ANALYSE),
            "warnings": (document.ingest_info or {}).get("warnings", []),
        },
    )


@login_required
@require_GET
def document_status_view(request: HttpRequest, document_id) -> JsonResponse:
    document = selectors.document_get(user=request.user, document_id=document_id)
    response = JsonResponse(selectors.document_status_payload(document))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def document_file_view(request: HttpRequest, document_id) -> FileResponse:
    document = selectors.document_get(user=request.user, document_id=document_id)
    handle = services.document_download(document=document, user=request.user)
    return original_download_response(handle, filename=document.original_name)


@login_required
@require_GET
def document_page_image_view(request: HttpRequest, document_id, number: int) -> HttpResponse:
    document = selectors.document_get(user=request.user, document_id=document_id)
    # Kept by no cache, as the original is; the ETag still lets a client that kept one anyway revalidate.
    headers = {"Cache-Control": PRIVATE_NO_STORE, "ETag": page_image_etag(document=document, number=number)}
    try:
        page_image_check(document=document, number=number)
        if headers["ETag"] in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            return HttpResponseNotModified(headers=headers)
        image = page_image(document=document, number=number)
    except NotFoundError as error:
        raise Http404(error.message) from None
    response = FileResponse(image.path.open("rb"), content_type="image/png", headers=headers)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def document_password_view(request: HttpRequest, document_id) -> HttpResponse:
    document = selectors.document_get(user=request.user, document_id=document_id)
    password = request.POST.get("password", "")
    if not password:
        messages.error(request, "Enter the PDF's password.")
    else:
        document_password_submit(document=document, user=request.user, password=password)
    return redirect("documents:detail", document_id=document.id)


@login_required
@require_POST
def document_retry_view(request: HttpRequest, document_id) -> HttpResponse:
    document = selectors.document_get(user=request.user, document_id=document_id)
    if document_retry(document=document, user=request.user):
        messages.success(request, f"“{document.original_name}” is queued again.")
    else:
        messages.warning(request, "Only a failed document can be retried.")
    return redirect(request.POST.get("next") == "workspace" and reverse("workspaces:detail", args=[document.workspace_id])
                    or reverse("documents:detail", args=[document.id]))


@login_required
@require_POST
def document_delete_view(request: HttpRequest, document_id) -> HttpResponse:
    document = selectors.document_get(user=request.user, document_id=document_id)
    workspace_id = document.workspace_id
    services.document_delete(document=document, user=request.user)
    messages.success(request, f"Deleted “{document.original_name}”.")
    return redirect("workspaces:detail", workspace_id=workspace_id)
