"""One error body for every API failure:

    {"error": {"status": 404, "code": "not_found", "message": "...", "fields": {...}}}

`fields` appears only for invalid input, keyed by field name. Django's own ValidationError and
PermissionDenied raised inside services become 400 and 403 like DRF's; the web app's AppError (webapp/errors.py)
answers its own status and code, and an analysis-layer QuireError (a playbook that does not exist, say) 400.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from analysis.errors import QuireError
from webapp.errors import AppError


def _message(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_message(d) for d in detail)
    if isinstance(detail, dict):
        return "Some fields are not valid."
    return str(detail)


def error_response(exc, context):
    if isinstance(exc, AppError):
        return error_body(exc.status, exc.code, exc.message)
    if isinstance(exc, QuireError):
        return error_body(400, exc.code, exc.message)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.messages)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handling (and its logging) takes it
    detail = getattr(exc, "detail", response.data)
    body = {
        "status": response.status_code,
        "code": getattr(exc, "default_code", "error") if not hasattr(detail, "code") else detail.code,
        "message": _message(detail),
    }
    if isinstance(detail, dict):
        body["fields"] = {key: [str(m) for m in (value if isinstance(value, list) else [value])] for key, value in detail.items()}
        body["code"] = "invalid"
    response.data = {"error": body}
    return response


def error_body(status_code: int, code: str, message: str) -> Response:
    return Response({"error": {"status": status_code, "code": code, "message": message}}, status=status_code)


__all__ = ["error_response", "error_body", "status"]
