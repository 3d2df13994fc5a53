from __future__ import annotations

import hashlib

import pytest

from tests import factories


@pytest.fixture(scope="session", autouse=True)
def _clause_finder_memo():
    """The first pass's clause finder is deterministic and spends seconds per contract re-reading passages with its
    encoder; these tests ingest the same few contracts again in test after test, so each text is read once per
    session and its hits reused (the first reading is the real one)."""
    from analysis.first_pass import clause_reranker

    original = clause_reranker.RerankedClauseModel.find
    memo: dict = {}

    def find(self, text, pages=(), *, minimum=0.0, found=None, parties=None):
        key = (id(self), hashlib.sha256(text.encode()).hexdigest(),
               tuple((p.number, p.start, p.end) for p in pages), minimum)
        if key not in memo:
            memo[key] = original(self, text, pages, minimum=minimum, found=found, parties=parties)
        return list(memo[key])

    clause_reranker.RerankedClauseModel.find = find
    yield
    clause_reranker.RerankedClauseModel.find = original


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

