"""Upload through the view, process in a real Celery worker on Redis and PostgreSQL, read the result."""

from __future__ import annotations

import io

import pypdf
import pytest
from django.urls import reverse

from tests import factories
from webapp.documents.models import Document

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONTRACT = "CcRealEstateIncomeFundadv_20181205_POS 8C_EX-99.(H)(3)_11447739_EX-99.(H)(3)_Marketing Agreement.pdf"


def _named(data: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


@pytest.fixture
def editor_client(client):
    owner = factories.make_user("owner")
    workspace = factories.make_workspace(owner, name="Integration")
    client.force_login(owner)
    return client, workspace


def _upload(client, workspace, *files):
    response = client.post(
        reverse("documents:upload", args=[workspace.id]), {"files": list(files)}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_uploaded_cuad_contract_becomes_ready_with_the_right_page_count(
    editor_client, corpus, celery_worker_process, wait_for_document
):
    client, workspace = editor_client
    path = corpus / "contracts_cuad" / CONTRACT
    [result] = _upload(client, workspace, _named(path.read_bytes(), path.name))
    assert result["outcome"] == "stored"
    document_id = Document.objects.get(workspace=workspace).id

    document = wait_for_document(document_id, worker=celery_worker_process)
    assert document.status == "ready", document.error_message
    assert document.page_count == len(pypdf.PdfReader(path).pages)
    assert document.progress == 100
    # The page saw the document go through its stages, not jump from nothing to done.
    statuses = [status for status, _ in document.progress_seen]
    assert statuses[-1] == "ready" and len(set(statuses)) >= 2

    status = client.get(reverse("documents:status", args=[document_id])).json()
    assert (status["status"], status["progress"], status["terminal"]) == ("ready", 100, True)
    report_page = client.get(reverse("reports:detail", args=[document_id])).content.decode()
    assert "No language model has read this document yet" in report_page
    assert f"<dd>{document.page_count}</dd>" in report_page


def test_bad_files_end_clearly_and_the_worker_keeps_going(
    editor_client, corpus, celery_worker_process, wait_for_document, settings
):
    client, workspace = editor_client
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    rejected = _upload(client, workspace, _named((corpus / "pdfs" / "empty.pdf").read_bytes(), "empty.pdf"), _named(png, "scan.pdf"))
    assert [r["outcome"] for r in rejected] == ["rejected", "rejected"]
    settings.QUIRE_MAX_UPLOAD_BYTES = 50_000
    [too_big] = _upload(client, workspace, _named((corpus / "pdfs" / "dmca.pdf").read_bytes(), "dmca.pdf"))
    assert too_big["outcome"] == "rejected" and "limit" in too_big["message"]
    settings.QUIRE_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
    assert not Document.objects.exists()

    # A damaged PDF passes the upload check (it is a PDF) and fails in the worker, original kept.
    [damaged] = _upload(client, workspace, _named((corpus / "pdfs" / "DERIVED_dmca_truncated.pdf").read_bytes(), "truncated.pdf"))
    document = wait_for_document(Document.objects.get(original_name="truncated.pdf").id, worker=celery_worker_process)
    assert document.status == "failed"
    assert document.error_message and "Traceback" not in document.error_message
    assert document.file.storage.exists(document.file.name)

    # The same worker process is still alive and handles the next good document.
    assert celery_worker_process.alive
    [good] = _upload(client, workspace, _named((corpus / "docx" / "common-paper-mutual-nda.docx").read_bytes(), "nda.docx"))
    document = wait_for_document(Document.objects.get(original_name="nda.docx").id, worker=celery_worker_process)
    assert document.status == "ready" and document.word_count > 100


def test_password_protected_pdf_waits_then_opens_with_the_password_typed_on_the_page(
    editor_client, corpus, celery_worker_process, wait_for_document
):
    client, workspace = editor_client
    path = corpus / "pdfs" / "libreoffice-writer-password.pdf"
    _upload(client, workspace, _named(path.read_bytes(), "locked.pdf"))
    document_id = Document.objects.get(original_name="locked.pdf").id
    waiting = ("ready", "failed", "password_needed")
    document = wait_for_document(document_id, statuses=waiting, worker=celery_worker_process)
    assert (document.status, document.error_code) == ("password_needed", "password_required")

    client.post(reverse("documents:password", args=[document_id]), {"password": "wrong"})
    document = wait_for_document(document_id, statuses=("failed", "password_needed", "ready"), worker=celery_worker_process)
    assert (document.status, document.error_code) == ("password_needed", "password_wrong")

    client.post(reverse("documents:password", args=[document_id]), {"password": "openpassword"})
    document = wait_for_document(document_id, statuses=("ready", "failed"), worker=celery_worker_process)
    assert document.status == "ready", document.error_message
    reader = pypdf.PdfReader(path)
    reader.decrypt("openpassword")
    assert document.page_count == len(reader.pages)
    assert "openpassword" not in celery_worker_process.log()


def test_a_document_abandoned_mid_ingestion_is_recovered_by_the_periodic_check(
    editor_client, celery_worker_process, wait_for_document
):
    """As if a worker died holding it and its message was lost: the beat task, sent through the broker to
    the real worker, finds it and the document still ends ready."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from webapp.pipeline.tasks import documents_recover_stuck_task

    _, workspace = editor_client
    document = factories.make_document(workspace, content=b"An agreement whose worker vanished. " * 20,
                                       status="ingesting", progress=30, stage="Reading")
    Document.objects.filter(pk=document.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.QUIRE_INGEST_TIME_LIMIT + 600)
    )
    documents_recover_stuck_task.delay()
    document = wait_for_document(document.id, worker=celery_worker_process)
    assert document.status == "ready", document.error_message
    assert document.recoveries == 1 and document.word_count > 0
