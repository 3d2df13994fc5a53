"""Every PDF and DOCX of the shared corpus gives text or the error code written down for it.

OCR is off here (ocr=False) to keep the run fast and deterministic; OCR has tests of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.errors import QuireError
from analysis.ingest import ingest
from analysis.ingest.document import PAGE_SEPARATOR, TextSource, is_blank

pytestmark = pytest.mark.corpus

TEXT = "text"

# What ingest(path, ocr=False) gives: TEXT, or the code of the QuireError it raises.
EXPECTED: dict[str, str] = {
    "pdfs/175.pdf": "no_text",  # two page images, no text layer at all
    "pdfs/DERIVED_dmca_truncated.pdf": "corrupt",  # cut off after 36,000 bytes: no page tree
    "pdfs/TAMReview.pdf": TEXT,
    "pdfs/WARN-Report-for-7-1-2015-to-03-25-2016.pdf": TEXT,
    "pdfs/aes-256.pdf": "password_required",
    "pdfs/chelsea_pdta.pdf": TEXT,
    "pdfs/dmca.pdf": TEXT,
    "pdfs/empty.pdf": "empty",
    # Encrypts an attachment, not the page: PDFium opens it and finds the word "Example".
    "pdfs/encrypted-attachment.pdf": TEXT,
    "pdfs/federal-register-2020-17221.pdf": TEXT,
    "pdfs/issue-1113-evil-xobjects.pdf": TEXT,
    "pdfs/libreoffice-writer-password.pdf": "password_required",
    "pdfs/malformed-from-issue-932.pdf": TEXT,  # a page image plus a few stray characters
    "pdfs/multicolumn.pdf": TEXT,
    "pdfs/password-example.pdf": "password_required",
    "pdfs/poppler-90-0-fuzzed.pdf": TEXT,  # 16 pages, text on a few of them
    "pdfs/prefilled_f1040.pdf": TEXT,
    "pdfs/scan-bad.pdf": TEXT,  # a scan with six stray characters of text layer
    "pdfs/scotus-transcript-p1.pdf": TEXT,
    "pdfs/tracemonkey.pdf": TEXT,
    "pdfs/unreadablemetadata.pdf": "corrupt",  # neither PDFium nor pypdf finds its pages
    "pdfs/zen_of_python_corrupted.pdf": TEXT,
    "long/GeoTopo-komprimiert.pdf": TEXT,
    "long/freeculture.pdf": TEXT,
    "long/i1040nr.pdf": TEXT,
    "contracts_cuad/DERIVED_SCANNED_JINGWEI_IP_AGREEMENT_image_only.pdf": "no_text",
    # The DOCX reader is reworked elsewhere: these only pin text-or-code.
    "docx/bonterms-professional-services-agreement.docx": TEXT,
    "docx/common-paper-cloud-service-agreement.docx": TEXT,
    "docx/common-paper-data-processing-agreement.docx": TEXT,
    "docx/common-paper-mutual-nda.docx": TEXT,
    "docx/python-docx_having-images.docx": "no_text",
    "docx/yc-safe-valuation-cap.docx": TEXT,
}

# Pages that the table's PDFs must keep as image-only (source "none") with OCR off.
IMAGE_ONLY_PAGES = {
    "pdfs/scan-bad.pdf": (1,),
    "pdfs/malformed-from-issue-932.pdf": (1,),
    "long/freeculture.pdf": (1,),
}


def test_the_table_names_every_corpus_file(corpus: Path) -> None:
    present = {
        f"{folder}/{path.name}"
        for folder in ("pdfs", "docx", "long")
        for path in (corpus / folder).iterdir()
        if path.suffix.lower() in (".pdf", ".docx")
    }
    assert present == {name for name in EXPECTED if not name.startswith("contracts_cuad/")}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_gives_text_or_its_expected_error(corpus: Path, name: str) -> None:
    expected = EXPECTED[name]
    try:
        document = ingest(corpus / name, ocr=False)
    except QuireError as exc:
        assert exc.code == expected, f"{name}: {exc.code}: {exc.message}"
        assert exc.message and "Traceback" not in exc.message
        return
    # Anything but a QuireError escapes and fails the test by itself.
    assert expected == TEXT, f"{name}: read, but {expected!r} was expected"
    assert not is_blank(document.text)
    assert document.pages and document.metadata.page_count == len(document.pages)
    if document.kind != "pdf":
        return  # the DOCX reader's page estimates are its own business
    assert PAGE_SEPARATOR.join(document.page_text(p.number) for p in document.pages) == (
        document.text
    )
    for page in document.pages:
        for line in page.lines:
            assert page.start <= line.start <= line.end <= page.end
    if name in IMAGE_ONLY_PAGES:
        none = tuple(p.number for p in document.pages if p.source == TextSource.NONE)
        assert none == IMAGE_ONLY_PAGES[name]
        assert any("no text layer" in warning for warning in document.warnings)


def test_every_cuad_contract_pdf_gives_text(corpus: Path) -> None:
    folder = corpus / "contracts_cuad"
    pdfs = [
        p for p in folder.iterdir()
        if p.suffix.lower() == ".pdf" and not p.name.startswith("DERIVED_SCANNED_")
    ]  # fmt: skip
    assert len(pdfs) == 40
    for path in pdfs:
        document = ingest(path, ocr=False)
        assert document.word_count > 200, path.name
        # Only blank sheets count as image-only (BIOFRONTERA's page 25 is empty).
        blank = [p.number for p in document.pages if p.source == TextSource.NONE]
        assert len(blank) <= 1, (path.name, blank)
