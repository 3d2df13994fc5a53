from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def contracts(workspace, corpus):
    """Three real CUAD contracts (CUAD's text), ingested and read with no model: first-pass cells only."""
    from webapp.documents.models import Document
    from webapp.pipeline import ingest, reading

    made = []
    for name in factories.TABLE_CONTRACTS:
        document = factories.make_document_from_file(workspace, corpus / "contracts_cuad" / f"{name}.txt", "text")
        ingest.document_ingest(document_id=document.id)
        reading.report_generate(document_id=document.id)
        made.append(Document.objects.get(pk=document.pk))
    return made

