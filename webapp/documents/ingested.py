"""The one translation between a document's rows and the analysis package's IngestedDocument, both ways: ingestion's
result saved as pages and columns, and those rows read back for every step that hands the document to `analysis`
(the first pass, a model's review, a follow-up question)."""

from __future__ import annotations

from analysis.ingest import Box, IngestedDocument, Line, Metadata, Page
from webapp.documents.models import Document, DocumentPage


def ingested_columns(ingested: IngestedDocument) -> dict:
    """The Document columns ingestion fills (text, counts, language, title/author/warnings)."""
    return {
        "text": ingested.text,
        "page_count": len(ingested.pages),
        "word_count": ingested.word_count,
        "language": ingested.metadata.language or "",
        "ingest_info": {
            "title": ingested.metadata.title,
            "author": ingested.metadata.author,
            "warnings": list(ingested.warnings),
            "pages_estimated": any(page.estimated for page in ingested.pages),
        },
    }


def page_rows(document: Document, ingested: IngestedDocument) -> list[DocumentPage]:
    return [
        DocumentPage(
            document=document, number=page.number, start=page.start, end=page.end, width=page.width,
            height=page.height, source=page.source, estimated=page.estimated, furniture=list(page.furniture),
            lines=[[line.start, line.end, round(line.box.x0, 2), round(line.box.y0, 2), round(line.box.x1, 2),
                    round(line.box.y1, 2)] for line in page.lines],
        )
        for page in ingested.pages
    ]


def _page(row: DocumentPage) -> Page:
    return Page(
        number=row.number,
        start=row.start,
        end=row.end,
        width=row.width,
        height=row.height,
        lines=tuple(Line(start=s, end=e, box=Box(x0, y0, x1, y1)) for s, e, x0, y0, x1, y1 in row.lines),
        furniture=tuple(row.furniture),
        source=row.source,
        estimated=row.estimated,
    )


def document_as_ingested(document: Document) -> IngestedDocument:
    """Rebuild the analysis package's view of an ingested document from its rows."""
    info = document.ingest_info or {}
    pages = tuple(_page(row) for row in document.pages.all())
    return IngestedDocument(
        kind=document.kind,
        text=document.text,
        pages=pages,
        metadata=Metadata(
            title=info.get("title"),
            author=info.get("author"),
            page_count=len(pages),
            language=document.language or None,
        ),
        warnings=tuple(info.get("warnings", ())),
    )
