"""Page images of PDF documents for the report page: rendered once with PDFium, kept on local disk, served only to
members with caching headers (the bytes of a page never change, so a browser may keep them).

Rendering happens in the web process on first view of a page; one page at a reading width takes tens of
milliseconds. The cache is per document and page, outside the media storage, and safe to delete at any time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified

from webapp.documents.models import Document

WIDTH_PX = 1000  # what the report pane shows at its widest, in device pixels
MAX_SCALE = 4.0


def _cache_path(document: Document, number: int) -> Path:
    return Path(settings.VAR_DIR) / "cache" / "page-images" / str(document.id) / f"{number}-{WIDTH_PX}.png"


def _render(document: Document, number: int, target: Path) -> None:
    import pypdfium2

    from webapp.documents.services import stored_file_path

    with stored_file_path(document) as path:
        pdf = pypdfium2.PdfDocument(path)
        try:
            if not 1 <= number <= len(pdf):
                raise Http404("No such page.")
            page = pdf[number - 1]
            scale = min(MAX_SCALE, WIDTH_PX / max(1.0, page.get_width()))
            image = page.render(scale=scale).to_pil()
        finally:
            pdf.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed, so a reader never sees half a file.
    handle, staging = tempfile.mkstemp(dir=target.parent, suffix=".png.part")
    with os.fdopen(handle, "wb") as out:
        image.save(out, format="PNG", optimize=False)
    os.replace(staging, target)


def page_image_response(*, document: Document, number: int, if_none_match: str = "") -> HttpResponse:
    """The page as PNG; 404 for a document that is not a PDF or a page it does not have."""
    if document.kind != "pdf" or document.status != "ready" or not document.page_count or not 1 <= number <= document.page_count:
        raise Http404("No image for this page.")
    etag = '"' + hashlib.sha256(f"{document.sha256}:{number}:{WIDTH_PX}".encode()).hexdigest()[:32] + '"'
    headers = {"Cache-Control": "private, max-age=604800, immutable", "ETag": etag}
    if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
        response = HttpResponseNotModified()
        for key, value in headers.items():
            response[key] = value
        return response
    target = _cache_path(document, number)
    if not target.is_file():
        try:
            _render(document, number, target)
        except Http404:
            raise
        except Exception as error:  # a page PDFium cannot draw: no image, the text pane still reads
            raise Http404(f"This page could not be drawn ({type(error).__name__}).") from None
    response = FileResponse(target.open("rb"), content_type="image/png")
    for key, value in headers.items():
        response[key] = value
    response["X-Content-Type-Options"] = "nosniff"
    return response
