"""The pipeline's steps, called directly (the integration tests run them in a real worker)."""

from __future__ import annotations

import pytest

from tests import factories
from webapp.pipeline import ingest, reading
from webapp.documents.ingested import document_as_ingested
from webapp.documents.models import Document, DocumentStatus
from webapp.reports.models import Report

SMALL_CONTRACT = "contracts_cuad/CcRealEstateIncomeFundadv_20181205_POS 8C_EX-99.(H)(3)_11447739_EX-99.(H)(3)_Marketing Agreement.pdf"


@pytest.fixture
def contract(corpus, workspace):
    path = corpus / SMALL_CONTRACT
    if not path.exists():
        path = min((corpus / "contracts_cuad").glob("*.pdf"), key=lambda p: p.stat().st_size)
    return factories.make_document_from_file(workspace, path, "pdf"), path


def test_ingest_then_analyse_leaves_a_ready_document_with_page_map_and_facts(contract):
    import pypdf

    document, path = contract
    ingest.document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert document.status == DocumentStatus.ANALYSING
    expected_pages = len(pypdf.PdfReader(path).pages)
    assert document.page_count == expected_pages
    pages = list(document.pages.all())
    assert [p.number for p in pages] == list(range(1, expected_pages + 1))
    assert pages[0].start == 0 and pages[-1].end == len(document.text)
    assert all(a.end <= b.start for a, b in zip(pages, pages[1:]))
    assert "agreement" in document.text.lower()

    reading.report_generate(document_id=document.id)
    document.refresh_from_db()
    assert (document.status, document.progress, document.stage) == (DocumentStatus.READY, 100, "Ready")
    report = Report.objects.get(document=document)
    assert (report.kind, report.title) == ("contract", "Contract: first pass")  # what the first pass took it for
    facts = {f["label"]: f["value"] for f in report.facts}
    assert facts["Pages"] == str(expected_pages)


def test_each_step_is_idempotent(contract):
    document, _ = contract
    ingest.document_ingest(document_id=document.id)
    reading.report_generate(document_id=document.id)
    first_report = Report.objects.get(document=document)
    # A re-delivered task finds the work done and leaves it alone.
    ingest.document_ingest(document_id=document.id)
    reading.report_generate(document_id=document.id)
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert document.pages.count() == document.page_count
    assert Report.objects.get(document=document).updated_at == first_report.updated_at


def test_damaged_pdf_fails_with_a_readable_reason_and_keeps_the_original(corpus, workspace):
    document = factories.make_document_from_file(workspace, corpus / "pdfs" / "DERIVED_dmca_truncated.pdf", "pdf")
    ingest.document_ingest(document_id=document.id)
    reading.report_generate(document_id=document.id)
    document.refresh_from_db()
    assert (document.status, document.error_code) == (DocumentStatus.FAILED, "corrupt")
    assert "damaged" in document.error_message and "Traceback" not in document.error_message
    assert document.file.storage.exists(document.file.name)
    assert not Report.objects.filter(document=document).exists()


def test_encrypted_pdf_waits_for_its_password(corpus, workspace):
    document = factories.make_document_from_file(workspace, corpus / "pdfs" / "password-example.pdf", "pdf")
    ingest.document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert (document.status, document.error_code) == (DocumentStatus.PASSWORD_NEEDED, "password_required")
    assert "password" in document.error_message.lower()
    assert document.ingest_attempts == 0  # waiting for a person is not a crash
    assert not Report.objects.filter(document=document).exists()
    # A re-delivered task leaves a waiting document alone.
    ingest.document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert document.status == DocumentStatus.PASSWORD_NEEDED


def test_missing_stored_file_fails_cleanly(workspace):
    document = factories.make_document(workspace, status=DocumentStatus.QUEUED)
    document.file.storage.delete(document.file.name)
    ingest.document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert (document.status, document.error_code) == (DocumentStatus.FAILED, "file_missing")


def test_a_document_that_keeps_crashing_the_worker_is_given_up(workspace):
    document = factories.make_document(workspace, status=DocumentStatus.INGESTING)
    Document.objects.filter(pk=document.pk).update(ingest_attempts=ingest.MAX_INGEST_ATTEMPTS)
    ingest.document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert (document.status, document.error_code) == (DocumentStatus.FAILED, "worker_crashed")


def test_deleted_document_is_skipped(workspace):
    document = factories.make_document(workspace, status=DocumentStatus.QUEUED)
    document_id = document.id
    document.delete()
    ingest.document_ingest(document_id=document_id)  # no exception, nothing to do
    reading.report_generate(document_id=document_id)


def test_ingest_works_from_a_storage_without_local_paths(contract, monkeypatch, tmp_path):
    """S3-style storage: the worker reads a temporary local copy."""
    document, _ = contract
    from django.db.models.fields.files import FieldFile

    def no_path(self):
        raise NotImplementedError("This backend doesn't support absolute paths.")

    monkeypatch.setattr(FieldFile, "path", property(no_path))
    ingest.document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert document.status == DocumentStatus.ANALYSING and document.page_count > 0


def test_page_geometry_is_stored_for_highlighting(contract):
    import pypdf

    document, path = contract
    ingest.document_ingest(document_id=document.id)
    document.refresh_from_db()
    first = document.pages.get(number=1)
    mediabox = pypdf.PdfReader(path).pages[0].mediabox
    assert (round(first.width), round(first.height)) == (round(mediabox.width), round(mediabox.height))
    assert first.source == "text" and not first.estimated
    start, end, x0, y0, x1, y1 = first.lines[0]
    assert first.start <= start < end <= first.end
    assert 0 <= x0 < x1 <= first.width and 0 <= y0 < y1 <= first.height
    rebuilt = document_as_ingested(document)
    assert rebuilt.pages[0].lines[0].box.x0 == x0
    assert document.language == "en"


def test_docx_pages_are_labelled_as_estimates_on_the_page(corpus, workspace, login):
    document = factories.make_document_from_file(workspace, corpus / "docx" / "common-paper-cloud-service-agreement.docx", "docx")
    ingest.document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert document.pages.filter(estimated=True).count() == document.page_count > 1
    page = login(workspace.created_by).get(f"/d/{document.id}/").content.decode()
    assert "(estimated: this format has no fixed pages)" in page
