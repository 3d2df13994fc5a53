"""PDF ingestion on real contracts and on damaged, encrypted, multi-column and scanned files."""

from __future__ import annotations

import re
from pathlib import Path

import pypdfium2
import pytest
from pypdf import PdfReader, PdfWriter

from analysis import ingest as ingest_package
from analysis.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    NoTextError,
    PasswordRequiredError,
    PasswordWrongError,
    QuireError,
    TooManyPagesError,
    UnsupportedTypeError,
)
from analysis.ingest import IngestedDocument, IngestLimits, ingest, pdf
from analysis.ingest.document import PAGE_SEPARATOR, Box, TextSource
from analysis.ingest.furniture import is_page_number, split_furniture
from analysis.ingest.layout import PageLines, TextLine, assemble, join_lines

CONTRACT = (
    "contracts_cuad/"
    "MphaseTechnologiesInc_20030911_10-K_EX-10.15_1560667_EX-10.15_Co-Branding Agreement"
)
# From the first page of the contract's CUAD text.
FIRST_PAGE_PHRASE = (
    "by and between Lucent Technologies Inc., a Delaware corporation having a principal "
    "place of business at 600 Mountain Avenue, Murray Hill, New Jersey 07974"
)
# 154 pages, each ending in the footer "CERES-IGER Collaboration Agreement Page N of 75" (the
# count restarts with the exhibits), printed mid-sheet right under the last line of text.
CERES = "contracts_cuad/CERES,INC_01_25_2012-EX-10.20-Collaboration Agreement.PDF"

EXPECTED_TEXT = {
    "password-example.pdf": "Backup4all",
    "aes-256.pdf": "Secret!",
    "libreoffice-writer-password.pdf": "Lorem ipsum dolor sit amet",
}
ENCRYPTED = [
    ("password-example.pdf", "test"),
    ("aes-256.pdf", "foo"),
    ("libreoffice-writer-password.pdf", "openpassword"),
    ("libreoffice-writer-password.pdf", "permissionpassword"),
]


def collapse(text: str) -> str:
    return " ".join(text.split())


def box(y0: float, y1: float, x0: float = 72.0, x1: float = 540.0) -> Box:
    return Box(x0, y0, x1, y1)


@pytest.fixture(scope="module")
def contract(corpus: Path) -> IngestedDocument:
    return ingest(corpus / f"{CONTRACT}.pdf")


@pytest.fixture(scope="module")
def ceres(corpus: Path) -> IngestedDocument:
    return ingest(corpus / CERES, ocr=False)


# --- a real contract -----------------------------------------------------------------------


def test_contract_page_count_matches_pypdf(corpus: Path, contract: IngestedDocument) -> None:
    expected = len(PdfReader(corpus / f"{CONTRACT}.pdf").pages)
    assert contract.kind == "pdf"
    assert len(contract.pages) == expected == contract.metadata.page_count


def test_contract_text_contains_a_phrase_from_cuad_text(
    corpus: Path, contract: IngestedDocument
) -> None:
    cuad_text = (corpus / f"{CONTRACT}.txt").read_text(encoding="utf-8")
    assert FIRST_PAGE_PHRASE in collapse(cuad_text)
    assert FIRST_PAGE_PHRASE in collapse(contract.page_text(1))
    assert contract.word_count > 500
    assert not contract.warnings


def test_page_offsets_are_exact_and_contiguous(contract: IngestedDocument) -> None:
    assert [page.number for page in contract.pages] == list(range(1, len(contract.pages) + 1))
    assert contract.pages[0].start == 0
    assert contract.pages[-1].end == len(contract.text)
    for before, after in zip(contract.pages, contract.pages[1:]):
        assert after.start == before.end + len(PAGE_SEPARATOR)
        assert contract.text[before.end : after.start] == PAGE_SEPARATOR
    assert PAGE_SEPARATOR.join(contract.page_text(p.number) for p in contract.pages) == (
        contract.text
    )


def test_every_line_indexes_exactly_its_own_text_within_its_page(ceres: IngestedDocument) -> None:
    for page in ceres.pages:
        assert page.lines, page.number
        assert page.lines[0].start == page.start and page.lines[-1].end == page.end
        for before, line in zip(page.lines, page.lines[1:]):
            # Between two lines: a newline, or nothing where a hyphenated word was mended.
            assert ceres.text[before.end : line.start] in ("", "\n")
        for line in page.lines:
            assert page.start <= line.start < line.end <= page.end
            text = ceres.text[line.start : line.end]
            assert text == text.strip() and "\n" not in text


def test_line_boxes_lie_on_the_page_and_follow_reading_order(ceres: IngestedDocument) -> None:
    for page in ceres.pages:
        assert page.width and page.height
        for line in page.lines:
            b = line.box
            assert -1 <= b.x0 < b.x1 <= page.width + 1
            assert -1 <= b.y0 < b.y1 <= page.height + 1
    # The contract's prose reads top to bottom. At most one line per page goes back up: some
    # section headings come last in the page's content stream, and PDFium keeps that order.
    # (The appendix tables further on read row by row, cell by cell, as they should.)
    for page in ceres.pages[2:30]:
        tops = [line.box.y0 for line in page.lines]
        assert sum(b < a - 1 for a, b in zip(tops, tops[1:])) <= 1, page.number


def test_a_line_box_covers_the_words_of_that_line(corpus: Path) -> None:
    document = ingest(corpus / f"{CONTRACT}.pdf")
    line = next(
        line for line in document.pages[0].lines
        if document.text[line.start : line.end].startswith("at 600 Mountain Avenue")
    )  # fmt: skip
    with pypdfium2.PdfDocument(corpus / f"{CONTRACT}.pdf") as source:
        page = source[0]
        textpage = page.get_textpage()
        height = page.get_height()
        # PDFium's own text in that rectangle (bottom-left origin) is the line's text.
        found = textpage.get_text_bounded(
            left=line.box.x0 - 1, right=line.box.x1 + 1,
            bottom=height - line.box.y1 + 1, top=height - line.box.y0 - 1,
        )  # fmt: skip
        textpage.close()
        page.close()
    assert collapse(found) == document.text[line.start : line.end]


# --- furniture ------------------------------------------------------------------------------


def test_running_footers_go_to_furniture_not_to_the_text(ceres: IngestedDocument) -> None:
    footer = re.compile(r"CERES-IGER Collaboration Agreement\s+Page \d+ of \d+")
    assert not footer.search(ceres.text)
    with_footer = [p for p in ceres.pages if any(footer.fullmatch(f) for f in p.furniture)]
    assert len(with_footer) == 74  # the exhibits have footers of their own
    assert "CERES-IGER Collaboration Agreement Page 4 of 75" in ceres.pages[3].furniture


def test_a_sentence_across_a_page_break_reads_on_without_the_footer(
    ceres: IngestedDocument,
) -> None:
    # Page 9 ends mid-sentence above its footer; page 10 carries the sentence on.
    assert ceres.page_text(9).endswith("commercialization rights for CERES on results")
    assert ceres.page_text(10).startswith("obtained by third parties in such collaborative")
    assert "rights for CERES on results\n\nobtained by third parties" in ceres.text
    assert ceres.pages[8].furniture == ("CERES-IGER Collaboration Agreement Page 9 of 75",)


BODY = [
    "The Supplier shall deliver the Goods on the dates set out in Schedule 2.",
    "Risk in the Goods passes to the Buyer on delivery at the agreed place.",
    "Either party may end this agreement by written notice of ninety days.",
    "All notices shall be in writing and sent to the addresses set out above.",
    "This agreement is governed by the laws of the State of New York.",
]


def test_furniture_repeated_on_enough_pages_is_set_aside() -> None:
    pages = [
        [
            TextLine("ACME Supply Agreement - Confidential", box(30, 40)),
            TextLine(BODY[number - 1], box(100, 110)),
            TextLine(BODY[number % 5][::-1], box(112, 122)),
            TextLine(BODY[(number + 1) % 5].upper(), box(124, 134)),
            TextLine(f"Page {number} of 5", box(750, 760)),
        ]
        for number in range(1, 6)
    ]
    splits = split_furniture(pages)
    for number, (lines, split) in enumerate(zip(pages, splits), start=1):
        assert [line.text for line in split.furniture] == [
            "ACME Supply Agreement - Confidential",
            f"Page {number} of 5",
        ]
        assert split.running == tuple(lines[1:4])


def test_a_phrase_on_few_pages_stays_text() -> None:
    pages = [
        [
            TextLine("Title on two pages only" if number < 3 else f"Heading {number}", box(30, 40)),
            TextLine(BODY[number % 5], box(100, 110)),
            TextLine(f"Clause {number}.1 applies to {BODY[(number + 2) % 5]}", box(300, 310)),
            TextLine(BODY[(number + 3) % 5][::-1], box(400, 410)),
        ]
        for number in range(1, 11)
    ]
    splits = split_furniture(pages)
    # "Heading N" repeats as "heading #" on 8 of 10 pages: that is a running header; the
    # two-page title is text, and so are body lines that happen to start or end a page.
    assert [split.furniture for split in splits[2:]] == [(lines[0],) for lines in pages[2:]]
    assert splits[0].furniture == () and splits[1].furniture == ()
    assert all(len(split.running) == 3 for split in splits[2:])


def test_single_page_document_loses_only_its_page_number() -> None:
    lines = [
        TextLine("LETTER AGREEMENT", box(30, 40)),
        TextLine("The parties agree as follows.", box(100, 110)),
        TextLine("- 1 -", box(750, 760)),
    ]
    (split,) = split_furniture([lines])
    assert [line.text for line in split.furniture] == ["- 1 -"]
    assert [line.text for line in split.running] == [
        "LETTER AGREEMENT",
        "The parties agree as follows.",
    ]


@pytest.mark.parametrize(
    "text", ["7", "- 7 -", "Page 7", "Page 7 of 30", "7 | Page", "PAGE 12", "(3)", "xii", "7 of 30"]
)
def test_page_number_shapes(text: str) -> None:
    assert is_page_number(text)


@pytest.mark.parametrize("text", ["7.", "Section 7", "I", "2.1 Definitions", "(a)", "[***]"])
def test_not_page_numbers(text: str) -> None:
    assert not is_page_number(text)


# --- de-hyphenation and assembly ----------------------------------------------------------


def test_a_word_hyphenated_across_lines_is_mended() -> None:
    text, spans = join_lines(["the parties agree-", "ment is binding"])
    assert text == "the parties agreement is binding"
    assert [text[a:b] for a, b in spans] == ["the parties agree", "ment is binding"]


def test_real_hyphens_before_a_capital_or_a_digit_stay() -> None:
    text, spans = join_lines(["made by Hewlett-", "Packard on Form 1040-", "2 and then"])
    assert text == "made by Hewlett-\nPackard on Form 1040-\n2 and then"
    assert [text[a:b] for a, b in spans] == ["made by Hewlett-", "Packard on Form 1040-", "2 and then"]


def test_a_dash_after_a_space_is_not_a_hyphenation() -> None:
    text, _ = join_lines(["the term -", "defined below"])
    assert text == "the term -\ndefined below"


def test_assembled_pages_have_exact_offsets_and_keep_furniture() -> None:
    first = (
        TextLine("First line", box(10, 20)),
        TextLine("con-", box(30, 40)),
        TextLine("tinued", box(50, 60)),
    )
    pages = [
        PageLines(1, 612.0, 792.0, first, ("Page 1",)),
        PageLines(2, 612.0, 792.0, (), (), TextSource.NONE),
        PageLines(3, 612.0, 792.0, (TextLine("Last\x00 line", box(10, 20)),)),
    ]
    text, built = assemble(pages)
    assert text == "First line\ncontinued\n\n\n\nLast line"
    assert [text[p.start : p.end] for p in built] == ["First line\ncontinued", "", "Last line"]
    assert [text[line.start : line.end] for line in built[0].lines] == ["First line", "con", "tinued"]
    assert built[0].furniture == ("Page 1",)
    assert built[1].source == TextSource.NONE
    assert text[built[2].lines[0].start : built[2].lines[0].end] == "Last line"


# --- reading order ------------------------------------------------------------------------


def test_two_column_page_reads_column_by_column(corpus: Path) -> None:
    document = ingest(corpus / "pdfs/multicolumn.pdf")
    page = collapse(document.page_text(1))
    # The left column's last words, then the right column's first words.
    assert "Vivamus viverra fermentum felis. Donec nonummy pellentesque ante." in page
    assert page.index("Abstract") < page.index("Vivamus viverra") < page.index("Proin fermentum")
    # "adip-" at a line end is mended into one word.
    assert "consectetuer adipiscing elit" in page
    # The page number is furniture.
    assert document.pages[0].furniture == ("1",)


def test_three_columns_set_on_shared_lines_are_untangled(corpus: Path) -> None:
    # The IRS instructions draw all three columns line by line across the page; PDFium reads
    # straight across, so every text line mixes three columns until they are split and ordered.
    document = ingest(corpus / "long/i1040nr.pdf", ocr=False)
    page = collapse(document.page_text(6))
    first = page.index("1. Tax withheld from wages earned in the United States and taxes withheld")
    second = page.index("See Pub. 555, Community Property, for more details.")
    third = page.index("The election does not apply to dispositions of U.S. real property")
    assert first < second < third


def test_two_column_paper_keeps_its_columns_apart(corpus: Path) -> None:
    document = ingest(corpus / "pdfs/tracemonkey.pdf")
    page = collapse(document.page_text(2))
    assert page.index("Section 8. In Section 7 we evaluate our dynamic compiler based on") < page.index(
        "a set of industry benchmarks. The paper ends with conclusions in"
    )


# --- passwords ----------------------------------------------------------------------------


@pytest.mark.parametrize("name, password", ENCRYPTED)
def test_the_right_password_opens_the_pdf(corpus: Path, name: str, password: str) -> None:
    document = ingest(corpus / "pdfs" / name, password=password, ocr=False)
    assert EXPECTED_TEXT[name] in document.text


@pytest.mark.parametrize("name", sorted({name for name, _ in ENCRYPTED}))
def test_a_missing_password_is_asked_for(corpus: Path, name: str) -> None:
    with pytest.raises(PasswordRequiredError) as info:
        ingest(corpus / "pdfs" / name)
    assert info.value.code == "password_required"
    assert info.value.message == "This PDF is password-protected. Enter its password to read it."


@pytest.mark.parametrize("name", sorted({name for name, _ in ENCRYPTED}))
def test_a_wrong_password_is_refused_without_echoing_it(corpus: Path, name: str) -> None:
    with pytest.raises(PasswordWrongError) as info:
        ingest(corpus / "pdfs" / name, password="hunter2-secret")
    assert info.value.code == "password_wrong"
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value.args)


def test_encrypted_attachment_opens_without_a_password(corpus: Path) -> None:
    # pdf.js's file encrypts an attachment, not the page: PDFium opens it with the empty user
    # password (pypdf cannot). Its one page shows only a few characters, so it has no text.
    for password in (None, "wrong"):
        document = ingest(corpus / "pdfs/encrypted-attachment.pdf", password=password, ocr=False)
        assert document.text == "Example"
        # Seven characters are too few for a page of text: it counts as an image-only page.
        assert document.pages[0].source == TextSource.NONE


# --- damage, limits, progress ------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "name",
    [
        "DERIVED_dmca_truncated.pdf",
        "zen_of_python_corrupted.pdf",
        "unreadablemetadata.pdf",
        "issue-1113-evil-xobjects.pdf",
        "poppler-90-0-fuzzed.pdf",
        "malformed-from-issue-932.pdf",
    ],
)
def test_damaged_pdfs_read_or_raise_a_quire_error(corpus: Path, name: str) -> None:
    try:
        document = pdf.read(corpus / "pdfs" / name, ocr=False)
    except QuireError as exc:
        assert isinstance(exc, CorruptDocumentError)
        assert exc.message.startswith("This PDF is damaged and could not be read: ")
        # Parser messages quote raw bytes; none may reach the user.
        assert not re.search(r"b'|\\x|Traceback|@\d|Object \d", exc.message)
    else:
        assert document.pages
        pages = [document.page_text(page.number) for page in document.pages]
        assert document.text == PAGE_SEPARATOR.join(pages)


def test_truncated_and_unreadable_files_are_corrupt(corpus: Path) -> None:
    for name in ("DERIVED_dmca_truncated.pdf", "unreadablemetadata.pdf"):
        with pytest.raises(CorruptDocumentError):
            ingest(corpus / "pdfs" / name)


def test_corrupted_xref_on_a_rotated_page_is_read(corpus: Path) -> None:
    document = ingest(corpus / "pdfs/zen_of_python_corrupted.pdf")
    assert "Beautiful is better than ugly." in document.text
    page = document.pages[0]
    # The page is shown rotated by 90 degrees: landscape, and the boxes follow.
    assert page.width > page.height
    assert all(line.box.x1 <= page.width + 1 and line.box.y1 <= page.height + 1 for line in page.lines)
    assert "Beautiful is better than ugly." in document.page_text(1).split("\n")


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_boxes_follow_the_page_as_shown_when_it_is_rotated(
    corpus: Path, tmp_path: Path, rotation: int
) -> None:
    source = corpus / "pdfs/dmca.pdf"
    upright = ingest(source)
    footnote = next(
        line for line in upright.pages[0].lines
        if upright.text[line.start : line.end].startswith("Pub. L. No. 105-304")
    )  # fmt: skip
    with pypdfium2.PdfDocument(source) as document:
        page = document[0]
        page.set_rotation(rotation)
        page.close()
        document.save(tmp_path / "rotated.pdf")
    rotated = ingest(tmp_path / "rotated.pdf")
    page = rotated.pages[0]
    line = next(
        line for line in page.lines
        if rotated.text[line.start : line.end].startswith("Pub. L. No. 105-304")
    )  # fmt: skip
    w, h = upright.pages[0].width, upright.pages[0].height
    b = footnote.box
    # Where the upright box lands once the sheet is turned clockwise by `rotation` degrees.
    expected = {
        90: (h - b.y1, b.x0, h - b.y0, b.x1),
        180: (w - b.x1, h - b.y1, w - b.x0, h - b.y0),
        270: (b.y0, w - b.x1, b.y1, w - b.x0),
    }[rotation]
    assert (page.width, page.height) == ((h, w) if rotation != 180 else (w, h))
    # Within a few points: upright, the footnote mark "1" joins the line; turned, it may not.
    assert (line.box.x0, line.box.y0, line.box.x1, line.box.y1) == pytest.approx(expected, abs=5)
    assert "Pub. L. No. 105-304, 112 Stat. 2860 (Oct. 28, 1998)." in rotated.text


def test_a_pdf_pdfium_cannot_parse_is_repaired_with_pypdf(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No corpus file is readable by pypdf yet refused by PDFium (PDFium repairs more), so PDFium
    # is made to refuse the original; the copy pypdf rebuilds must then be read.
    real = pypdfium2.PdfDocument
    opened: list[str] = []

    def refusing(path, password=None):
        opened.append(Path(path).name)
        if len(opened) == 1:
            raise pypdfium2.PdfiumError("Failed to load document (PDFium: Data format error).", 3)
        return real(path, password=password)

    monkeypatch.setattr(pdf.pdfium, "PdfDocument", refusing)
    document = ingest(corpus / "pdfs/dmca.pdf")
    assert opened == ["dmca.pdf", "repaired.pdf"]
    assert "Digital Millennium Copyright Act" in document.text
    assert len(document.pages) == 18


def test_unreadable_pages_are_warnings_not_failures(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pdf.textpage_lines

    def flaky(textpage, frame):
        if frame.width and flaky.calls in (1, 2):
            flaky.calls += 1
            raise pypdfium2.PdfiumError("Failed to load text page.")
        flaky.calls += 1
        return real(textpage, frame)

    flaky.calls = 0
    monkeypatch.setattr(pdf, "textpage_lines", flaky)
    document = ingest(corpus / f"{CONTRACT}.pdf")
    assert len(document.pages) == 3
    assert document.warnings == ("Page 2 could not be read", "Page 3 could not be read")
    assert document.page_text(2) == ""
    assert FIRST_PAGE_PHRASE in collapse(document.page_text(1))


def test_many_unreadable_pages_are_summarised(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(textpage, frame):
        raise pypdfium2.PdfiumError("Failed to load text page.")

    monkeypatch.setattr(pdf, "textpage_lines", broken)
    document = pdf.read(corpus / "pdfs/poppler-90-0-fuzzed.pdf", ocr=False)
    assert len(document.pages) == 16
    assert document.warnings[0] == "Page 1 could not be read"
    assert document.warnings[10] == "6 more pages could not be read"
    assert len(document.warnings) == 11


def test_fuzzed_pdf_keeps_its_pages_and_names_the_empty_ones(corpus: Path) -> None:
    document = ingest(corpus / "pdfs/poppler-90-0-fuzzed.pdf", ocr=False)
    assert len(document.pages) == 16
    assert any(w.startswith("Pages 1-2, 4-9") and "no text layer" in w for w in document.warnings)


def test_too_many_pages(corpus: Path) -> None:
    with pytest.raises(TooManyPagesError) as info:
        ingest(corpus / f"{CONTRACT}.pdf", limits=IngestLimits(max_pages=2))
    assert info.value.code == "too_many_pages"
    assert "3 pages" in info.value.message and "2" in info.value.message


def test_progress_counts_pages_up_to_the_total(corpus: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    document = ingest(
        corpus / f"{CONTRACT}.pdf",
        progress=lambda done, total, stage: calls.append((done, total, stage)),
    )
    total = len(document.pages)
    assert calls == [(done, total, "Reading pages") for done in range(1, total + 1)]


def test_metadata_title_and_author(corpus: Path) -> None:
    document = ingest(corpus / "pdfs/dmca.pdf")
    assert document.metadata.title == "The Digital Millennium Copyright Act of 1998"
    assert document.metadata.author == "United States Copyright Office - jmf"


def test_pdf_with_no_pages_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "nopages.pdf"
    with path.open("wb") as handle:
        PdfWriter().write(handle)
    assert len(PdfReader(path).pages) == 0
    with pytest.raises(CorruptDocumentError, match="no page"):
        ingest(path)


# --- image-only pages ------------------------------------------------------------------------


def test_image_only_pdf_without_ocr_has_no_text(corpus: Path) -> None:
    with pytest.raises(NoTextError):
        ingest(corpus / "pdfs/175.pdf", ocr=False)


def test_scanned_page_keeps_its_stray_characters_and_warns(corpus: Path) -> None:
    # The scan carries a few characters of text layer: too few for a page of text, kept anyway.
    document = ingest(corpus / "pdfs/scan-bad.pdf", ocr=False)
    assert len(document.pages) == 1
    assert document.pages[0].source == TextSource.NONE
    assert document.warnings == (
        "Page 1 has no text layer and OCR was not requested; its text is missing.",
    )
    assert document.textless_pages == (1,)


def test_mixed_document_keeps_its_text_pages_and_names_the_image_pages(corpus: Path) -> None:
    document = ingest(corpus / "long/freeculture.pdf", ocr=False)
    assert document.pages[0].source == TextSource.NONE
    assert document.pages[1].source == TextSource.TEXT_LAYER
    assert any(w.startswith("Page 1 has no text layer") for w in document.warnings)


def test_ocr_lines_are_used_for_image_only_pages(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analysis.ingest import ocr

    class Result:
        lines = (
            ("SCANNED AGREE-", Box(72, 100, 300, 112)),
            ("MENT text", Box(72, 114, 300, 126)),
            ("this agree-", Box(72, 128, 300, 140)),
            ("ment binds", Box(72, 142, 300, 154)),
        )

    seen: list[int] = []
    monkeypatch.setattr(ocr, "available", lambda: True)
    monkeypatch.setattr(ocr, "recognise_page", lambda page, dpi: seen.append(dpi) or Result())
    stages: list[str] = []
    document = ingest(
        corpus / "pdfs/175.pdf",
        limits=IngestLimits(ocr_dpi=123),
        progress=lambda done, total, stage: stages.append(stage),
    )
    assert seen == [123, 123]
    assert stages == ["Recognising text (OCR)"] * 2
    assert [page.source for page in document.pages] == [TextSource.OCR] * 2
    assert document.page_text(1) == "SCANNED AGREE-\nMENT text\nthis agreement binds"
    assert document.pages[0].lines[0].box == Box(72, 100, 300, 112)
    assert not document.warnings


def test_ocr_that_cannot_be_imported_counts_as_unavailable(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "analysis.ingest.ocr", None)  # import now fails
    monkeypatch.delattr(ingest_package, "ocr", raising=False)
    with pytest.raises(NoTextError):
        ingest(corpus / "pdfs/175.pdf")
    document = pdf.read(corpus / "pdfs/175.pdf")
    assert document.warnings == (
        "Pages 1-2 have no text layer and OCR is not available; their text is missing.",
    )


# --- errors at the edge -------------------------------------------------------------------


def test_unexpected_reader_failure_becomes_corrupt_document(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(path: object, **options: object) -> IngestedDocument:
        raise RuntimeError("reader bug")

    monkeypatch.setattr(ingest_package.pdf, "read", explode)
    with pytest.raises(CorruptDocumentError) as info:
        ingest(corpus / f"{CONTRACT}.pdf")
    assert "reader bug" not in info.value.message


def test_named_kind_on_an_empty_file_is_still_empty(tmp_path: Path) -> None:
    path = tmp_path / "zero.pdf"
    path.write_bytes(b"")
    with pytest.raises(EmptyDocumentError):
        ingest(path, kind="pdf")


def test_unknown_kind_is_unsupported(corpus: Path) -> None:
    with pytest.raises(UnsupportedTypeError):
        ingest(corpus / f"{CONTRACT}.pdf", kind="xlsx")


def test_memory_error_is_not_disguised(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def exhaust(path: object, **options: object) -> IngestedDocument:
        raise MemoryError

    monkeypatch.setattr(ingest_package.pdf, "read", exhaust)
    with pytest.raises(MemoryError):
        ingest(corpus / f"{CONTRACT}.pdf")


class SoftTimeLimitExceeded(Exception):
    """Stands in for Celery's soft time limit, which also derives from plain Exception."""


def test_worker_time_limit_escapes_the_page_loop(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_slow(textpage, frame):
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(pdf, "textpage_lines", too_slow)
    with pytest.raises(SoftTimeLimitExceeded):
        ingest(corpus / f"{CONTRACT}.pdf")


def test_worker_time_limit_is_not_reported_as_damage(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_slow(path: object, **options: object) -> IngestedDocument:
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(ingest_package.pdf, "read", too_slow)
    with pytest.raises(SoftTimeLimitExceeded):
        ingest(corpus / f"{CONTRACT}.pdf")
