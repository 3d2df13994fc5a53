"""The workspace table in real headless Chromium over 20 of CUAD's checking contracts: filter by a cell's value, sort,
open a cell's passage in the report, run a playbook on selected documents through a real worker and watch the batch's
bar finish, and mark a finding verified in the table. Screenshots go to var/test-artifacts/issue25/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests import factories
from tests.browser.conftest import wait_until
from tests.browser.test_report_flow import engine_stack  # noqa: F401  (the scripted engine and its worker)
from tests.browser.test_upload_page import _log_in
from webapp.documents.models import Document
from webapp.pipeline.ingest import document_ingest
from webapp.pipeline.reading import report_generate
from webapp.reports.models import Analysis, Finding
from webapp.tables.models import BatchRun

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "var" / "test-artifacts" / "issue25"
CONTRACTS = 20


@pytest.fixture
def stocked(corpus, settings, monkeypatch):
    """A workspace holding the first 20 checking contracts (CUAD's text), read with no model: first-pass cells,
    from the feature model alone (QUIRE_CLAUSE_FINDER=features): the page is tested here, and the encoder would
    spend about 100 s re-reading twenty contracts (tests/analysis/test_clause_encoder.py tests the finders)."""
    settings.QUIRE_ENGINE = "none"
    monkeypatch.setenv("QUIRE_CLAUSE_FINDER", "features")
    owner = factories.make_user("tess")
    workspace = factories.make_workspace(owner, name="Due diligence")
    for path in sorted((corpus / "contracts_cuad").glob("*.txt"))[:CONTRACTS]:
        document = factories.make_document_from_file(workspace, path, "text")
        document_ingest(document_id=document.id)
        report_generate(document_id=document.id)
    assert Document.objects.filter(workspace=workspace, status="ready").count() == CONTRACTS
    return owner, workspace


def _rows(page) -> list[str]:
    return page.eval_on_selector_all("#workspace-table tbody tr[data-doc-id] th.doc-col a",
                                     "links => links.map(a => a.textContent.trim())")


def test_filter_sort_open_run_a_batch_and_review_in_the_table(page, live_server, stocked, engine_stack):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    owner, workspace = stocked
    _log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/w/{workspace.id}/")
    page.click("text=Table")
    page.wait_for_selector("#workspace-table")
    assert len(_rows(page)) == CONTRACTS
    page.screenshot(path=str(SHOTS / "table.png"), full_page=False)

    # A filter on a cell's value: governing law contains California.
    page.select_option("select[name=f0_col]", "governing_law")
    page.select_option("select[name=f0_op]", "contains")
    page.fill("input[name=f0_val]", "California")
    page.click("#table-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*f0_val=California.*"))
    kept = _rows(page)
    assert 1 <= len(kept) < CONTRACTS
    column = page.eval_on_selector_all("#workspace-table thead th", "ths => ths.map(t => t.dataset.column)")
    law = column.index("governing_law")
    cells = page.eval_on_selector_all("#workspace-table tbody tr[data-doc-id]",
                                      f"rows => rows.map(r => r.children[{law}].textContent)")
    assert all("california" in text.lower() for text in cells), cells
    page.screenshot(path=str(SHOTS / "table-filtered.png"), full_page=False)

    # Sort by the document column, then the other way.
    page.click("text=Clear")
    page.click("#workspace-table thead a.sort >> text=Document")
    assert _rows(page) == sorted(_rows(page))
    page.click("#workspace-table thead a.sort >> text=Document")
    assert _rows(page) == sorted(_rows(page), reverse=True)

    # A cell opens the report at the page of its passage.
    cell = page.locator(f"#workspace-table tbody tr[data-doc-id] td:nth-child({law + 1}) a.to-cell").first
    href = cell.get_attribute("href")
    number = re.search(r"#page-(\d+)$", href).group(1)
    cell.click()
    page.wait_for_url(re.compile(r".*/report/.*"))
    wait_until(page, "n => { const p = document.getElementById('page-' + n); return !!p && p.getBoundingClientRect().height > 0; }",
               number)

    # A batch run on three selected documents, through the real worker and the scripted engine.
    page.goto(f"{live_server.url}/w/{workspace.id}/table/?sort=name")
    boxes = page.locator("#workspace-table tbody input[name=document]")
    for n in range(3):
        boxes.nth(n).check()
    page.click("button[value=selected]")
    page.wait_for_selector(".batch-list .batch")
    # The page's "queued for 3 documents" message can be gone already: a fast batch reloads the page when done.
    assert BatchRun.objects.get(workspace=workspace).analyses.count() == 3
    seen, state = set(), None
    for _ in range(600):
        try:
            state = page.evaluate("""() => { const b = document.querySelector('.batch-list .batch');
                const p = b && b.querySelector('progress'); return b ? [b.querySelector('.stage').textContent,
                p ? p.value : null] : null; }""")
        except PlaywrightError:  # the page reloads itself when the batch is done
            continue
        if state:
            seen.add(state[0])
        if state and "3 ready of 3" in state[0]:
            break
        page.wait_for_timeout(200)
    assert state and "3 ready of 3" in state[0], (seen, engine_stack.log()[-3000:])
    page.screenshot(path=str(SHOTS / "table-batch-done.png"), full_page=False)
    assert Analysis.objects.filter(document__workspace=workspace, status="ready").count() == 3

    # The analysed rows now show the model's cells; mark one verified from the table.
    page.goto(f"{live_server.url}/w/{workspace.id}/table/?sort=name")
    button = page.locator("#workspace-table .cell-finding .cell-review-open").first
    finding_url = button.get_attribute("data-url")
    button.click()
    page.select_option("#cell-review select[name=state]", "reviewed")
    page.click("#cell-review button:not(.secondary)[type=submit]")
    page.wait_for_selector("#workspace-table .badge.state-reviewed")
    finding = Finding.objects.get(pk=int(re.search(r"/cells/(\d+)/", finding_url).group(1)))
    assert finding.review_state == "reviewed" and finding.reviewed_by == owner
    page.screenshot(path=str(SHOTS / "table-reviewed.png"), full_page=False)
