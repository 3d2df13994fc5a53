"""A password-protected PDF waits for its password, which is used once and never kept."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from tests import factories
from webapp.documents import sealing
from webapp.pipeline import ingest, reading
from webapp.documents.models import Document, DocumentPage, DocumentStatus

PASSWORD = "openpassword"  # pdfs/libreoffice-writer-password.pdf, see the corpus README


@pytest.fixture
def locked(corpus, workspace):
    path = corpus / "pdfs" / "libreoffice-writer-password.pdf"
    document = factories.make_document_from_file(workspace, path, "pdf")
    ingest.document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert document.status == DocumentStatus.PASSWORD_NEEDED
    return document


@pytest.fixture
def submit(monkeypatch, django_capture_on_commit_callbacks):
    """POST a password through the page; returns the sealed value the pipeline would receive."""

    def _submit(client, document, password) -> str | None:
        captured = []
        monkeypatch.setattr(
            "webapp.pipeline.queue.journey_start",
            lambda *, document_id, sealed_password=None: captured.append(sealed_password),
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("documents:password", args=[document.id]), {"password": password})
        assert response.status_code == 302
        return captured[0] if captured else None

    return _submit


def test_right_password_reads_the_pdf_and_is_stored_nowhere(locked, login, workspace, submit, caplog):
    caplog.set_level(logging.DEBUG)
    sealed = submit(login(workspace.created_by), locked, PASSWORD)
    assert sealed and PASSWORD not in sealed
    ingest.document_ingest(document_id=locked.id, sealed_password=sealed)
    reading.report_generate(document_id=locked.id)
    locked.refresh_from_db()
    assert locked.status == DocumentStatus.READY, locked.error_message
    assert locked.page_count >= 1 and locked.word_count > 0
    row = Document.objects.filter(pk=locked.pk).values().get()
    assert not any(PASSWORD in str(value) for value in row.values())
    assert not any(PASSWORD in str(page) for page in DocumentPage.objects.filter(document=locked).values())
    assert PASSWORD not in caplog.text


def test_wrong_password_says_so_and_asks_again(locked, login, workspace, submit):
    sealed = submit(login(workspace.created_by), locked, "not-the-password")
    ingest.document_ingest(document_id=locked.id, sealed_password=sealed)
    locked.refresh_from_db()
    assert (locked.status, locked.error_code) == (DocumentStatus.PASSWORD_NEEDED, "password_wrong")
    assert "not correct" in locked.error_message
    page = login(workspace.created_by).get(reverse("documents:detail", args=[locked.id])).content.decode()
    assert 'name="password"' in page and "not correct" in page


def test_viewer_cannot_submit_a_password(locked, login, workspace):
    viewer = factories.make_user()
    factories.add_member(workspace, viewer, "viewer")
    response = login(viewer).post(reverse("documents:password", args=[locked.id]), {"password": PASSWORD})
    assert response.status_code == 403
    locked.refresh_from_db()
    assert locked.status == DocumentStatus.PASSWORD_NEEDED


def test_stranger_gets_404_for_the_password_url(locked, login):
    response = login(factories.make_user()).post(reverse("documents:password", args=[locked.id]), {"password": "x"})
    assert response.status_code == 404


def test_a_forged_or_expired_seal_opens_nothing(settings):
    token = sealing.seal("secret")
    assert sealing.unseal(token) == "secret"
    assert sealing.unseal(token[:-4] + "AAAA") is None
    settings.SECRET_KEY = "another-key-" * 5
    assert sealing.unseal(token) is None
