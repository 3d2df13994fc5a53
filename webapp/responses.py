"""HTTP responses for the files services hand back as data, shared by the page views and the API so that both
send the same headers: attachments never render in our origin, and nothing private is kept by a shared cache."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import FileResponse, StreamingHttpResponse

# A document's bytes (the original, its page images) are kept by no cache, shared or the browser's own disk.
PRIVATE_NO_STORE = "private, no-store"


def original_download_response(handle, *, filename: str) -> FileResponse:
    """An uploaded original, always as a download: an uploaded HTML file must never run in our origin."""
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = PRIVATE_NO_STORE
    return response


def csv_download_response(rows: Iterable[str], *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
