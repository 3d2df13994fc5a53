"""DOCX ingestion: text in document order, table rows, lists, notes, estimated pages, damage."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.section import WD_SECTION
from docx.enum.text import WD_BREAK
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml.parser import parse_xml

from analysis.errors import CorruptDocumentError, NoTextError
from analysis.ingest import IngestLimits, ingest
from analysis.ingest.docx import ESTIMATED_PAGES_WARNING

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def folded(text: str) -> str:
    return " ".join(text.split())


def table_rows(path: Path) -> list[list[str]]:
    """Each table row's non-empty cell texts, read with python-docx (merged cells once)."""
    document = docx.Document(str(path))
    rows = []
    for table in document.tables:
        for row in table.rows:
            cells = []
            for tc in row._tr.tc_lst:
                text = folded(" ".join(p.text for p in docx.table._Cell(tc, table).paragraphs))
                if text:
                    cells.append(text)
            rows.append(cells)
    return rows


def save(document: docx.document.Document, path: Path) -> Path:
    document.save(str(path))
    return path


def test_cloud_service_agreement_reads_table_rows_as_lines(corpus: Path) -> None:
    path = corpus / "docx/common-paper-cloud-service-agreement.docx"
    document = ingest(path)
    assert document.kind == "docx"
    assert document.word_count > 5000
    lines = [folded(line) for line in document.text.split("\n")]
    rows = [cells for cells in table_rows(path) if len(cells) >= 2]
    assert len(rows) > 10
    for cells in rows:
        # Each row is one line with its cells in order, however long the cells are.
        assert any(" | ".join(cells) in line for line in lines), cells


def test_long_document_gets_estimated_pages_of_about_500_words(corpus: Path) -> None:
    document = ingest(corpus / "docx/common-paper-cloud-service-agreement.docx")
    # About 5,600 words in three sections that each start a new page (w:sectPr without a
    # w:type means "next page"): the section ends and ~500-word steps make about twelve.
    assert 10 <= len(document.pages) <= 14
    assert document.metadata.page_count == len(document.pages)
    assert all(page.estimated for page in document.pages)
    assert document.warnings.count(ESTIMATED_PAGES_WARNING) == 1
    sizes = [len(document.page_text(page.number).split()) for page in document.pages]
    assert max(sizes) <= 800, sizes
    # Only the pages that end a section (two here, plus the last) may be short.
    assert sum(450 <= size <= 800 for size in sizes) >= len(sizes) - 3, sizes
    # Pages cover the text in order, and each begins at the start of a line.
    for before, after in zip(document.pages, document.pages[1:]):
        assert before.end < after.start
        assert document.text[after.start - 1] == "\n"


def test_all_text_in_tables_is_still_read(corpus: Path) -> None:
    document = ingest(corpus / "docx/bonterms-professional-services-agreement.docx")
    assert document.text.strip()
    assert "Bonterms Professional Services Agreement" in document.text
    assert "Governing Law | {governing_law}" in document.text.split("\n")
    assert document.metadata.title == "Example Cover Page for Bonterms PSA"
    assert document.metadata.author == "Bonterms"
    assert len(document.pages) == 1 and document.pages[0].estimated


def test_numbered_paragraphs_in_a_real_contract_are_list_items(corpus: Path) -> None:
    lines = ingest(corpus / "docx/yc-safe-valuation-cap.docx").text.split("\n")
    assert "- Includes all Converting Securities;" in lines
    assert "- Excludes the Unissued Option Pool." in lines


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


def test_paragraphs_and_table_rows_keep_document_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Before the table.")
    table = document.add_table(rows=2, cols=3)
    for row, values in zip(table.rows, (("Fee", "", "USD 100"), ("Term", "1 year", "renewable"))):
        for cell, value in zip(row.cells, values):
            cell.text = value
    table.cell(1, 2).add_paragraph("by notice")
    document.add_paragraph("After the table.")
    text = ingest(save(document, tmp_path / "ordered.docx")).text
    # Empty cells are dropped; a cell's own paragraphs stay on the row's line.
    assert text.split("\n") == [
        "Before the table.",
        "Fee | USD 100",
        "Term | 1 year | renewable by notice",
        "After the table.",
    ]


def test_explicit_page_breaks_split_pages(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("First page.")
    document.add_page_break()
    paragraph = document.add_paragraph("Second page ")
    paragraph.add_run().add_break(WD_BREAK.LINE)
    paragraph.add_run("continues.")
    ingested = ingest(save(document, tmp_path / "paged.docx"))
    assert len(ingested.pages) == 2
    assert ingested.page_text(1) == "First page."
    assert ingested.page_text(2) == "Second page \ncontinues."
    assert all(page.estimated for page in ingested.pages)
    assert ingested.warnings == (ESTIMATED_PAGES_WARNING,)


def test_new_page_sections_break_pages_and_continuous_ones_do_not(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Section one.")
    document.add_section(WD_SECTION.NEW_PAGE)
    document.add_paragraph("Section two.")
    document.add_section(WD_SECTION.CONTINUOUS)
    document.add_paragraph("Section three, same page.")
    document.add_page_break()
    document.add_section(WD_SECTION.ODD_PAGE)
    document.add_paragraph("Section four.")
    ingested = ingest(save(document, tmp_path / "sections.docx"))
    # The page break just before the odd-page section does not leave a blank page behind.
    # python-docx ends each section with an empty paragraph: the blank line on page 2.
    assert [ingested.page_text(n) for n in range(1, len(ingested.pages) + 1)] == [
        "Section one.",
        "Section two.\n\nSection three, same page.",
        "Section four.",
    ]


def test_without_breaks_a_page_ends_at_a_paragraph_after_about_500_words(tmp_path: Path) -> None:
    document = docx.Document()
    for number in range(30):
        document.add_paragraph(f"P{number} " + "word " * 99)
    ingested = ingest(save(document, tmp_path / "long.docx"))
    assert len(ingested.pages) == 6
    for number in range(1, 7):
        lines = ingested.page_text(number).split("\n")
        assert len(lines) == 5
        assert all(line.startswith("P") for line in lines)


def test_headings_stay_bare_lines_and_list_items_get_a_marker(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Definitions", level=1)
    document.add_paragraph("The following terms apply.")
    document.add_paragraph("Bulleted item", style="List Bullet")
    document.add_paragraph("Numbered item", style="List Number")
    document.add_heading("Term", level=2)
    document.add_paragraph("Plain paragraph.")
    assert ingest(save(document, tmp_path / "lists.docx")).text.split("\n") == [
        "Definitions",
        "The following terms apply.",
        "- Bulleted item",
        "- Numbered item",
        "Term",
        "Plain paragraph.",
    ]


def test_numbering_switched_off_on_a_list_style_paragraph_gets_no_marker(tmp_path: Path) -> None:
    document = docx.Document()
    paragraph = document.add_paragraph("Not a list item", style="List Number")
    paragraph._p.get_or_add_pPr().append(
        parse_xml(f'<w:numPr xmlns:w="{W_NS}"><w:ilvl w:val="0"/><w:numId w:val="0"/></w:numPr>')
    )
    assert ingest(save(document, tmp_path / "off.docx")).text == "Not a list item"


def add_notes_part(document: docx.document.Document, kind: str, notes: dict[int, str]) -> None:
    """Give `document` a footnotes or endnotes part, separators included, as Word writes it."""
    entries = [
        f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>',
        f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r>'
        f"<w:continuationSeparator/></w:r></w:p></w:{kind}>",
    ]
    for note_id, text in notes.items():
        ref = "footnoteRef" if kind == "footnote" else "endnoteRef"
        entries.append(
            f'<w:{kind} w:id="{note_id}"><w:p><w:r><w:{ref}/></w:r>'
            f'<w:r><w:t xml:space="preserve"> {text}</w:t></w:r></w:p></w:{kind}>'
        )
    xml = f'<w:{kind}s xmlns:w="{W_NS}">{"".join(entries)}</w:{kind}s>'
    content_type, reltype = (
        (CT.WML_FOOTNOTES, RT.FOOTNOTES) if kind == "footnote" else (CT.WML_ENDNOTES, RT.ENDNOTES)
    )
    part = Part(
        PackURI(f"/word/{kind}s.xml"), content_type, xml.encode(), document.part.package
    )
    document.part.relate_to(part, reltype)


def add_reference(paragraph, kind: str, note_id: int) -> None:
    run = paragraph.add_run()
    run._r.append(parse_xml(f'<w:{kind}Reference xmlns:w="{W_NS}" w:id="{note_id}"/>'))


def test_footnotes_and_endnotes_are_appended_and_marked_in_the_text(tmp_path: Path) -> None:
    document = docx.Document()
    paragraph = document.add_paragraph("Fees are due monthly.")
    add_reference(paragraph, "footnote", 7)
    paragraph = document.add_paragraph("Taxes are extra.")
    add_reference(paragraph, "footnote", 3)
    add_reference(paragraph, "endnote", 1)
    add_notes_part(document, "footnote", {3: "Excluding VAT.", 7: "In arrears.", 9: ""})
    add_notes_part(document, "endnote", {1: "See the price list."})
    text = ingest(save(document, tmp_path / "notes.docx")).text
    # Notes are numbered in reading order, as Word shows them, not by their ids.
    assert text.split("\n") == [
        "Fees are due monthly.[1]",
        "Taxes are extra.[2][i]",
        "",
        "Footnotes",
        "[1] In arrears.",
        "[2] Excluding VAT.",
        "",
        "Endnotes",
        "[i] See the price list.",
    ]


def test_corpus_documents_have_only_separator_footnotes(corpus: Path) -> None:
    # Every corpus DOCX has a footnotes part holding only the separator entries.
    for path in sorted((corpus / "docx").glob("*.docx")):
        if "images" in path.name:
            continue
        assert "Footnotes" not in ingest(path).text.split("\n"), path.name


def test_content_controls_are_read(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Before.")
    document.element.body.insert(
        1,
        parse_xml(
            f'<w:sdt xmlns:w="{W_NS}"><w:sdtPr><w:alias w:val="Party"/></w:sdtPr>'
            "<w:sdtContent><w:p><w:r><w:t>Acme Corp.</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        ),
    )
    assert ingest(save(document, tmp_path / "sdt.docx")).text == "Before.\nAcme Corp."


def test_oversized_unpacked_content_is_refused(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Small, but over a lowered limit.")
    path = save(document, tmp_path / "bomb.docx")
    with pytest.raises(CorruptDocumentError, match="implausible size"):
        ingest(path, limits=IngestLimits(max_uncompressed_bytes=1000))


def test_progress_is_reported_once(corpus: Path) -> None:
    calls: list[tuple[int, int]] = []
    ingest(corpus / "docx/common-paper-mutual-nda.docx", progress=lambda *a: calls.append(a))
    assert calls == [(1, 1, "Reading the document")]
