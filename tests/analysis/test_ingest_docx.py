"""DOCX ingestion: body paragraphs and tables in order, explicit page breaks, damage."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
from docx.enum.text import WD_BREAK
import pytest

from analysis.errors import CorruptDocumentError, NoTextError
from analysis.ingest import ingest
from analysis.ingest import docx as docx_reader


def table_cell_texts(path: Path) -> list[str]:
    document = docx.Document(str(path))
    return [
        cell.text.strip()
        for table in document.tables
        for row in table.rows
        for cell in row.cells
        if cell.text.strip()
    ]


def test_cloud_service_agreement_includes_table_text(corpus: Path) -> None:
    path = corpus / "docx/common-paper-cloud-service-agreement.docx"
    document = ingest(path)
    assert document.kind == "docx"
    assert len(document.pages) == 1
    assert document.word_count > 5000
    collapsed = " ".join(document.text.split())
    cells = table_cell_texts(path)
    assert len(cells) > 10
    for cell in cells:
        assert " ".join(cell.split()) in collapsed


def test_all_text_in_tables_is_still_read(corpus: Path) -> None:
    document = ingest(corpus / "docx/bonterms-professional-services-agreement.docx")
    assert document.text.strip()
    assert "Bonterms Professional Services Agreement" in document.text
    assert document.metadata.title == "Example Cover Page for Bonterms PSA"
    assert document.metadata.author == "Bonterms"


def test_images_only_document_fails_as_no_text(corpus: Path) -> None:
    with pytest.raises(NoTextError) as info:
        ingest(corpus / "docx/python-docx_having-images.docx")
    assert info.value.code == "no_text"


def test_truncated_docx_is_corrupt(corpus: Path, tmp_path: Path) -> None:
    data = (corpus / "docx/yc-safe-valuation-cap.docx").read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CorruptDocumentError) as info:
        ingest(path)
    assert info.value.code == "corrupt"
    assert info.value.message.startswith("This Word document is damaged")


def test_missing_main_part_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "hollow.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/styles.xml", "<styles/>")
    with pytest.raises(CorruptDocumentError):
        ingest(path, kind="docx")


def test_paragraphs_and_tables_keep_document_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Before the table.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Fee"
    table.cell(0, 1).text = "USD 100"
    document.add_paragraph("After the table.")
    path = tmp_path / "ordered.docx"
    document.save(str(path))

    text = ingest(path).text
    assert text.index("Before the table.") < text.index("Fee") < text.index("USD 100")
    assert text.index("USD 100") < text.index("After the table.")


def test_explicit_page_breaks_split_pages(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("First page.")
    document.add_page_break()
    paragraph = document.add_paragraph("Second page ")
    paragraph.add_run().add_break(WD_BREAK.LINE)
    paragraph.add_run("continues.")
    path = tmp_path / "paged.docx"
    document.save(str(path))

    ingested = ingest(path)
    assert len(ingested.pages) == 2
    assert ingested.page_text(1) == "First page."
    assert ingested.page_text(2) == "Second page \ncontinues."


def test_oversized_unpacked_content_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = docx.Document()
    document.add_paragraph("Small, but over a lowered limit.")
    path = tmp_path / "bomb.docx"
    document.save(str(path))
    monkeypatch.setattr(docx_reader, "_MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(CorruptDocumentError, match="implausible size"):
        ingest(path)


def test_progress_is_reported_once(corpus: Path) -> None:
    calls: list[tuple[int, int]] = []
    ingest(corpus / "docx/common-paper-mutual-nda.docx", progress=lambda *a: calls.append(a))
    assert calls == [(1, 1, "Reading the document")]
