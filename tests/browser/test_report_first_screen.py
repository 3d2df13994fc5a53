"""A report's first screen, at 1280x900, is what a reader came for: the document's name and what read it, then the
findings by risk when a model has reviewed it, or the first pass's clauses and key terms when none has; the
ingestion facts wait, closed, at the end. Screenshots of both go to var/test-artifacts/issue24/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import factories
from tests.browser.test_upload_page import _log_in
from webapp.documents.models import Document
from webapp.pipeline.ingest import document_ingest
from webapp.pipeline.reading import report_generate
from webapp.reports.models import Analysis, Anchor, Finding

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "var" / "test-artifacts" / "issue24"
CONTRACT = "contracts_cuad/ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.PDF"
VIEWPORT_HEIGHT = 900  # tests/browser/conftest.py's page


def _contract(workspace, corpus) -> Document:
    document = factories.make_document_from_file(workspace, corpus / CONTRACT, "pdf")
    document_ingest(document_id=document.id)
    report_generate(document_id=document.id)  # no engine configured here: the first pass only
    return Document.objects.get(pk=document.pk)


def _analyse(document: Document) -> Analysis:
    """A finished review with one finding at each of three risk levels, stored in playbook order (low first)."""
    analysis = Analysis.objects.create(document=document, playbook={"name": "contract"}, playbook_name="contract",
                                       playbook_title="Contract review", playbook_version=1, engine="openai",
                                       model_id="a-real-model", status="ready", progress=100, windows=1)
    text = document.text
    for n, (item, risk, needle) in enumerate([("governing_law", "low", "laws of"), ("termination", "high", "terminat"),
                                               ("parties", "none", "between")]):
        start = text.find(needle)
        assert start >= 0, needle
        finding = Finding.objects.create(analysis=analysis, position=n, item=item, category=item.replace("_", " ").title(),
                                         present=True, answer=f"The contract addresses {item.replace('_', ' ')}.", risk=risk,
                                         risk_note="A note on the risk." if risk != "none" else "")
        Anchor.objects.create(finding=finding, position=0, quote=text[start:start + 80], verified=True, start=start,
                              end=start + 80, pages=[1], exact=True, score=1.0)
    return analysis


def _side_headings(page) -> list[str]:
    return [" ".join(h.split()) for h in page.locator(".side-pane h2").all_inner_texts()]


def _top(page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box["y"]


def _facts_are_folded_away(page, document: Document) -> None:
    assert page.locator("h1").inner_text() == document.original_name
    assert "Ingestion facts" not in page.locator("h1").inner_text()
    facts = page.locator("details.ingestion-facts")
    assert facts.count() == 1 and facts.get_attribute("open") is None  # closed until the reader opens it
    assert facts.locator("summary").inner_text() == "Ingestion facts"
    assert not facts.locator("dl.facts").is_visible()
    assert page.locator("dl.facts dt", has_text="Estimated tokens").count() == 1  # the facts are still in the page
    assert _top(page, "details.ingestion-facts") > VIEWPORT_HEIGHT  # below the first screen


def test_first_screen_shows_the_first_pass_then_the_findings_by_risk(page, live_server, corpus):
    SHOTS.mkdir(parents=True, exist_ok=True)
    owner = factories.make_user("fiona")
    workspace = factories.make_workspace(owner, name="Contracts")
    document = _contract(workspace, corpus)
    _log_in(page, live_server, owner)
    url = f"{live_server.url}/d/{document.id}/report/"

    # No model has read it: the heading says so, and the first pass comes first.
    page.goto(url)
    page.wait_for_load_state("networkidle")  # the page images, for the screenshot
    page.screenshot(path=str(SHOTS / "report-first-screen-no-model-after.png"), full_page=False)
    subtitle = " ".join(page.locator(".doc-subtitle").inner_text().split())
    assert subtitle == f"Contract · {document.page_count} pages · first pass only: no language model has read it yet"
    assert page.locator(".notice", has_text="No language model has read this document yet").is_visible()
    headings = _side_headings(page)
    assert headings[0].startswith("First pass") and headings.index("Model analysis") > 0
    assert _top(page, "#first-pass-title") < _top(page, "#analyses-title")
    assert _top(page, "#first-pass dl.facts") < VIEWPORT_HEIGHT  # the parties are on the first screen
    assert "TELCOSTAR PTE, LTD." in page.locator("#first-pass dl.facts").inner_text()
    _facts_are_folded_away(page, document)
    page.locator("details.ingestion-facts summary").click()
    assert page.locator("details.ingestion-facts dl.facts").is_visible()

    # A model has reviewed it: its findings come first, riskiest on top, opened by their count per risk.
    analysis = _analyse(document)
    high = Finding.objects.get(analysis=analysis, risk="high")
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "report-first-screen-analysis-after.png"), full_page=False)
    subtitle = " ".join(page.locator(".doc-subtitle").inner_text().split())
    assert subtitle == f"Contract · {document.page_count} pages · reviewed by a-real-model with Contract review"
    assert page.locator(".notice", has_text="No language model has read").count() == 0
    headings = _side_headings(page)
    assert headings[0] == "Findings by risk" and headings.index("Model analysis") > 0
    counts = {level: page.locator(f'.risk-summary a[data-risk="{level}"] strong').inner_text()
              for level in ("high", "medium", "low", "none")}
    assert counts == {"high": "1", "medium": "0", "low": "1", "none": "1"}
    first = page.locator("li.finding").first
    assert first.get_attribute("id") == f"finding-{high.pk}" and "risk-high" in first.get_attribute("class")
    assert page.evaluate("window.scrollY") == 0
    box = first.locator("h4").bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= VIEWPORT_HEIGHT  # seen without scrolling
    assert first.locator(".answer").is_visible()
    # The runs and the first pass are still there, below the findings.
    assert _top(page, "li.finding:last-child") < _top(page, "#analyses-title") < _top(page, "#first-pass-title")
    assert page.locator("#analyses tr.analysis-run.shown").count() == 1
    _facts_are_folded_away(page, document)

    # Each count applies the page's risk filter.
    page.locator('.risk-summary a[data-risk="high"]').click()
    page.wait_for_url(re.compile(r"risk=high"))
    assert page.locator("li.finding").count() == 1 and page.locator(f"#finding-{high.pk}").count() == 1
    assert page.locator('.risk-summary a[data-risk="high"]').get_attribute("aria-current") == "true"
