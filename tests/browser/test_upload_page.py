"""What a person sees: log in, drop files on a workspace, watch them upload and become ready live."""

from __future__ import annotations

import base64
import re

import pytest

from tests import factories
from tests.browser.conftest import wait_until
from webapp.documents.models import Document, DocumentStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTRACT = "CcRealEstateIncomeFundadv_20181205_POS 8C_EX-99.(H)(3)_11447739_EX-99.(H)(3)_Marketing Agreement.pdf"


def _log_in(page, live_server, user):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_files_chosen_and_dropped_upload_with_progress_and_turn_ready_without_reload(
    page, live_server, corpus, celery_worker_process, tmp_path
):
    owner = factories.make_user("dana")
    workspace = factories.make_workspace(owner, name="Browser team")
    _log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/w/{workspace.id}/")
    page.evaluate("window.__quireLoaded = true")  # gone if the page reloads

    # Slow the upload down so the per-file progress bar is seen moving, not just finished.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 200 * 1024},
    )
    contract = corpus / "contracts_cuad" / CONTRACT
    page.set_input_files("#upload-input", [str(contract)])
    seen = page.evaluate(
        """async () => {
            const values = new Set();
            for (let i = 0; i < 200; i++) {
                const bar = document.querySelector('#upload-list progress');
                if (bar) values.add(bar.value);
                if (bar && bar.value >= 100) break;
                await new Promise(r => setTimeout(r, 25));
            }
            return [...values];
        }"""
    )
    assert any(0 < v < 100 for v in seen), f"no intermediate progress seen: {seen}"
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    # Drag and drop: a text file and a PNG pretending to be a PDF.
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
    page.evaluate(
        """([png]) => {
            const dt = new DataTransfer();
            dt.items.add(new File(["Supply agreement. The Supplier shall deliver goods.\\n"], "supply.txt", {type: "text/plain"}));
            const bytes = Uint8Array.from(atob(png), c => c.charCodeAt(0));
            dt.items.add(new File([bytes], "photo.pdf", {type: "application/pdf"}));
            const zone = document.getElementById('dropzone');
            zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""",
        [png],
    )
    items = page.locator("#upload-list li")
    wait_until(page, "() => document.querySelectorAll('#upload-list li .upload-note').length === 3 && "
                     "[...document.querySelectorAll('#upload-list li')].every(li => /stored|rejected|duplicate/.test(li.className))")
    notes = {items.nth(i).locator(".upload-name").inner_text(): items.nth(i).locator(".upload-note").inner_text() for i in range(3)}
    assert any("PNG" in note for name, note in notes.items() if name.startswith("photo.pdf"))
    assert sum("analysis is queued" in note for note in notes.values()) == 2

    # Both stored documents appear in the list and become Ready by live polling, with no reload.
    for document in Document.objects.filter(workspace=workspace):
        badge = page.locator(f'tr[data-doc-id="{document.id}"] [data-field=status_label]')
        badge.wait_for()
        wait_until(
            page,
            "id => document.querySelector(`tr[data-doc-id=\"${id}\"] [data-field=status_label]`).textContent === 'Ready'",
            arg=str(document.id),
            timeout=90,
        )
    assert page.evaluate("window.__quireLoaded") is True
    pages_cell = page.locator(f'tr[data-doc-id="{Document.objects.get(kind="pdf").id}"] [data-field=page_count]')
    assert re.fullmatch(r"\d+", pages_cell.inner_text())
    assert Document.objects.filter(workspace=workspace).count() == 2
    page.screenshot(path=str(tmp_path / "workspace.png"), full_page=True)


def test_protected_pdf_asks_for_its_password_on_the_page_then_reads(page, live_server, corpus, celery_worker_process):
    owner = factories.make_user("fay")
    workspace = factories.make_workspace(owner, name="Locked files")
    _log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/w/{workspace.id}/")
    page.set_input_files("#upload-input", [str(corpus / "pdfs" / "password-example.pdf")])
    row = page.locator("#documents tbody tr[data-doc-id]")
    row.wait_for()
    row.locator("a.doc-name").click()
    # The page notices by itself that the worker needs a password, and shows the form.
    password = page.locator("input[name=password]")
    password.wait_for(timeout=60_000)
    assert "password" in page.locator("#doc-state .error").inner_text().lower()

    password.fill("wrong")
    page.click(".password-form button[type=submit]")
    wait_until(
        page,
        "() => document.querySelector('#doc-state .error') && /not correct/.test(document.querySelector('#doc-state .error').textContent)",
        timeout=60,
    )
    page.fill("input[name=password]", "test")
    page.click(".password-form button[type=submit]")
    wait_until(page, "() => document.querySelector('#doc-state [data-field=status_label]').textContent === 'Ready'", timeout=60)
    # Once ready, the page reloads itself to offer the report.
    page.locator("a:has-text('Open report')").wait_for(timeout=20_000)


def test_a_document_that_finishes_between_render_and_first_poll_still_reloads_the_page(page, live_server):
    """The race behind an old flake: the worker finished after the server drew the page but before the page's
    first status poll; the page must still reload (it was drawn as pending), not take the finished state as the
    one it started from."""
    owner = factories.make_user("gil")
    workspace = factories.make_workspace(owner, name="Race")
    document = factories.make_document(workspace, content=b"%PDF-1.4 locked", status=DocumentStatus.QUEUED)
    _log_in(page, live_server, owner)
    finished = []

    def finish_then_answer(route):
        if not finished:
            Document.objects.filter(pk=document.pk).update(
                status=DocumentStatus.PASSWORD_NEEDED, stage="Password needed", error_message="This PDF needs its password.")
            finished.append(True)
        route.continue_()

    page.route("**/status.json", finish_then_answer)
    page.goto(f"{live_server.url}/d/{document.id}/")
    page.locator("input[name=password]").wait_for(timeout=20_000)
    assert finished
