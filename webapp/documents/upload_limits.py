"""An upload with more files than QUIRE_MAX_FILES_PER_UPLOAD, answered on the two upload routes (the page's and the
API's) with the documented error body naming the limit, instead of Django's bare "Bad Request (400)" page.

Django raises TooManyFilesSent lazily, from whatever first reads request.POST or request.FILES; on the page that is
the CSRF check, before any view runs. So the body is parsed here, ahead of it, and on those two routes only.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, ResolverMatch, resolve

PAGE_UPLOAD = "documents:upload"
API_UPLOAD = "api:document-list"


def too_many_files_message(limit: int) -> str:
    return f"At most {limit} files per upload."


class UploadFileCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.content_type == "multipart/form-data":
            match = _resolve(request)
            if match is not None and match.view_name in (PAGE_UPLOAD, API_UPLOAD):
                try:
                    request.FILES  # parsing is what raises; the views reuse what it parsed
                except TooManyFilesSent:
                    return _refusal(request, match)
        return self.get_response(request)


def _resolve(request: HttpRequest) -> ResolverMatch | None:
    try:
        return resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return None


def _refusal(request: HttpRequest, match: ResolverMatch) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    message = too_many_files_message(limit)
    if match.view_name == PAGE_UPLOAD and "application/json" not in request.headers.get("Accept", ""):
        # The plain form, without JavaScript: back to the workspace with the reason, as its other refusals do.
        messages.error(request, message)
        return redirect("workspaces:detail", workspace_id=match.kwargs["workspace_id"])
    body = {"error": {"status": 400, "code": "too_many_files", "message": message, "limit": limit}}
    return JsonResponse(body, status=400)
