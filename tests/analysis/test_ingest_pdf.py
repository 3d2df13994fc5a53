"""PDF ingestion on real contracts and on damaged, encrypted and scanned files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PageObject, PdfReader, PdfWriter

from analysis import ingest as ingest_package
from analysis.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    PasswordRequiredError,
    QuireError,
    UnsupportedTypeError,
)
from analysis.ingest import IngestedDocument, ingest
from analysis.ingest.document import PAGE_SEPARATOR

CONTRACT = (
    "contracts_cuad/"
    "MphaseTechnologiesInc_20030911_10-K_EX-10.15_1560667_EX-10.15_Co-Branding Agreement"
)
# From the first page of the contract's CUAD text.
FIRST_PAGE_PHRASE = (
    "by and between Lucent Technologies Inc., a Delaware corporation having a principal "
    "place of business at 600 Mountain Avenue, Murray Hill, New Jersey 07974"
)


def collapse(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def contract(corpus: Path) -> IngestedDocument:
    return ingest(corpus / f"{CONTRACT}.pdf")


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


def test_progress_counts_pages_up_to_the_total(corpus: Path) -> None:
    calls: list[tuple[int, int]] = []
    document = ingest(
        corpus / f"{CONTRACT}.pdf", progress=lambda done, total, stage: calls.append((done, total))
    )
    total = len(document.pages)
    assert calls == [(done, total) for done in range(1, total + 1)]


def test_password_protected_pdf(corpus: Path) -> None:
    with pytest.raises(PasswordRequiredError) as info:
        ingest(corpus / "pdfs/password-example.pdf")
    assert info.value.code == "password_required"
    assert info.value.message == "This PDF is password-protected."


def test_encrypted_attachment_fails_cleanly(corpus: Path) -> None:
    with pytest.raises((PasswordRequiredError, CorruptDocumentError)):
        ingest(corpus / "pdfs/encrypted-attachment.pdf")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "name",
    [
        "DERIVED_dmca_truncated.pdf",
        "zen_of_python_corrupted.pdf",
        "unreadablemetadata.pdf",
        "issue-1113-evil-xobjects.pdf",
        "poppler-90-0-fuzzed.pdf",
    ],
)
def test_damaged_pdfs_read_or_raise_a_quire_error(corpus: Path, name: str) -> None:
    try:
        document = ingest(corpus / "pdfs" / name)
    except QuireError as exc:
        assert isinstance(exc, CorruptDocumentError)
        assert exc.message.startswith("This PDF is damaged and could not be read: ")
        # pypdf's own messages quote raw bytes; none may reach the user.
        assert not re.search(r"b'|\\x|Traceback|@\d", exc.message)
    else:
        assert document.pages
        pages = [document.page_text(page.number) for page in document.pages]
        assert document.text == PAGE_SEPARATOR.join(pages)


def test_unreadable_pages_are_warnings_not_failures(corpus: Path) -> None:
    document = ingest(corpus / "pdfs/poppler-90-0-fuzzed.pdf")
    assert len(document.pages) == 16
    assert "Page 1 could not be read" in document.warnings
    assert any("more pages could not be read" in warning for warning in document.warnings)


def test_corrupted_xref_is_repaired(corpus: Path) -> None:
    document = ingest(corpus / "pdfs/zen_of_python_corrupted.pdf")
    assert "Beautiful is better than ugly." in document.text


def test_scanned_page_warns_about_missing_text_layer(corpus: Path) -> None:
    document = ingest(corpus / "pdfs/scan-bad.pdf")
    assert len(document.pages) == 1
    assert any("no text layer" in warning for warning in document.warnings)
    assert document.textless_pages == (1,)


def test_pdf_with_no_pages_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "nopages.pdf"
    with path.open("wb") as handle:
        PdfWriter().write(handle)
    assert len(PdfReader(path).pages) == 0
    with pytest.raises(CorruptDocumentError, match="no pages"):
        ingest(path)


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
    def too_slow(self: PageObject, *args: object, **kwargs: object) -> str:
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(PageObject, "extract_text", too_slow)
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
