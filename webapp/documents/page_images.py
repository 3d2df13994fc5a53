"""Page images of PDF documents for the report page: rendered once with PDFium, kept on local disk, served only to
members, with an ETag but `Cache-Control: private, no-store` (a page is the document's content: no cache keeps it).

Rendering happens in the web process on first view of a page; one page at a reading width takes tens of
milliseconds. The cache is per document and page, outside the media storage, and safe to delete at any time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from webapp.documents.files import stored_file_path
from webapp.documents.models import Document
from webapp.errors import NotFoundError

WIDTH_PX = 1000  # what the report pane shows at its widest, in device pixels
MAX_SCALE = 4.0


def _cache_path(document: Document, number: int) -> Path:
    return Path(settings.VAR_DIR) / "cache" / "page-images" / str(document.id) / f"{number}-{WIDTH_PX}.png"


def _render(document: Document, number: int, target: Path) -> None:
    import pypdfium2

    with stored_file_path(document) as path:
        pdf = pypdfium2.PdfDocument(path)
        try:
            if not 1 <= number <= len(pdf):
                raise NotFoundError("No such page.")
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


@dataclass(frozen=True)
class PageImage:
    path: Path  # the PNG, drawn and cached
    etag: str  # names the bytes: the document's hash, the page and the width


def page_image_etag(*, document: Document, number: int) -> str:
    return '"' + hashlib.sha256(f"{document.sha256}:{number}:{WIDTH_PX}".encode()).hexdigest()[:32] + '"'


def page_image_check(*, document: Document, number: int) -> None:
    """NotFoundError for a document that is not a PDF, or a page it does not have."""
    if document.kind != "pdf" or document.status != "ready" or not document.page_count or not 1 <= number <= document.page_count:
        raise NotFoundError("No image for this page.")


def page_image(*, document: Document, number: int) -> PageImage:
    """The page as PNG, drawn on first use; NotFoundError where page_image_check says so, or for a page PDFium
    cannot draw (the text pane still reads)."""
    page_image_check(document=document, number=number)
    target = _cache_path(document, number)
    if not target.is_file():
        try:
            _render(document, number, target)
        except NotFoundError:
            raise
        except Exception as error:  # a page PDFium cannot draw
            raise NotFoundError(f"This page could not be drawn ({type(error).__name__}).") from None
    return PageImage(path=target, etag=page_image_etag(document=document, number=number))
