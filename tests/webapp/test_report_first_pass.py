"""The first pass on the report page: passages shown apart from model findings, highlighted, filterable by
category, score and kind, escaped like any document text, and kept out of reach of non-members."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analysis.first_pass.pipeline import as_json, first_pass
from analysis.ingest import ingest
from tests import factories
from webapp.reports.models import Report

ADIA = "contracts_cuad/ADIANUTRITION,INC_04_01_2005-EX-10.D2-RESELLER AGREEMENT.txt"
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def reported(workspace, corpus, tmp_path):
    """A ready document whose text is a real contract with a hostile line slipped into its governing-law
    clause, and the report the analysis pipeline stores for it."""
    text = (corpus / ADIA).read_text(errors="replace")
    text = text.replace("GOVERNING LAW. This Agreement shall be governed", f"GOVERNING LAW. {HOSTILE} This Agreement shall be governed")
    path = tmp_path / "contract.txt"
    path.write_text(text)
    ingested = ingest(path)
    document = factories.make_document(workspace, content=text.encode(), text=ingested.text)
    Report.objects.create(document=document, kind="contract", title="Facts", facts=[],
                          first_pass=as_json(first_pass(ingested), ingested))
    return document


def page(client, document, **params):
    response = client.get(reverse("reports:detail", args=[document.id]), params)
    assert response.status_code == 200
    return response.content.decode()


def test_clauses_and_key_terms_are_shown_with_their_passages_marked(login, owner, reported):
    html = page(login(owner), reported)
    assert "First pass" in html and "These are not the model" in html
    assert "<h4>Governing Law" in html
    assert "governed by and construed under the laws of the State of California" in html.split("<h4>Governing Law")[1]
    assert "PivX Corporation (“PivX”)" in html
    assert "<td>Governing law</td><td>State of California</td>" in html


def test_document_text_is_escaped_in_passages(login, owner, reported):
    html = page(login(owner), reported, category="Governing Law", min_score="0.2")
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_category_and_score_filters(login, owner, reported):
    client = login(owner)
    everything = page(client, reported, min_score="0.2")
    only_law = page(client, reported, category="Governing Law", min_score="0.2")
    assert everything.count("<h4>") > 1
    assert only_law.count("<h4>") == 1 and "<h4>Governing Law" in only_law
    strict = page(client, reported, min_score="0.8")
    assert strict.count('class="passage"') <= everything.count('class="passage"')
    # Values outside the offered choices fall back to the defaults instead of failing.
    assert "<h4>" in page(client, reported, category="<b>nope</b>", min_score="lots")


def test_key_term_kind_filter(login, owner, reported):
    html = page(login(owner), reported, kind="percentage")
    assert "<td>Percentage</td>" in html and "<td>Duration</td>" not in html
    assert "<td>Duration</td>" in page(login(owner), reported)


def test_a_report_without_a_first_pass_says_so(login, owner, workspace):
    document = factories.make_document(workspace)
    Report.objects.create(document=document, kind="contract", title="Facts", facts=[])
    assert "made before the first pass existed" in page(login(owner), document)


def test_outsider_cannot_see_the_first_pass(login, reported):
    stranger = factories.make_user("mallory")
    response = login(stranger).get(reverse("reports:detail", args=[reported.id]))
    assert response.status_code == 404


def test_the_same_place_is_shown_once_per_category(login, owner, workspace):
    text = "Intro. Neither party may assign this Agreement. Other words follow here."
    stored = {"format": 1, "clauses": [
        {"category": "Anti-Assignment", "start": 7, "end": 47, "pages": [1], "score": 0.9},
        {"category": "Anti-Assignment", "start": 0, "end": 47, "pages": [1], "score": 0.8},  # same words, larger
        {"category": "Anti-Assignment", "start": 48, "end": 72, "pages": [1], "score": 0.7},  # another place
        {"category": "Change Of Control", "start": 7, "end": 47, "pages": [1], "score": 0.6},  # another category
    ], "key_terms": [], "sections": [], "defined_terms": [], "cross_references": [], "parties": None, "signatures": []}
    document = factories.make_document(workspace, content=text.encode(), text=text)
    Report.objects.create(document=document, kind="contract", title="Facts", facts=[], first_pass=stored)
    html = page(login(owner), document, min_score="0.5")
    assert html.count('class="passage"') == 3
    assert html.count("<mark>Neither party may assign this Agreement.</mark>") == 2
    assert "<mark>Intro. Neither party" not in html
