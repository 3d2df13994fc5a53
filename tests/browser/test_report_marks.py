"""The document pane marks the quotes of every finding, not only of the 50 on the shown findings page: in a real
browser, a click on a passage whose finding is on this page selects it, and a click on one whose finding is on
another page goes to that page and selects it there."""

from __future__ import annotations

import re

import pytest

from tests import factories
from tests.browser.test_upload_page import _log_in
from webapp.documents.models import Document, DocumentPage, DocumentStatus
from webapp.pipeline.ingest import document_ingest
from webapp.reports.models import Analysis, Anchor, Finding
from webapp.pipeline.reading import report_generate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FINDINGS = 60  # two findings pages


def _analysed(workspace) -> Document:
    body = "\n".join(f"Clause {n}. The supplier shall deliver batch number {n} within {n + 1} days of the order."
                     for n in range(FINDINGS))
    document = factories.make_document(workspace, content=body.encode(), status=DocumentStatus.QUEUED)
    document_ingest(document_id=document.id)
    report_generate(document_id=document.id)  # no engine configured here: the report, and no analysis queued
    document = Document.objects.get(pk=document.pk)
    pages = list(DocumentPage.objects.filter(document=document).values_list("number", "start", "end"))
    analysis = Analysis.objects.create(document=document, playbook={"name": "contract"}, playbook_name="contract",
                                       playbook_title="Contract review", playbook_version=1, engine="openai",
                                       model_id="marks-test", status="ready", progress=100, windows=1)
    for n, match in enumerate(re.finditer(r"The supplier shall deliver batch number (\d+)[^.]*\.", document.text)):
        finding = Finding.objects.create(analysis=analysis, position=n, item=f"item_{n}", category=f"Delivery {n:02d}",
                                         present=True, answer=f"Batch {match.group(1)}.", risk="none")
        page = next(p for p, start, end in pages if start <= match.start() < end)
        Anchor.objects.create(finding=finding, position=0, quote=match.group(0), verified=True, start=match.start(),
                              end=match.end(), pages=[page], exact=True, score=1.0)
    return document


def test_a_marked_passage_finds_its_finding_on_this_or_another_findings_page(page, live_server):
    owner = factories.make_user("mara")
    workspace = factories.make_workspace(owner, name="Marks")
    document = _analysed(workspace)
    near = Finding.objects.get(item="item_3")
    far = Finding.objects.get(item=f"item_{FINDINGS - 2}")
    _log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/d/{document.id}/report/")
    assert page.locator("li.finding").count() == 50

    page.locator(f'.doc-pane mark[data-findings~="finding-{near.pk}"]').first.click()
    page.wait_for_function("id => document.getElementById(id).classList.contains('selected')", arg=f"finding-{near.pk}")
    assert "fpage" not in page.url

    far_mark = page.locator(f'.doc-pane mark[data-findings~="finding-{far.pk}"]').first
    assert far_mark.get_attribute("data-findings-pages") == "2"
    assert page.locator(f"#finding-{far.pk}").count() == 0  # not on this findings page
    far_mark.click()
    page.wait_for_url(re.compile(r"fpage=2"))
    page.wait_for_function("id => { const f = document.getElementById(id); return !!f && f.classList.contains('selected'); }",
                           arg=f"finding-{far.pk}")
    assert page.locator("li.finding").count() == FINDINGS - 50
