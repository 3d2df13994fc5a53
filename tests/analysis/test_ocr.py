"""Tesseract OCR of scanned pages: accuracy on a real scanned contract, boxes, and clean failures."""

from __future__ import annotations

import os
import time

import pypdfium2
import pytest
import pytesseract
from rapidfuzz import fuzz

from analysis.errors import IngestError
from analysis.ingest import ocr
from analysis.ingest.limits import DEFAULT_LIMITS

pytestmark = pytest.mark.ocr

JINGWEI_SCAN = "contracts_cuad/DERIVED_SCANNED_JINGWEI_IP_AGREEMENT_image_only.pdf"
JINGWEI_TEXT = "contracts_cuad/JINGWEIINTERNATIONALLTD_10_04_2007-EX-10.7-INTELLECTUAL PROPERTY AGREEMENT.txt"


@pytest.fixture(scope="module")
def tesseract() -> None:
    if ocr.available():
        return
    if os.environ.get("QUIRE_REQUIRE_OCR"):
        pytest.fail("QUIRE_REQUIRE_OCR is set but the tesseract binary is missing or does not run")
    pytest.skip(
        "tesseract is not installed (apt-get install tesseract-ocr); "
        "set QUIRE_REQUIRE_OCR to fail instead"
    )


@pytest.fixture(scope="module")
def jingwei(corpus, tesseract):
    """The scanned contract's pages (width, height, OcrPage), recognised once for the module."""
    pdf = pypdfium2.PdfDocument(corpus / JINGWEI_SCAN)
    try:
        pages = []
        started = time.perf_counter()
        for page in pdf:
            pages.append((*page.get_size(), ocr.recognise_page(page, dpi=DEFAULT_LIMITS.ocr_dpi)))
            page.close()
        elapsed = time.perf_counter() - started
    finally:
        pdf.close()
    per_page = elapsed / len(pages)
    print(f"\nJINGWEI scan: {len(pages)} pages at {DEFAULT_LIMITS.ocr_dpi} dpi, {per_page:.2f} s a page")
    return pages


def _collapse(text: str) -> str:
    return " ".join(text.split())


def test_scanned_contract_reads_like_its_source_text(corpus, jingwei):
    recognised = _collapse("\n".join(page.text for _, _, page in jingwei))
    source = _collapse((corpus / JINGWEI_TEXT).read_text(encoding="utf-8"))

    similarity = fuzz.ratio(recognised, source) / 100
    print(f"JINGWEI similarity to the source text: {similarity:.4f}")

    # The Chinese company names and the appendix table (Chinese, about 1% of the text) cannot be
    # read with the English model; everything else should be nearly exact.
    assert similarity >= 0.95
    assert recognised.startswith("INTELLECTUAL PROPERTY AGREEMENT")
    for _, _, page in jingwei:
        assert page.mean_confidence is not None and 0 <= page.mean_confidence <= 100


def test_line_boxes_lie_on_the_page_from_top_to_bottom(jingwei):
    for width, height, page in jingwei:
        assert page.lines
        for text, box in page.lines:
            assert text and text == text.strip() and "\n" not in text
            assert 0 <= box.x0 < box.x1 <= width
            assert 0 <= box.y0 < box.y1 <= height
        tops = [box.y0 for _, box in page.lines]
        # Tesseract reads table cells block by block, so allow a few steps back up the page.
        downward = sum(later >= earlier - 2 for earlier, later in zip(tops, tops[1:]))
        assert downward >= 0.8 * (len(tops) - 1)
        assert tops[0] < height / 3

    # The title sits at the top of the first page, centred, in points (not pixels).
    width, height, first = jingwei[0]
    title, box = first.lines[0]
    assert title == "INTELLECTUAL PROPERTY AGREEMENT"
    assert box.y1 < 150 and box.x0 > 100 and box.x1 < width - 100


@pytest.mark.parametrize("name", ["pdfs/scan-bad.pdf", "pdfs/175.pdf"])
def test_poor_scans_give_some_text_or_a_clean_error(corpus, tesseract, name):
    pdf = pypdfium2.PdfDocument(corpus / name)
    try:
        for page in pdf:
            try:
                result = ocr.recognise_page(page, dpi=DEFAULT_LIMITS.ocr_dpi)
            except IngestError:
                continue
            finally:
                page.close()
            assert isinstance(result, ocr.OcrPage)
            assert isinstance(result.text, str)
            print(f"\n{name}: {len(result.lines)} lines, confidence {result.mean_confidence}")
    finally:
        pdf.close()


def test_tesseract_failure_becomes_an_ingest_error(corpus, tesseract):
    pdf = pypdfium2.PdfDocument(corpus / "pdfs/scan-bad.pdf")
    try:
        with pytest.raises(IngestError, match="OCR"):
            # A language whose model is not installed makes tesseract exit with an error.
            ocr.recognise_page(pdf[0], dpi=72, language="zzz")
    finally:
        pdf.close()


def test_tesseract_timeout_becomes_an_ingest_error(corpus, tesseract, monkeypatch):
    monkeypatch.setattr(ocr, "_PAGE_TIMEOUT_S", 0.001)
    pdf = pypdfium2.PdfDocument(corpus / JINGWEI_SCAN)
    try:
        with pytest.raises(IngestError, match="OCR"):
            ocr.recognise_page(pdf[0], dpi=72)
    finally:
        pdf.close()


def test_available_is_a_cached_bool():
    first = ocr.available()
    hits = ocr.available.cache_info().hits
    assert isinstance(first, bool)
    assert ocr.available() is first
    assert ocr.available.cache_info().hits == hits + 1


def test_available_is_false_without_the_binary(monkeypatch):
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    ocr.available.cache_clear()
    try:
        assert ocr.available() is False
    finally:
        ocr.available.cache_clear()
